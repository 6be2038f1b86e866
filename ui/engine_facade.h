#pragma once
// The desktop application's only door into the engine: plain structs and JSON, no LibTorch in sight,
// so the UI's headers and most of its sources compile without torch's cost and without Qt's
// keywords meeting torch's names. engine_facade.cpp is the one file that includes the engine's
// torch headers.
//
//   auto model = sep::ui::facade::inspectModel("ViT-B-16.pt");          // worker thread: reads weights
//   model.architecture;  model.parameters;
//   for (const auto &g : sep::ui::facade::optionGroups("sep")) … g.specs …   // the advanced page
//   nlohmann::json spec = sep::ui::facade::defaultSpec();  spec["method"] = "coop";
//   sep::ui::facade::checkSpec(spec);                                     // sep::Error names the key
//
// Every function that reads files or runs the model is meant for a worker thread (jobs.h); the
// option tables, presets and estimates are cheap and may be called anywhere. All functions throw
// sep::Error with a message for a person.

#include "engine/core/hooks.h"
#include "engine/core/options.h"
#include "projects/project_store.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sep::ui::facade {

// What the new-project wizard shows about a weights file before going on.
struct ModelSummary {
    std::string weights, vocab, config;   // vocab/config: found beside the weights ("" when none)
    std::string format;                   // e.g. "safetensors (OpenAI names)"
    std::string architecture;             // clip::Config::describe()
    int64_t parameters = 0;
    int64_t imageSize = 0, gridSize = 0, visionLayers = 0;
    double visionFlops = 0;               // per image, one forward
    double textFlops = 0;                 // per 77-token sequence (or the model's context)
    std::vector<std::string> notes;
};

// Reads the weights (any supported format) and finds their vocabulary; sep::Error names the file and
// what is wrong (not weights, no vocabulary beside them, …). Worker thread.
ModelSummary inspectModel(const std::string &weights, const std::string &vocab = {});

// ---- methods and their options (one source of truth: the engine's OptionTables)
struct OptionGroup {
    std::string key;                  // where the values live in a run spec: "method_options" or "train"
    std::string title;                // "SEP options", "Training"
    std::vector<OptionSpec> specs;
};

std::vector<std::string> methods();                    // the registry's: "zeroshot", "coop", …
std::string methodTitle(const std::string &method);    // "Zero-shot CLIP", "CoOp", "SEP"
std::string methodDescription(const std::string &method);
bool methodTrains(const std::string &method);
std::vector<OptionGroup> optionGroups(const std::string &method);

// Recipe presets: a name and the spec keys it sets ({"train": {"epochs": 50, …}, "shots": 16}).
struct Preset {
    std::string name, description;
    nlohmann::json patch;
};
std::vector<Preset> presets(const std::string &method);

// What a person must know before starting a run of `spec`, from the engine's own plan (the data
// folder's names are scanned, no model is loaded): a test set without images (the run would finish
// with no evaluation), classes with fewer images than shots. Empty when all is well; sep::Error when
// the spec or the folder cannot be read.
std::vector<std::string> planWarnings(const nlohmann::json &spec);

// A run spec (train::RunSpec::toJson) with the engine's defaults.
nlohmann::json defaultSpec();
// Validates a spec as trainRun would read it and returns it normalised (every option filled in).
nlohmann::json checkSpec(const nlohmann::json &spec);
// Writes `value` for `key` into a group of a spec, checking it against the table (sep::Error when the
// value does not fit); returns the normalised group.
nlohmann::json setOption(const std::string &method, const std::string &groupKey, const nlohmann::json &group,
                         const std::string &key, const nlohmann::json &value);

// "cpu", plus "cuda" when LibTorch sees a GPU.
std::vector<std::string> devices();

// A rough time for a run on this machine (seconds), from the model's FLOPs and the measured speed
// of these CPUs; the review page shows it as an estimate.
double estimateSeconds(const nlohmann::json &spec, const ModelSummary &model, int64_t trainImages, int64_t testImages);

// ---- training in a project (worker thread)
struct TrainRequest {
    std::string project;                   // the .sepproj file
    nlohmann::json spec;                   // a new run (ignored when resumeRun is set)
    int64_t resumeRun = 0;                 // > 0: resume this run after its last checkpoint
    std::string device;                    // resume: "" keeps the recorded one
};

struct TrainOutcome {
    int64_t runId = 0;
    std::string status;                    // finished, cancelled, failed
    std::string message;
};

// Opens the project for writing, creates (or resumes) the run and trains it, recording as it goes.
// `onRun` is called once the run's id is known; `onEpochs` with the epoch rows recorded so far each
// time the database gained one (at most every half second, and once at the end). A cancel (through
// hooks.cancel) ends with status "cancelled"; engine errors end with "failed" and the message.
TrainOutcome trainInProject(const TrainRequest &request, const Hooks &hooks, const std::function<void(int64_t)> &onRun,
                            const std::function<void(const std::vector<projects::EpochRow> &)> &onEpochs);

// Creates a project (refuses an existing file) and imports the dataset into it, with the class names
// given to it (folder → name; ProjectStore::setClassNames) kept in the project.
projects::ScanReport createProject(const std::string &projectPath, const std::string &dataRoot, const Hooks &hooks,
                                   const std::map<std::string, std::string> &classNames = {});

// Writes the exported bundle (engine/export/run_export.h) of a finished run of the project and records
// the export there; returns what was written.
struct ExportRequest {
    std::string project;
    int64_t runId = 0;
    std::string out;
    bool includeBackbone = false, zip = false;
    bool trainedClassesOnly = false;   // default: every class of the run's data, new classes too
    std::string extraClassesFile;      // class names (one per line) to add, "" for none
};
struct ExportOutcome {
    std::string path, method;
    int64_t classes = 0;
    int64_t added = 0;                 // classes the run was not tuned on
    bool backboneIncluded = false;
    std::string weightsNeeded;         // the weights `sep predict` must be given (--weights), "" when found alone
};
ExportOutcome exportRun(const ExportRequest &request, const Hooks &hooks);

} // namespace sep::ui::facade
