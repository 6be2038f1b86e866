#include "engine/export/run_export.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/io/safetensors.h"
#include "engine/train/run.h"
#include "engine/train/trainer.h"

#include <filesystem>
#include <set>

namespace sep::exporting {
namespace fs = std::filesystem;

RunClasses runClasses(const std::string &runDir)
{
    const std::string source = runDir + "/run.json";
    nlohmann::json plan;
    try {
        plan = nlohmann::json::parse(readFile(source)).at("plan");
        RunClasses out;
        out.trained = plan.at("train_classes").get<std::vector<std::string>>();
        out.all = out.trained;
        std::set<std::string> seen(out.all.begin(), out.all.end());
        const nlohmann::json tested = plan.value("test_classes", nlohmann::json::object());   // items() needs a named object
        for (const auto &[set, names] : tested.items())
            for (const auto &name : names.get<std::vector<std::string>>())
                if (seen.insert(name).second)
                    out.all.push_back(name);
        return out;
    } catch (const nlohmann::json::exception &e) {
        throw Error(source + ": has no readable class plan (" + std::string(e.what())
                    + "); the run did not start properly. Train it again.");
    }
}

RunExport exportRun(const std::string &runDir, const std::string &out, const RunExportOptions &options, const Hooks &hooks)
{
    const auto spec = train::readRunSpec(runDir);
    const RunClasses classes = runClasses(runDir);
    const std::vector<std::string> list = withExtraClasses(!options.classes.empty()    ? options.classes
                                                           : options.trainedClassesOnly ? classes.trained
                                                                                        : classes.all,
                                                           options.extraClasses);
    requireValidClassList(list, "the class list for " + (out.empty() ? options.classifier : out));

    hooks.info("loading " + spec.weights);
    clip::LoadOptions load;
    load.configPath = spec.config;
    load.vocabPath = spec.vocab;
    auto clip = clip::loadClip(spec.weights, load);
    auto method = prompt::makeMethod(spec.method, clip, spec.methodOptions);
    method->setClasses(list);
    if (method->trainable()) {
        const auto path = train::Trainer::checkpointPath(runDir + "/checkpoints");
        method->loadState(io::readSafetensors(path), path);
    }
    nlohmann::json metrics = nlohmann::json::object();
    std::error_code ec;
    if (fs::exists(runDir + "/summary.json", ec))
        metrics = nlohmann::json::parse(readFile(runDir + "/summary.json"));
    if (hooks.cancelled())
        throw Cancelled{};

    RunExport written;
    written.method = method->name();
    written.weights = spec.weights;
    written.classes = list;
    if (method->trainable()) {
        const std::set<std::string> trained(classes.trained.begin(), classes.trained.end());
        for (const auto &name : list)
            (trained.count(name) ? written.trained : written.added).push_back(name);
    }
    written.backboneIncluded = options.bundle.includeBackbone;
    ExportOptions bundle = options.bundle;
    bundle.trainedClasses = written.trained;
    if (!out.empty()) {
        hooks.info("writing " + out);
        writeBundle(out, *method, clip, metrics, bundle);
    }
    if (!options.classifier.empty())
        writeClassifier(options.classifier, *method);
    return written;
}

} // namespace sep::exporting
