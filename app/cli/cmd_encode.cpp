// sep encode: image and text features of a CLIP model, written to a safetensors file.
#include "app/cli/common.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/data/batch.h"
#include "engine/data/image_folder.h"
#include "engine/io/safetensors.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace sep::cli {
namespace fs = std::filesystem;
namespace {

struct EncodeOptions {
    ModelOptions model;
    std::vector<std::string> images;
    std::string texts;
    std::string out;
    int64_t batch = 32;
    bool truncate = false;
    bool json = false;
};

// Files in the order given; a directory contributes its image files sorted by name.
std::vector<std::string> expandImages(const std::vector<std::string> &inputs, std::vector<data::ScanIssue> &skipped)
{
    std::vector<std::string> out;
    for (const auto &input : inputs) {
        std::error_code ec;
        if (!fs::is_directory(input, ec)) {
            out.push_back(input);   // decoding will report missing or bad files
            continue;
        }
        std::vector<std::string> files;
        for (const auto &e : fs::directory_iterator(input, ec))
            if (e.is_regular_file(ec)) {
                if (data::hasImageExtension(e.path().string()))
                    files.push_back(e.path().string());
                else
                    skipped.push_back({e.path().string(), "not an image file (by its extension)"});
            }
        if (ec)
            throw Error(input + ": cannot list the folder (" + ec.message() + ")");
        std::sort(files.begin(), files.end());
        out.insert(out.end(), files.begin(), files.end());
    }
    return out;
}

std::vector<std::string> readLines(const std::string &path)
{
    std::ifstream in = openRegularFile(path, "texts file (one text per line)");
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        lines.push_back(line);
    }
    return lines;
}

void run(const EncodeOptions &o)
{
    if (o.images.empty() && o.texts.empty())
        throw Error("nothing to encode: give --images and/or --texts");
    auto clip = o.model.load(o.json);
    const auto device = clip.model->logit_scale.device();
    const auto &config = clip.config();
    const Hooks hooks = terminalHooks(o.json);
    torch::NoGradGuard noGrad;
    TensorMap out;
    nlohmann::json encoded = nlohmann::json::array(), skippedJson = nlohmann::json::array();

    if (!o.images.empty()) {
        std::vector<data::ScanIssue> skipped;
        const auto paths = expandImages(o.images, skipped);
        std::vector<at::Tensor> features;
        for (size_t b = 0; b < paths.size(); b += static_cast<size_t>(o.batch)) {
            const std::vector<std::string> chunk(paths.begin() + static_cast<long>(b),
                                                 paths.begin() + static_cast<long>(std::min(paths.size(), b + o.batch)));
            auto batch = data::loadBatch(chunk, config.vision.imageSize);
            skipped.insert(skipped.end(), batch.failures.begin(), batch.failures.end());
            for (size_t k : batch.kept)
                encoded.push_back(chunk[k]);
            if (!batch.kept.empty())
                features.push_back(clip.model->encodeImage(batch.pixels.to(device)).cpu());
            hooks.report({static_cast<int64_t>(std::min(paths.size(), b + o.batch)), static_cast<int64_t>(paths.size()),
                          "encoding images"});
        }
        for (const auto &s : skipped) {
            hooks.warn(s.path + ": " + s.reason + " (skipped)");
            skippedJson.push_back({{"path", s.path}, {"reason", s.reason}});
        }
        out["image_features"] = features.empty() ? torch::zeros({0, config.embedDim}) : torch::cat(features, 0);
    }
    if (!o.texts.empty()) {
        const auto lines = readLines(o.texts);
        auto ids = torch::zeros({static_cast<int64_t>(lines.size()), config.text.contextLength}, torch::kLong);
        for (size_t i = 0; i < lines.size(); ++i) {
            std::vector<int64_t> t;
            try {
                t = clip.tokenizer->encode(lines[i], config.text.contextLength, o.truncate);
            } catch (const Error &e) {
                throw Error(o.texts + ": line " + std::to_string(i + 1) + ": " + e.what());
            }
            std::copy(t.begin(), t.end(), ids[static_cast<int64_t>(i)].data_ptr<int64_t>());
        }
        std::vector<at::Tensor> features;
        for (int64_t b = 0; b < ids.size(0); b += 256)
            features.push_back(clip.model->encodeText(ids.slice(0, b, b + 256).to(device)).cpu());
        out["text_features"] = features.empty() ? torch::zeros({0, config.embedDim}) : torch::cat(features, 0);
        out["text_tokens"] = ids;
    }
    if (out.count("image_features") && out.count("text_features"))
        out["logits_per_image"] = clip.model->logits(out["image_features"], out["text_features"]).cpu();

    io::writeSafetensors(o.out, out,
                         {{"format", "pt"}, {"images", encoded.dump()}, {"skipped", skippedJson.dump()},
                          {"weights", clip.weightsPath}, {"logit_scale", std::to_string(clip.model->logitScale())}});
    if (o.json) {
        nlohmann::json j;
        j["out"] = o.out;
        for (const auto &[name, t] : out)
            j["tensors"][name] = t.sizes().vec();
        j["images"] = encoded;
        j["skipped"] = skippedJson;
        printJson(j);
    } else {
        std::cout << "wrote " << o.out << ":";
        for (const auto &[name, t] : out)
            std::cout << " " << name << " " << t.sizes();
        std::cout << "\n";
        if (!skippedJson.empty())
            std::cout << skippedJson.size() << " file(s) skipped (see the warnings above)\n";
    }
}

} // namespace

void addEncodeCommand(CLI::App &app)
{
    auto *cmd = app.add_subcommand("encode", "Write image and/or text features of a CLIP model to a safetensors file");
    auto o = std::make_shared<EncodeOptions>();
    o->model.addTo(*cmd);
    cmd->add_option("--images", o->images, "Image files or folders (a folder's images sorted by name)");
    cmd->add_option("--texts", o->texts, "A text file, one text per line");
    cmd->add_option("--out", o->out, "Output .safetensors file")->required();
    cmd->add_option("--batch", o->batch, "Images per batch")->capture_default_str()->check(wholeNumberAtLeast(1));
    cmd->add_flag("--truncate", o->truncate, "Cut texts longer than the context instead of failing");
    cmd->add_flag("--json", o->json, "Machine-readable output");
    cmd->callback([o] { run(*o); });
}

} // namespace sep::cli
