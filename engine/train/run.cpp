#include "engine/train/run.h"

#include "engine/core/error.h"
#include "engine/core/text.h"
#include "engine/core/files.h"
#include "engine/core/log_file.h"
#include "engine/core/runtime.h"
#include "engine/core/sha256.h"
#include "engine/core/version.h"
#include "engine/data/few_shot.h"
#include "engine/io/safetensors.h"
#include "engine/prompt/method.h"
#include "engine/train/report.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace sep::train {
namespace fs = std::filesystem;
namespace {

constexpr int kRunFormat = 1;

nlohmann::json readJson(const std::string &path)
{
    try {
        return nlohmann::json::parse(readFile(path));
    } catch (const nlohmann::json::exception &e) {
        throw Error(path + ": not valid JSON (" + std::string(e.what()) + ")");
    }
}

nlohmann::json recordJson(const EpochRecord &r)
{
    return {{"epoch", r.epoch}, {"lr", r.lr},           {"loss", r.loss}, {"train_accuracy", r.trainAccuracy},
            {"seconds", r.seconds}, {"parts", r.parts}, {"eval", r.eval}};
}

void writeMetrics(const std::string &runDir, const nlohmann::json &history)
{
    writeFileAtomic(runDir + "/metrics.json", history.dump(2) + "\n");
    std::vector<std::string> parts, sets;
    for (const auto &r : history) {
        for (auto it = r["parts"].begin(); it != r["parts"].end(); ++it)
            if (std::find(parts.begin(), parts.end(), it.key()) == parts.end())
                parts.push_back(it.key());
        for (auto it = r["eval"].begin(); it != r["eval"].end(); ++it)
            if (std::find(sets.begin(), sets.end(), it.key()) == sets.end())
                sets.push_back(it.key());
    }
    std::ostringstream csv;
    csv << "epoch,lr,loss,train_accuracy,seconds";
    for (const auto &p : parts)
        csv << "," << p;
    for (const auto &s : sets)
        csv << ",accuracy_" << s;
    csv << "\n";
    for (const auto &r : history) {
        csv << r["epoch"].get<int64_t>() << "," << r["lr"].get<double>() << "," << r["loss"].get<double>() << ","
            << r["train_accuracy"].get<double>() << "," << r["seconds"].get<double>();
        for (const auto &p : parts)
            csv << "," << (r["parts"].contains(p) ? std::to_string(r["parts"][p].get<double>()) : "");
        for (const auto &s : sets)
            csv << "," << (r["eval"].contains(s) ? std::to_string(r["eval"][s].get<double>()) : "");
        csv << "\n";
    }
    writeFileAtomic(runDir + "/metrics.csv", csv.str());
}

class RunFile {
public:
    RunFile(std::string dir, nlohmann::json j) : m_path(dir + "/run.json"), m_json(std::move(j)) {}
    void set(const std::string &key, nlohmann::json value)
    {
        m_json[key] = std::move(value);
        writeFileAtomic(m_path, m_json.dump(2) + "\n");
    }
    nlohmann::json &json() { return m_json; }

private:
    std::string m_path;
    nlohmann::json m_json;
};

struct Prepared {
    data::RunData plan;
    clip::LoadedClip clip;
    std::unique_ptr<prompt::Method> method;
};

} // namespace

data::RunData planRunData(const RunSpec &spec, const std::string &dataDir, const Hooks &hooks)
{
    auto folder = data::ImageFolder::scan(dataDir);
    for (size_t i = 0; i < folder.classFolders.size(); ++i) {
        const auto name = spec.classNames.find(folder.classFolders[i]);
        if (name != spec.classNames.end())
            folder.classNames[i] = name->second;
    }
    for (const auto &issue : folder.issues)
        hooks.warn(issue.path + ": " + issue.reason);
    data::SplitOptions split;
    split.shots = spec.shots;
    split.seed = spec.seed;
    split.baseToNew = spec.baseToNew;
    return data::planRun(folder, split);
}

