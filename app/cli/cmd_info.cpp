// sep info: what a weights file holds (format, architecture, parameter count, vocabulary found).
#include "app/cli/common.h"

#include <iostream>

namespace sep::cli {

void addInfoCommand(CLI::App &app)
{
    auto *cmd = app.add_subcommand("info", "Describe a CLIP weights file: format, architecture, parameters");
    auto opts = std::make_shared<ModelOptions>();
    auto json = std::make_shared<bool>(false);
    opts->addTo(*cmd);
    cmd->add_flag("--json", *json, "Machine-readable output");
    cmd->callback([opts, json] {
        const auto clip = opts->load(true);
        const auto &c = clip.config();
        if (*json) {
            nlohmann::json j;
            j["weights"] = clip.weightsPath;
            j["format"] = clip.format;
            j["vocabulary"] = clip.vocabPath;
            j["notes"] = clip.notes;
            j["parameters"] = {{"image", c.visionParameterCount()}, {"text", c.textParameterCount()},
                               {"total", c.parameterCount()}};
            j["vision"] = {{"width", c.vision.width}, {"layers", c.vision.layers}, {"heads", c.vision.heads},
                           {"mlp_width", c.vision.mlpWidth}, {"patch_size", c.vision.patchSize},
                           {"image_size", c.vision.imageSize}};
            j["text"] = {{"width", c.text.width}, {"layers", c.text.layers}, {"heads", c.text.heads},
                         {"mlp_width", c.text.mlpWidth}, {"context_length", c.text.contextLength},
                         {"vocab_size", c.text.vocabSize}};
            j["embed_dim"] = c.embedDim;
            j["logit_scale"] = clip.model->logitScale();
            printJson(j);
            return;
        }
        std::cout << clip.weightsPath << "\n"
                  << "  format:       " << clip.format << "\n"
                  << "  architecture: " << c.describe() << "\n"
                  << "  parameters:   " << c.parameterCount() << " (image " << c.visionParameterCount() << ", text "
                  << c.textParameterCount() << ")\n"
                  << "  logit scale:  " << clip.model->logitScale() << "\n"
                  << "  vocabulary:   " << clip.vocabPath << "\n";
        for (const auto &note : clip.notes)
            std::cout << "  note:         " << note << "\n";
    });
}

} // namespace sep::cli
