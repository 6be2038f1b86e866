// sep train / sep eval: prompt tuning runs on an image folder, and evaluating them again.
#include "app/cli/common.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/prompt/method.h"
#include "engine/prompt/registry.h"
#include "engine/train/metrics.h"
#include "engine/train/run.h"
#include "projects/project_store.h"
#include "projects/run_recorder.h"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <set>

namespace sep::cli {
namespace {

// Every option of every method and of the trainer becomes a flag.
struct GeneratedOptions {
    std::map<std::string, std::string> values;   // key → text given on the command line

    void addTo(CLI::App &cmd)
    {
        addOptionFlags(cmd, train::TrainOptions::table().specs(), values, "Training options", "training");
        for (const auto &method : prompt::methodNames())
            addOptionFlags(cmd, prompt::methodOptionSpecs(method), values, "Method options", method);
    }

    // Splits the given values into training and method options, refusing options the method lacks.
    void apply(const std::string &method, train::TrainOptions &trainOptions, nlohmann::json &methodOptions) const
    {
        nlohmann::json trainJson = train::TrainOptions::table().toJson(trainOptions);
        const auto methodSpecs = prompt::methodOptionSpecs(method);
        for (const auto &[key, text] : values) {
            if (text.empty())
                continue;
            if (const auto *field = train::TrainOptions::table().find(key)) {
                trainJson[key] = parseOptionValue(field->spec, text);
                continue;
            }
            auto it = std::find_if(methodSpecs.begin(), methodSpecs.end(), [&](const OptionSpec &s) { return s.key == key; });
            if (it == methodSpecs.end())
                throw Error(flagName(key) + " is not an option of the " + method + " method");
            methodOptions[key] = parseOptionValue(*it, text);
        }
        trainOptions = train::TrainOptions::table().fromJson(trainJson, "training options");
        prompt::makeMethodOptionsCheck(method, methodOptions);
    }
};

struct TrainCommand {
    ModelOptions model;
    std::string data, method = "sep", out, project;
    int64_t shots = 16;
    std::vector<uint64_t> seeds{1};
    bool baseToNew = false, resume = false, json = false, clsAttention = false;
    int64_t evalBatch = 100;
    GeneratedOptions generated;
};

void printSummary(const std::string &label, const train::RunSummary &s)
{
    std::cout << label;
    for (const auto &[set, acc] : s.accuracy)
        std::cout << "  " << set << " " << percent(acc);
    if (s.accuracy.count("base") && s.accuracy.count("new"))
        std::cout << "  HM " << percent(s.harmonicMean);
    if (s.accuracy.empty())
        std::cout << "  no test images";
    std::cout << "  (" << std::fixed << std::setprecision(0) << s.seconds << " s)\n";
}

std::string absolutePath(const std::string &path)
{
    return path.empty() ? path : std::filesystem::absolute(path).lexically_normal().string();
}

// sep train --project P: each seed becomes a run of the project, trained into a folder inside the
// project's folder and recorded as it goes.
void runTrainInProject(const TrainCommand &c, train::RunSpec spec, const Hooks &hooks)
{
    if (c.resume)
        throw Error("--resume does not go with --project: continue a project's run with 'sep project resume "
                    + c.project + " RUN_ID'");
    std::error_code ec;
    const bool exists = std::filesystem::exists(c.project, ec)
                        || std::filesystem::exists(projects::ProjectStore::projectPath(c.project), ec);
    projects::OpenOptions o;
    o.purpose = "sep train";
    auto store = exists ? projects::ProjectStore::open(c.project, o) : projects::ProjectStore::create(c.project, o);
    if (!exists)
        hooks.info("created the project " + store.path());
    for (const auto &note : store.notes())
        hooks.info("note: " + note);

    // The data: the folder given (imported, or scanned again for changes), or the project's only one.
    std::optional<int64_t> datasetId;
    if (c.data.empty()) {
        const auto datasets = store.datasets();
        if (datasets.size() != 1)
            throw Error(store.path() + (datasets.empty() ? " has no dataset yet" : " has several datasets")
                        + "; say which one with --data FOLDER");
        datasetId = datasets.front().id;
        spec.data = datasets.front().root;
    } else {
        const auto report = store.importDataset(c.data, {}, hooks);
        datasetId = report.datasetId;
        spec.data = report.root;
        if (!report.firstScan && (!report.added.empty() || !report.removed.empty() || !report.changed.empty()))
            hooks.info(report.root + " changed since it was last scanned: " + std::to_string(report.added.size())
                       + " added, " + std::to_string(report.removed.size()) + " removed, "
                       + std::to_string(report.changed.size()) + " changed");
        for (const auto &u : report.unreadable)
            hooks.warn(u.path + ": " + u.reason);
    }
    // Absolute, so the run can be resumed from any working directory.
    spec.weights = absolutePath(spec.weights);
    spec.vocab = absolutePath(spec.vocab);
    spec.config = absolutePath(spec.config);

    std::vector<train::RunSummary> summaries;
    nlohmann::json perSeed = nlohmann::json::array();
    for (uint64_t seed : c.seeds) {
        spec.seed = seed;
        const int64_t id = store.createRun(spec, datasetId);
        if (!c.json)
            std::cerr << "run " << id << " → " << store.runFolder(id) << "\n";
        auto summary = projects::runRecorded(store, id, spec, hooks);
        if (!c.json)
            printSummary("run " + std::to_string(id) + " (" + c.method + (c.seeds.size() == 1 ? "" : ", seed " + std::to_string(seed)) + "):",
                         summary);
        auto j = summary.toJson();
        j["id"] = id;
        j["seed"] = seed;
        j["run"] = store.runFolder(id);
        perSeed.push_back(j);
        summaries.push_back(summary);
    }
    if (c.json)
        printJson({{"method", c.method}, {"project", store.path()}, {"runs", perSeed}});
}

void runTrain(const TrainCommand &c)
{
    train::RunSpec spec;
    spec.data = c.data;
    spec.weights = c.model.weights;
    spec.vocab = c.model.vocab;
    spec.config = c.model.config;
    spec.device = c.model.device;
    spec.method = c.method;
    spec.shots = c.shots;
    spec.baseToNew = c.baseToNew;
    spec.evalBatch = c.evalBatch;
    spec.clsAttention = c.clsAttention;
    c.generated.apply(c.method, spec.train, spec.methodOptions);
    if (c.out.empty() == c.project.empty())
        throw Error(c.out.empty() ? "say where the run goes: --out FOLDER, or --project FILE to record it in a project"
                                  : "give either --out or --project, not both");
    const Hooks hooks = terminalHooks(c.json);
    if (!c.project.empty()) {
        if (spec.weights.empty())
            throw Error("--weights is needed to start a run");
        runTrainInProject(c, spec, hooks);
        return;
    }
    if (!c.resume && (spec.data.empty() || spec.weights.empty()))
        throw Error("--data and --weights are needed to start a run (only --resume may leave them out)");
    std::vector<train::RunSummary> summaries;
    nlohmann::json perSeed = nlohmann::json::array();
    for (uint64_t seed : c.seeds) {
        spec.seed = seed;
        const std::string dir = c.seeds.size() == 1 ? c.out : c.out + "/seed" + std::to_string(seed);
        auto summary = train::trainRun(spec, dir, c.resume, hooks);
        if (!c.json)
            printSummary(c.seeds.size() == 1 ? c.method + ":" : c.method + " seed " + std::to_string(seed) + ":", summary);
        summaries.push_back(summary);
        auto j = summary.toJson();
        j["seed"] = seed;
        j["run"] = dir;
        perSeed.push_back(j);
    }
    nlohmann::json result = {{"method", c.method}, {"runs", perSeed}};
    if (summaries.size() > 1) {
        std::map<std::string, std::vector<double>> values;
        for (const auto &s : summaries) {
            for (const auto &[set, acc] : s.accuracy)
                values[set].push_back(acc);
            if (s.accuracy.count("base") && s.accuracy.count("new"))
                values["harmonic_mean"].push_back(s.harmonicMean);
        }
        for (const auto &[key, v] : values) {
            const auto ms = train::meanStd(v);
            result["mean"][key] = ms.mean;
            result["std"][key] = ms.std;
        }
        writeFileAtomic(c.out + "/summary.json", result.dump(2) + "\n");
        if (!c.json) {
            std::cout << c.method << " over " << summaries.size() << " seeds:";
            for (const auto &[key, v] : values) {
                const auto ms = train::meanStd(v);
                std::cout << "  " << (key == "harmonic_mean" ? "HM" : key) << " " << std::fixed << std::setprecision(1)
                          << 100 * ms.mean << " ± " << 100 * ms.std;
            }
            std::cout << "\n";
        }
    }
    if (c.json)
        printJson(result);
}

struct EvalCommand {
    std::string run, data, split;
    int64_t batch = 0;
    bool json = false;
};

void runEval(const EvalCommand &c)
{
    const Hooks hooks = terminalHooks(c.json);
    const auto results = train::evaluateRun(c.run, c.data, c.split, c.batch, hooks);
    nlohmann::json j;
    for (const auto &[set, r] : results) {
        j["accuracy"][set] = r.confusion.accuracy();
        j["images"][set] = r.confusion.total();
        if (!c.json)
            std::cout << set << ": " << percent(r.confusion.accuracy()) << " (" << r.confusion.correct() << "/"
                      << r.confusion.total() << ")\n";
    }
    if (results.count("base") && results.count("new")) {
        const double hm = train::harmonicMean(results.at("base").confusion.accuracy(), results.at("new").confusion.accuracy());
        j["harmonic_mean"] = hm;
        if (!c.json)
            std::cout << "HM: " << percent(hm) << "\n";
    }
    if (c.json)
        printJson(j);
}

} // namespace

void addTrainCommands(CLI::App &app)
{
    auto *train = app.add_subcommand("train", "Tune prompts on an image folder (zero-shot, CoOp or SEP) into a run folder");
    auto t = std::make_shared<TrainCommand>();
    t->model.addTo(*train, false);
    train->add_option("--data", t->data, "Image folder: one sub-folder per class (optionally under train/val/test)");
    std::string methodHelp = "The method:";
    for (const auto &m : prompt::methodRegistry())
        methodHelp += " " + m.name + " (" + m.title + ")";
    train->add_option("--method", t->method, methodHelp)
        ->capture_default_str()
        ->check(CLI::IsMember(prompt::methodNames()));
    train->add_option("--shots", t->shots, "Training images per class")->capture_default_str()->check(wholeNumberAtLeast(1));
    train->add_option("--seed", t->seeds, "Seed(s); several run one after the other and report mean ± std")
        ->capture_default_str()
        ->check(wholeNumberAtLeast(0));
    train->add_flag("--base-to-new", t->baseToNew, "Train on the first half of the classes, test on both halves");
    train->add_option("--out", t->out, "Run folder to create (or to continue with --resume)");
    train->add_option("--project", t->project,
                      "Record the run in this project (created when missing); its folder holds the run. --data may "
                      "be left out when the project has one dataset");
    train->add_flag("--resume", t->resume, "Continue the run in --out after its last checkpoint");
    train->add_option("--eval-batch", t->evalBatch, "Images per evaluation batch")->capture_default_str()->check(wholeNumberAtLeast(1));
    train->add_flag("--cls-attention", t->clsAttention, "Also record the backbone's [CLS] attention per block");
    train->add_flag("--json", t->json, "Machine-readable output");
    t->generated.addTo(*train);
    train->callback([t] { runTrain(*t); });

    auto *eval = app.add_subcommand("eval", "Evaluate a run again, on its own test images or another folder");
    auto e = std::make_shared<EvalCommand>();
    eval->add_option("--run", e->run, "Run folder")->required();
    eval->add_option("--data", e->data, "Another image folder to test on (same class names)");
    eval->add_option("--split", e->split, "base, new or all (default: the run's own test sets)")
        ->check(CLI::IsMember({"base", "new", "all"}));
    eval->add_option("--batch", e->batch, "Images per batch (default: the run's)")->check(wholeNumberAtLeast(1));
    eval->add_flag("--json", e->json, "Machine-readable output");
    eval->callback([e] { runEval(*e); });
}

} // namespace sep::cli