namespace {

Prepared prepare(const RunSpec &spec, const std::string &dataDir, const Hooks &hooks)
{
    Prepared p;
    p.plan = planRunData(spec, dataDir, hooks);
    for (const auto &note : p.plan.notes)
        hooks.info(note);

    clip::LoadOptions load;
    load.configPath = spec.config;
    load.vocabPath = spec.vocab;
    p.clip = clip::loadClip(spec.weights, load);
    const auto device = resolveDevice(spec.device);
    p.clip.model->to(device);
    hooks.info("model: " + p.clip.config().describe() + " (" + p.clip.format + "), on " + describeDevice(device));

    // The method's initial values come from LibTorch's generator: seed it so runs repeat.
    torch::manual_seed(spec.seed);
    p.method = prompt::makeMethod(spec.method, p.clip, spec.methodOptions);
    return p;
}

// While an error or a cancel is on its way up, a failing observer must not replace it: its own
// failure is logged instead.
void notifyEnded(RunObserver *observer, const std::string &status, const std::string &message, const Hooks &hooks)
{
    if (!observer)
        return;
    try {
        observer->ended(status, message);
    } catch (const std::exception &e) {
        hooks.warn(std::string("could not record the run's end: ") + e.what());
    }
}

std::string evalDir(const std::string &runDir, const std::string &set) { return runDir + "/eval-" + set; }

// Evaluates one test set and, when `write`, writes its folder with selections.
EvalResult evaluateSet(Prepared &p, const std::string &set, const std::vector<std::string> &classes,
                       const std::vector<data::ImageRecord> &images, const RunSpec &spec, bool full,
                       const std::string &dir, const Hooks &hooks, RunObserver *observer = nullptr)
{
    p.method->setClasses(classes);
    EvalOptions eo;
    eo.batchSize = spec.evalBatch;
    eo.selections = full && spec.selections;
    eo.clsAttention = full && spec.clsAttention;
    auto result = evaluate(images, *p.method, p.clip.config().vision.imageSize, eo, hooks);
    if (full) {
        writeEvaluation(dir, classes, result);
        const auto classSelections = eo.selections ? p.method->classSelections() : std::vector<prompt::ClassSelection>{};
        if (eo.selections)
            writeSelections(dir, result, classSelections);
        if (observer)
            observer->evaluated(set, classes, result, classSelections);
        hooks.info("test set '" + set + "': accuracy " + std::to_string(100 * result.confusion.accuracy()).substr(0, 5)
                   + "% over " + std::to_string(result.confusion.total()) + " images → " + dir);
    }
    return result;
}

} // namespace

nlohmann::json RunSpec::toJson() const
{
    nlohmann::json j = {{"data", data},
                        {"weights", weights},
                        {"vocab", vocab},
                        {"config", config},
                        {"device", device},
                        {"method", method},
                        {"method_options", methodOptions},
                        {"shots", shots},
                        {"seed", seed},
                        {"base_to_new", baseToNew},
                        {"train", TrainOptions::table().toJson(train)},
                        {"eval_batch", evalBatch},
                        {"selections", selections},
                        {"cls_attention", clsAttention}};
    if (!classNames.empty())
        j["class_names"] = classNames;
    return j;
}

