// sep demo: the whole SEP story (zero-shot, CoOp, SEP; base-to-new and cross-style) on the built-in
// model and the demo data, recorded in a project (OUT/demo.sepproj) that SEP Studio opens.
#include "app/cli/common.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/demo/demo.h"
#include "engine/train/run.h"
#include "projects/project_store.h"
#include "projects/run_recorder.h"

#include <filesystem>
#include <iostream>

namespace sep::cli {
namespace {

// Trains each demo run as a run of the project; a finished run with the same spec is reused.
demo::RunTrainer projectTrainer(projects::ProjectStore &store)
{
    return [&store](const train::RunSpec &spec, const std::string &name, const Hooks &hooks) {
        const auto wanted = spec.toJson();
        for (const auto &r : store.runs()) {
            train::RunSummary summary;
            if (r.status == "finished" && r.spec == wanted && demo::readFinishedSummary(store.runFolder(r.id), summary)) {
                hooks.info(name + ": already done, reusing run " + std::to_string(r.id) + " of " + store.path());
                return summary;
            }
        }
        auto datasetId = store.findDataset(spec.data);
        if (!datasetId)
            datasetId = store.importDataset(spec.data, {}, hooks).datasetId;
        const int64_t id = store.createRun(spec, datasetId);
        return projects::runRecorded(store, id, spec, hooks);
    };
}

} // namespace

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
        const Hooks hooks = terminalHooks(*json);

        if (!options.data.empty())
            requireOutputOutside(options.out, options.data, "--out");
        std::filesystem::create_directories(options.out);
        const std::string projectPath = options.out + "/demo.sepproj";
        std::error_code ec;
        projects::OpenOptions open;
        open.purpose = "sep demo";
        auto store = std::filesystem::exists(projectPath, ec) ? projects::ProjectStore::open(projectPath, open)
                                                               : projects::ProjectStore::create(projectPath, open);
        const auto result = demo::runDemo(options, hooks, projectTrainer(store));
        if (*json) {
            auto j = result.toJson();
            j["project"] = store.path();
            printJson(j);
            return;
        }
        std::cout << result.table() << "\nfinished in " << static_cast<int64_t>(result.seconds) << " s. The runs are in the project "
                  << store.path() << ": open it in SEP Studio (build/app/gui/sep-studio " << store.path()
                  << ") or list them with `sep project runs " << store.path() << "`.\n";
    });
}

} // namespace sep::cli
