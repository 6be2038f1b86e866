// sep pretrain: contrastive pretraining of a small CLIP on the demo data (the built-in model).
#include "app/cli/common.h"

#include "engine/core/error.h"
#include "engine/pretrain/pretrain.h"

#include <iostream>

namespace sep::cli {

void addPretrainCommand(CLI::App &app)
{
    auto *cmd = app.add_subcommand("pretrain", "Pretrain a small CLIP from scratch on image-text pairs (the built-in model)");
    auto values = std::make_shared<std::map<std::string, std::string>>();
    auto resume = std::make_shared<bool>(false);
    auto json = std::make_shared<bool>(false);
    addOptionFlags(*cmd, pretrain::PretrainOptions::table().specs(), *values, "Pretraining options");
    cmd->add_flag("--resume", *resume, "Continue the pretraining in --out after its last epoch");
    cmd->add_flag("--json", *json, "Machine-readable output");
    cmd->callback([values, resume, json] {
        nlohmann::json given = nlohmann::json::object();
        const auto &table = pretrain::PretrainOptions::table();
        for (const auto &[key, text] : *values)
            if (!text.empty())
                given[key] = parseOptionValue(table.find(key)->spec, text);
        const auto options = table.fromJson(given, "pretrain options");
        if (options.out.empty())
            throw Error("--out is needed: the folder to write the model into");
        const auto result = pretrain::pretrain(options, *resume, terminalHooks(*json));
        nlohmann::json j = {{"out", options.out},       {"epochs", result.epochs},
                            {"steps", result.steps},    {"pairs", result.images},
                            {"final_loss", result.finalLoss}, {"zero_shot_100", result.zeroShotAccuracy},
                            {"seconds", result.seconds}};
        if (*json)
            printJson(j);
        else
            std::cout << "pretrained " << options.out << " in " << static_cast<int64_t>(result.seconds) << " s: final loss "
                      << result.finalLoss << (result.zeroShotAccuracy >= 0 ? ", zero-shot (100 classes) " + percent(result.zeroShotAccuracy) : "")
                      << "\n";
    });
}

} // namespace sep::cli