RunSpec RunSpec::fromJson(const nlohmann::json &j, const std::string &source)
{
    try {
        RunSpec s;
        s.data = j.at("data").get<std::string>();
        s.weights = j.at("weights").get<std::string>();
        s.vocab = j.value("vocab", "");
        s.config = j.value("config", "");
        s.device = j.value("device", "auto");
        s.method = j.at("method").get<std::string>();
        s.methodOptions = j.value("method_options", nlohmann::json::object());
        // Numbers are checked by kind before conversion: nlohmann converts -5 to an unsigned seed
        // as 2^64 - 5, and 1e30 to a shot count as whatever the cast gives.
        auto whole = [&](const char *key, int64_t min) {
            const auto &v = j.at(key);
            if (!v.is_number_integer() || v.get<int64_t>() < min || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)))
                throw Error(source + ": '" + key + "' is " + shortened(v.dump(), 40) + "; it must be a whole number ≥ "
                            + std::to_string(min));
            return v.get<int64_t>();
        };
        s.shots = whole("shots", 1);
        const auto &seed = j.at("seed");
        if (!seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<int64_t>() >= 0))
            throw Error(source + ": 'seed' is " + shortened(seed.dump(), 40) + "; it must be a whole number ≥ 0");
        s.seed = seed.get<uint64_t>();
        s.baseToNew = j.value("base_to_new", false);
        s.train = TrainOptions::table().fromJson(j.value("train", nlohmann::json::object()), source + ": train");
        if (j.contains("eval_batch"))
            s.evalBatch = whole("eval_batch", 1);
        s.selections = j.value("selections", true);
        s.clsAttention = j.value("cls_attention", false);
        s.classNames = j.value("class_names", std::map<std::string, std::string>{});
        try {   // an unknown method is refused here too, with the known names
            prompt::makeMethodOptionsCheck(s.method, s.methodOptions);
        } catch (const Error &e) {
            throw Error(source + ": " + e.what());
        }
        return s;
    } catch (const nlohmann::json::exception &e) {
        throw Error(source + ": the run description is incomplete or damaged (" + std::string(e.what()) + ")");
    }
}

nlohmann::json RunSummary::toJson() const
{
    nlohmann::json j = {{"accuracy", accuracy}, {"epochs", epochs}, {"seconds", seconds}};
    if (accuracy.count("base") && accuracy.count("new"))
        j["harmonic_mean"] = harmonicMean;
    return j;
}

RunSpec readRunSpec(const std::string &runDir)
{
    const std::string path = runDir + "/run.json";
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw Error(runDir + ": not a run folder (no run.json)");
    const auto j = readJson(path);
    if (j.value("format", 0) > kRunFormat)
        throw Error(path + ": written by a newer SEP Studio (run format " + std::to_string(j.value("format", 0))
                    + "); update to read it");
    if (!j.contains("spec"))
        throw Error(path + ": has no run description ('spec')");
    return RunSpec::fromJson(j["spec"], path);
}

