#pragma once
// One training run from a folder to a run directory, the unit the CLI, the GUI and the project store
// share. The directory holds everything needed to look at, resume or evaluate the run again:
//
//   run.json        the spec (data, weights, method and all options, shots, seed, …), status, plan
//   log.txt         what was said while it ran
//   metrics.csv     one row per epoch (loss terms, learning rate, train and test accuracy)
//   metrics.json    the same, as JSON
//   checkpoints/last.safetensors   learned tensors + optimizer state after the last finished epoch
//   eval-<set>/     summary.json, confusion.csv, per_class.csv, predictions.csv, selections.jsonl,
//                   classes.json (text-side selections)
//   summary.json    final accuracy per test set (base, new and their harmonic mean, or all)
//
//   sep::train::RunSpec spec;  spec.data = "pets";  spec.weights = "ViT-B-16.pt";  spec.method = "sep";
//   auto summary = sep::train::trainRun(spec, "runs/pets-sep", /*resume=*/false, hooks);

#include "engine/core/hooks.h"
#include "engine/data/few_shot.h"
#include "engine/train/evaluator.h"
#include "engine/train/trainer.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace sep::train {

struct RunSpec {
    std::string data;                 // image folder
    std::string weights, vocab, config;
    std::string device = "auto";
    std::string method = "sep";
    nlohmann::json methodOptions = nlohmann::json::object();
    int64_t shots = 16;
    uint64_t seed = 1;
    bool baseToNew = false;
    TrainOptions train;
    int64_t evalBatch = 100;
    bool selections = true;           // per-image selections in the final evaluation
    bool clsAttention = false;        // and the backbone's [CLS] attention
    // Display names by class folder, over the ones the folder gives (folder name or classnames.txt):
    // a project's names travel with its runs this way, so the data folder is never written to name
    // them. In run.json only when not empty.
    std::map<std::string, std::string> classNames;

    nlohmann::json toJson() const;
    static RunSpec fromJson(const nlohmann::json &j, const std::string &source);
};

struct RunSummary {
    std::map<std::string, double> accuracy;   // per test set: "base", "new" or "all"
    double harmonicMean = 0;                  // base-to-new only
    int64_t epochs = 0;
    double seconds = 0;
    nlohmann::json toJson() const;
};

// What a run reports as it goes, for a store that records runs (the project database). Every call
// happens on the training thread after the matching file in the run directory is written; an
// exception thrown from a callback fails the run. Default implementations ignore everything.
class RunObserver {
public:
    virtual ~RunObserver() = default;
    // The spec, the data plan and the model, once everything is loaded and before the first epoch.
    virtual void started(const RunSpec &spec, const nlohmann::json &plan, const std::string &device) {}
    virtual void epoch(const EpochRecord &record) {}                          // after its checkpoint
    virtual void checkpoint(int64_t epoch, const std::string &path) {}
    // A final evaluation of one test set, with its classes and the method's text-side selections.
    virtual void evaluated(const std::string &set, const std::vector<std::string> &classes, const EvalResult &result,
                           const std::vector<prompt::ClassSelection> &classSelections) {}
    // "finished", "failed" (with the message) or "cancelled".
    virtual void ended(const std::string &status, const std::string &message) {}
};

// Trains (or, for zero-shot, only evaluates) and writes the run directory. An existing run directory
// is refused unless resume is set; resume continues after its last checkpoint with the spec stored in
// it. Status in run.json: running → finished, failed (with the message) or cancelled.
RunSummary trainRun(const RunSpec &spec, const std::string &runDir, bool resume, const Hooks &hooks,
                    RunObserver *observer = nullptr);

// Evaluates a finished (or checkpointed) run again, on its own data or another folder, writing
// eval-<set>/ beside the others unless outDir is given. split: "base", "new", "all" (or "" for the
// run's own test sets).
std::map<std::string, EvalResult> evaluateRun(const std::string &runDir, const std::string &dataOverride,
                                              const std::string &split, int64_t batch, const Hooks &hooks);

RunSpec readRunSpec(const std::string &runDir);

// What a run of `spec` on `dataDir` would train and test on (the scan's issues go to hooks.warn),
// without loading a model: the rule trainRun follows, for front ends to check a run before it starts.
data::RunData planRunData(const RunSpec &spec, const std::string &dataDir, const Hooks &hooks = {});

} // namespace sep::train
