// sep demo: the whole SEP story (zero-shot, CoOp, SEP; base-to-new and cross-style) on the built-in
// model and the demo data.
#include "app/cli/common.h"

#include "engine/core/error.h"
#include "engine/demo/demo.h"

#include <iostream>

namespace sep::cli {

void addDemoCommand(CLI::App &app)
{
    auto *cmd = app.add_subcommand("demo", "Tune zero-shot CLIP, CoOp and SEP on the demo data with the built-in model and print the table");
    auto values = std::make_shared<std::map<std::string, std::string>>();
    auto json = std::make_shared<bool>(false);
    addOptionFlags(*cmd, demo::DemoOptions::table().specs(), *values, "Demo options");
    cmd->add_flag("--json", *json, "Machine-readable output");
    cmd->callback([values, json] {
        nlohmann::json given = nlohmann::json::object();
        const auto &table = demo::DemoOptions::table();
        for (const auto &[key, text] : *values)
            if (!text.empty())
                given[key] = parseOptionValue(table.find(key)->spec, text);
        const auto options = table.fromJson(given, "demo options");
        const auto result = demo::runDemo(options, terminalHooks(*json));
        if (*json) {
            printJson(result.toJson());
            return;
        }
        std::cout << result.table() << "\nfinished in " << static_cast<int64_t>(result.seconds) << " s; runs, data views and this table are in "
                  << options.out << " (`sep eval --run` re-evaluates any run)\n";
    });
}

} // namespace sep::cli