RunSummary trainRun(const RunSpec &requested, const std::string &runDir, bool resume, const Hooks &outerHooks,
                    RunObserver *observer)
{
    const auto started = std::chrono::steady_clock::now();
    std::error_code ec;
    const bool exists = fs::exists(runDir + "/run.json", ec);
    if (exists && !resume)
        throw Error(runDir + ": already holds a run; pass --resume to continue it, or choose another output folder");
    if (!exists && resume)
        throw Error(runDir + ": no run to resume (no run.json)");
    RunSpec spec = requested;
    nlohmann::json history = nlohmann::json::array();
    if (resume) {
        spec = readRunSpec(runDir);
        spec.device = requested.device;
        std::error_code e2;
        if (fs::exists(runDir + "/metrics.json", e2))
            history = readJson(runDir + "/metrics.json");
    }
    requireOutputOutside(runDir, spec.data, "the run folder");
    makeDirectories(runDir);
    const Hooks hooks = withLogFile(outerHooks, runDir + "/log.txt");

    RunFile run(runDir, resume ? readJson(runDir + "/run.json") : nlohmann::json::object());
    run.json()["format"] = kRunFormat;
    run.json()["spec"] = spec.toJson();
    run.json()["pid"] = static_cast<int64_t>(::getpid());
    run.json()["message"] = "";
    if (!resume)
        run.json()["started"] = timestamp();
    run.set("status", "running");
    try {
        Prepared p = prepare(spec, spec.data, hooks);
        nlohmann::json plan = {{"train_classes", p.plan.trainClasses},
                               {"test_classes", p.plan.testClasses},
                               {"train_images", p.plan.train.size()},
                               {"notes", p.plan.notes}};
        for (const auto &[set, images] : p.plan.tests)
            plan["test_images"][set] = images.size();
        run.json()["plan"] = plan;
        run.json()["model"] = p.clip.config().describe();
        // The reproducibility record beside the options: the weights' content and the program. A run
        // resumed on other weights would mix two models in one curve.
        const std::string weightsSha256 = sha256File(p.clip.weightsPath);
        const auto recorded = run.json().value("weights_sha256", nlohmann::json());
        if (resume && recorded.is_string() && !recorded.get<std::string>().empty()
            && recorded.get<std::string>() != weightsSha256)
            throw Error(runDir + ": cannot resume: the weights " + p.clip.weightsPath
                        + " are not the ones the run started with (SHA-256 " + recorded.get<std::string>().substr(0, 12)
                        + "…, now " + weightsSha256.substr(0, 12) + "…). Give the original weights, or start a new run.");
        run.json()["weights_sha256"] = weightsSha256;
        run.json()["program"] = programName();
        run.set("device", describeDevice(p.clip.model->logit_scale.device()));
        if (observer)
            observer->started(spec, plan, run.json()["device"].get<std::string>());

        RunSummary summary;
        auto evaluateAll = [&](bool full) {
            std::map<std::string, double> acc;
            for (const auto &[set, images] : p.plan.tests) {
                if (images.empty()) {
                    hooks.warn("test set '" + set + "' has no images; skipped");
                    continue;
                }
                acc[set] = evaluateSet(p, set, p.plan.testClasses.at(set), images, spec, full, evalDir(runDir, set), hooks,
                                       observer)
                               .confusion.accuracy();
            }
            p.method->setClasses(p.plan.trainClasses);
            return acc;
        };

        if (!p.method->trainable()) {
            summary.accuracy = evaluateAll(true);
        } else {
            p.method->setClasses(p.plan.trainClasses);
            const std::string checkpoints = runDir + "/checkpoints";
            Trainer trainer(*p.method, p.plan.train, p.clip.config().vision.imageSize, spec.train, spec.seed, checkpoints);
            if (resume) {
                // Finished epochs without their checkpoint cannot be continued, and quietly starting
                // over would throw away what the user asked to keep.
                if (Trainer::checkpointEpoch(checkpoints) < 0 && !history.empty())
                    throw Error(runDir + ": cannot resume: " + std::to_string(history.size())
                                + " finished epoch(s) are recorded but their checkpoint " + Trainer::checkpointPath(checkpoints)
                                + " is gone. Restore it from a backup, or start the run again in a new folder.");
                if (Trainer::checkpointEpoch(checkpoints) < 0)
                    hooks.info("no epoch had finished before the run stopped; training starts at epoch 1");
                // Epochs after the checkpoint were lost with the process: drop their records.
                const int64_t done = std::max<int64_t>(0, Trainer::checkpointEpoch(checkpoints));
                nlohmann::json kept = nlohmann::json::array();
                for (const auto &r : history)
                    if (r.value("epoch", int64_t(0)) <= done)
                        kept.push_back(r);
                history = kept;
            }
            TrainCallbacks callbacks;
            callbacks.evaluate = [&](int64_t epoch) {
                const bool last = epoch == spec.train.epochs;
                auto acc = evaluateAll(last);
                if (last)
                    summary.accuracy = acc;
                return acc;
            };
            callbacks.epochDone = [&](const EpochRecord &r) {
                if (!history.empty() && history.back().value("epoch", int64_t(0)) == r.epoch)
                    history.back() = recordJson(r);   // the same epoch, now with its test accuracy
                else
                    history.push_back(recordJson(r));
                writeMetrics(runDir, history);
                if (observer) {
                    if (r.eval.empty())
                        observer->checkpoint(r.epoch, Trainer::checkpointPath(checkpoints));
                    observer->epoch(r);
                }
            };
            const bool canResume = resume && Trainer::checkpointEpoch(checkpoints) >= 0;
            if (resume && Trainer::checkpointEpoch(checkpoints) >= spec.train.epochs) {
                hooks.info("training had finished; evaluating the final weights");
                const auto path = Trainer::checkpointPath(checkpoints);
                p.method->loadState(io::readSafetensors(path), path);
                summary.accuracy = evaluateAll(true);
            } else {
                trainer.run(canResume, hooks, callbacks);
            }
            summary.epochs = spec.train.epochs;
        }
        if (summary.accuracy.count("base") && summary.accuracy.count("new"))
            summary.harmonicMean = harmonicMean(summary.accuracy["base"], summary.accuracy["new"]);
        summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        writeFileAtomic(runDir + "/summary.json", summary.toJson().dump(2) + "\n");
        run.json()["finished"] = timestamp();
        run.set("status", "finished");
        if (observer)
            observer->ended("finished", "");
        return summary;
    } catch (const Cancelled &) {
        run.set("status", "cancelled");
        hooks.info("cancelled; the last finished epoch's checkpoint is kept and the run can be resumed");
        notifyEnded(observer, "cancelled", "", hooks);
        throw;
    } catch (const std::exception &e) {
        // LibTorch's own errors leave here as sep::Error naming the run, without a backtrace.
        const bool ours = dynamic_cast<const Error *>(&e) != nullptr;
        const std::string message = ours ? std::string(e.what()) : runDir + ": " + describeFailure(e);
        run.json()["message"] = message;
        run.set("status", "failed");
        hooks.emitError(message);
        notifyEnded(observer, "failed", message, hooks);
        if (ours)
            throw;
        throw Error(message);
    }
}

