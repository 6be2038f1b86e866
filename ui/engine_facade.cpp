// The one file of ui/ that includes the engine's LibTorch headers (see engine_facade.h).
#include "ui/engine_facade.h"

#include "engine/clip/config.h"
#include "engine/clip/weights.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/runtime.h"
#include "engine/core/data_paths.h"
#include "engine/export/bundle.h"
#include "engine/export/run_export.h"
#include "engine/io/safetensors.h"
#include "engine/prompt/method.h"
#include "engine/prompt/registry.h"
#include "engine/train/run.h"
#include "engine/train/trainer.h"
#include "projects/run_recorder.h"

#include <torch/cuda.h>

#include <chrono>
#include <filesystem>

namespace sep::ui::facade {
namespace fs = std::filesystem;

ModelSummary inspectModel(const std::string &weights, const std::string &vocab)
{
    std::error_code ec;
    if (weights.empty())
        throw Error("no weights file was given");
    if (!fs::exists(weights, ec))
        throw Error(weights + ": no such file");
    if (fs::is_directory(weights, ec))
        throw Error(weights + ": is a folder; choose the weights file inside it (.pt, .pth, .bin or .safetensors)");
    ModelSummary s;
    s.weights = weights;
    const TensorMap tensors = clip::readClipWeights(weights, &s.format, &s.notes);
    s.config = clip::findJsonConfigBeside(weights);
    const clip::Config config = clip::configFromWeights(tensors, weights, s.config);
    // The vocabulary: given, or beside the weights (sep::Error says how to give one otherwise).
    clip::loadTokenizer(weights, vocab, config.text.vocabSize, &s.vocab);
    s.architecture = config.describe();
    s.parameters = config.parameterCount();
    s.imageSize = config.vision.imageSize;
    s.gridSize = config.vision.gridSize();
    s.visionLayers = config.vision.layers;
    s.visionFlops = config.visionFlops();
    s.textFlops = config.textFlops(std::min<int64_t>(config.text.contextLength, 20));
    return s;
}

std::vector<std::string> methods() { return prompt::methodNames(); }

// Views show runs recorded by any version: an unknown method is shown by its name, never an error.
std::string methodTitle(const std::string &method)
{
    const auto *e = prompt::findMethod(method);
    return e ? e->title : method;
}

std::string methodDescription(const std::string &method)
{
    const auto *e = prompt::findMethod(method);
    return e ? e->description : std::string();
}

bool methodTrains(const std::string &method)
{
    const auto *e = prompt::findMethod(method);
    return e && e->trains;
}

std::vector<OptionGroup> optionGroups(const std::string &method)
{
    std::vector<OptionGroup> groups;
    const auto methodSpecs = prompt::methodOptionSpecs(method);
    if (!methodSpecs.empty())
        groups.push_back({"method_options", methodTitle(method) + " options", methodSpecs});
    if (methodTrains(method))
        groups.push_back({"train", "Training", train::TrainOptions::table().specs()});
    return groups;
}

std::vector<Preset> presets(const std::string &method)
{
    std::vector<Preset> out;
    if (const auto *e = prompt::findMethod(method))
        for (const auto &p : e->presets)
            out.push_back({p.title, p.description, p.patch});
    return out;
}

std::vector<std::string> planWarnings(const nlohmann::json &specJson)
{
    const auto spec = train::RunSpec::fromJson(specJson, "run options");
    const auto plan = train::planRunData(spec, spec.data);
    std::vector<std::string> out;
    for (const auto &[set, images] : plan.tests)
        if (images.empty())
            out.push_back("The '" + set + "' test set would have no images: with " + std::to_string(spec.shots)
                          + " shots every image of its classes is a training shot, so the run would finish without "
                            "any evaluation. Use fewer shots, or add images.");
    out.insert(out.end(), plan.notes.begin(), plan.notes.end());
    return out;
}

nlohmann::json defaultSpec()
{
    train::RunSpec spec;
    spec.baseToNew = true;   // the published protocol's default for few-shot tuning
    return spec.toJson();
}

nlohmann::json checkSpec(const nlohmann::json &spec)
{
    const train::RunSpec s = train::RunSpec::fromJson(spec, "run options");
    prompt::makeMethodOptionsCheck(s.method, s.methodOptions);
    nlohmann::json out = s.toJson();
    // Fill in every method option, so the review page shows them all.
    nlohmann::json full = nlohmann::json::object();
    for (const auto &sp : prompt::methodOptionSpecs(s.method))
        full[sp.key] = s.methodOptions.contains(sp.key) ? s.methodOptions.at(sp.key) : sp.defaultValue;
    out["method_options"] = full;
    return out;
}

nlohmann::json setOption(const std::string &method, const std::string &groupKey, const nlohmann::json &group,
                         const std::string &key, const nlohmann::json &value)
{
    nlohmann::json g = group.is_object() ? group : nlohmann::json::object();
    g[key] = value;
    if (groupKey == "train")
        return train::TrainOptions::table().toJson(train::TrainOptions::table().fromJson(g, "training options"));
    if (groupKey == "method_options") {
        prompt::makeMethodOptionsCheck(method, g);
        return g;
    }
    throw Error("unknown option group '" + groupKey + "'");
}

std::vector<std::string> devices()
{
    std::vector<std::string> d{"cpu"};
    if (torch::cuda::is_available())
        d.push_back("cuda");
    return d;
}

double estimateSeconds(const nlohmann::json &spec, const ModelSummary &model, int64_t trainImages, int64_t testImages)
{
    const std::string method = spec.value("method", std::string("sep"));
    const std::string device = spec.value("device", std::string("auto"));
    const bool gpu = device.rfind("cuda", 0) == 0 || (device == "auto" && torch::cuda::is_available());
    // Measured on the project's 2-core build machines with OpenBLAS: ~100 GFLOP/s sustained.
    const double flopsPerSecond = gpu ? 2e13 : 1e11;
    const nlohmann::json trainOpts = spec.value("train", nlohmann::json::object());
    const double epochs = methodTrains(method) ? trainOpts.value("epochs", 50) : 0;
    const double batch = std::max<int64_t>(1, trainOpts.value("batch", 32));
    const double evalEvery = trainOpts.value("eval_every", 1);
    const double steps = std::ceil(static_cast<double>(trainImages) / batch);
    const double classes = std::max<int64_t>(2, spec.value("classes_hint", 10));
    double perEpoch = 0;
    if (method == "sep")
        perEpoch = trainImages * model.visionFlops * 3 + steps * classes * model.textFlops * 3;
    else if (methodTrains(method))   // CoOp and its variants: the text tower learns, image features are cached
        perEpoch = trainImages * model.visionFlops + steps * classes * model.textFlops * 3;
    double evalCost = testImages * model.visionFlops + classes * model.textFlops;
    const double evaluations = epochs > 0 && evalEvery > 0 ? std::floor(epochs / evalEvery) : 1;
    // Plus what FLOPs miss: loading the model and images, checkpoints and records per epoch.
    const double overhead = 3.0 + 0.2 * epochs + 0.002 * static_cast<double>(trainImages + testImages);
    return (epochs * perEpoch + std::max(1.0, evaluations) * evalCost) / flopsPerSecond + overhead;
}

namespace {

projects::ProjectStore openWritable(const std::string &project, const std::string &purpose)
{
    projects::OpenOptions o;
    o.purpose = purpose;
    return projects::ProjectStore::open(project, o);
}

} // namespace

TrainOutcome trainInProject(const TrainRequest &request, const Hooks &hooks, const std::function<void(int64_t)> &onRun,
                            const std::function<void(const std::vector<projects::EpochRow> &)> &onEpochs)
{
    auto store = openWritable(request.project, "SEP Studio (training)");
    for (const auto &note : store.notes())
        hooks.info(note);
    TrainOutcome out;
    train::RunSpec spec;
    if (request.resumeRun > 0) {
        out.runId = request.resumeRun;
    } else {
        spec = train::RunSpec::fromJson(request.spec, "run options");
        std::optional<int64_t> dataset = store.findDataset(spec.data);
        if (!dataset)
            dataset = store.importDataset(spec.data, {}, hooks).datasetId;
        out.runId = store.createRun(spec, dataset);
    }
    if (onRun)
        onRun(out.runId);

    // Between training steps the store is idle on this thread, so the progress hook may read it: the
    // curves get each epoch as soon as the recorder committed it.
    size_t seenRows = 0, seenEval = 0;
    auto lastPoll = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    auto poll = [&](bool force) {
        const auto now = std::chrono::steady_clock::now();
        if (!force && now - lastPoll < std::chrono::milliseconds(500))
            return;
        lastPoll = now;
        auto rows = store.epochs(out.runId);
        const size_t evalCount = rows.empty() ? 0 : rows.back().testAccuracy.size();
        if (force || rows.size() != seenRows || evalCount != seenEval) {
            seenRows = rows.size();
            seenEval = evalCount;
            if (onEpochs)
                onEpochs(rows);
        }
    };
    Hooks h = hooks;
    h.progress = [&](const ProgressEvent &e) {
        hooks.report(e);
        poll(false);
    };
    try {
        if (request.resumeRun > 0)
            projects::resumeRecorded(store, out.runId, request.device, h);
        else
            projects::runRecorded(store, out.runId, spec, h);
        out.status = "finished";
    } catch (const Cancelled &) {
        out.status = "cancelled";
    } catch (const std::exception &e) {
        out.status = "failed";
        out.message = describeFailure(e);
    }
    try {
        poll(true);
    } catch (const std::exception &e) {
        hooks.warn(e.what());
    }
    return out;
}

projects::ScanReport createProject(const std::string &projectPath, const std::string &dataRoot, const Hooks &hooks,
                                   const std::map<std::string, std::string> &classNames)
{
    std::error_code ec;
    if (!fs::is_directory(dataRoot, ec))
        throw Error(dataRoot + ": is not a folder; choose a folder with one sub-folder of images per class");
    // Checked before the project file is made, so that nothing is written into the data.
    requireOutputOutside(projects::projectFolderFor(projectPath), dataRoot, "the project folder");
    projects::OpenOptions o;
    o.purpose = "SEP Studio (new project)";
    auto store = projects::ProjectStore::create(projectPath, o);
    auto report = store.importDataset(dataRoot, {}, hooks);
    if (!classNames.empty())
        store.setClassNames(report.datasetId, {classNames.begin(), classNames.end()});
    return report;
}

ExportOutcome exportRun(const ExportRequest &request, const Hooks &hooks)
{
    auto store = openWritable(request.project, "SEP Studio (export)");
    const projects::RunInfo info = store.run(request.runId);
    if (info.status != "finished")
        throw Error("run " + std::to_string(request.runId) + " is " + info.displayStatus()
                    + "; only finished runs can be exported (resume it first)");
    exporting::RunExportOptions o;
    o.bundle.includeBackbone = request.includeBackbone;
    o.bundle.zip = request.zip;
    o.trainedClassesOnly = request.trainedClassesOnly;
    if (!request.extraClassesFile.empty())
        o.extraClasses = exporting::readClassNames(request.extraClassesFile);
    const auto written = exporting::exportRun(info.folder, request.out, o, hooks);
    store.recordExport(request.runId, request.out,
                       {{"include_backbone", request.includeBackbone}, {"zip", request.zip},
                        {"classes", written.classes.size()}, {"added_classes", written.added.size()}});
    ExportOutcome out;
    out.path = request.out;
    out.method = written.method;
    out.classes = static_cast<int64_t>(written.classes.size());
    out.added = static_cast<int64_t>(written.added.size());
    out.backboneIncluded = request.includeBackbone;
    // The command to run it: the backbone is found inside the bundle, beside it, or as the built-in
    // model; any other needs --weights.
    std::error_code ec;
    const bool builtin = fs::equivalent(written.weights, builtinModelWeights(), ec);
    if (!request.includeBackbone && !builtin)
        out.weightsNeeded = written.weights;
    return out;
}

} // namespace sep::ui::facade