namespace {

std::map<std::string, EvalResult> evaluateRunAsIs(const std::string &runDir, const std::string &dataOverride,
                                                  const std::string &split, int64_t batch, const Hooks &hooks)
{
    RunSpec spec = readRunSpec(runDir);
    if (batch > 0)
        spec.evalBatch = batch;
    const std::string dataDir = dataOverride.empty() ? spec.data : dataOverride;
    if (split == "all")
        spec.baseToNew = false;   // every class at once (the few-shot sample does not depend on the split)
    else if (split == "base" || split == "new")
        spec.baseToNew = true;
    else if (!split.empty())
        throw Error("unknown split '" + split + "'; use base, new or all");
    requireOutputOutside(runDir, dataDir, "the run folder");
    Prepared p = prepare(spec, dataDir, hooks);
    if (p.method->trainable()) {
        const auto path = Trainer::checkpointPath(runDir + "/checkpoints");
        std::error_code ec;
        if (!fs::exists(path, ec))
            throw Error(runDir + ": has no checkpoint to evaluate (" + path + ")");
        p.method->loadState(io::readSafetensors(path), path);
    }
    const std::string suffix = dataOverride.empty() ? "" : "-" + fs::path(dataOverride).lexically_normal().filename().string();
    std::map<std::string, EvalResult> results;
    for (const auto &[set, images] : p.plan.tests) {
        if (!split.empty() && set != split)
            continue;
        // Nothing to test is an answer the user must see, not an accuracy of 0 of 0.
        if (images.empty())
            throw Error(dataDir + ": no test images for the '" + set + "' classes (" + std::to_string(p.plan.testClasses.at(set).size())
                        + " classes; every image is either missing or part of the run's few-shot training sample). "
                          "Test on a folder with more images per class, or one with train/ and test/ sub-folders.");
        results[set] = evaluateSet(p, set, p.plan.testClasses.at(set), images, spec, true,
                                   evalDir(runDir, set) + suffix, hooks);
    }
    return results;
}

} // namespace

std::map<std::string, EvalResult> evaluateRun(const std::string &runDir, const std::string &dataOverride,
                                              const std::string &split, int64_t batch, const Hooks &hooks)
{
    return asEntryPoint(runDir, [&] { return evaluateRunAsIs(runDir, dataOverride, split, batch, hooks); });
}

} // namespace sep::train
