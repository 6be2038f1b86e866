// sep export / sep predict / sep import-reference: tuned models that run anywhere.
#include "app/cli/common.h"

#include "engine/clip/image.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/data/image_folder.h"
#include "engine/export/bundle.h"
#include "engine/export/explain.h"
#include "engine/export/predictor.h"
#include "engine/export/reference_import.h"
#include "engine/export/run_export.h"
#include "engine/io/safetensors.h"
#include "engine/train/run.h"
#include "engine/train/trainer.h"
#include "projects/project_store.h"

#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <optional>
#include <iomanip>
#include <iostream>

namespace sep::cli {
namespace fs = std::filesystem;
namespace {

struct ExportCommand {
    std::string run, out, classifier, project, classesFile, extraClassesFile;
    int64_t runId = 0;
    bool includeBackbone = false, zip = false, json = false, trainedClassesOnly = false;
};

void runExport(ExportCommand c)
{
    // A project's run: its folder inside the project, and the export recorded in the project.
    std::optional<projects::ProjectStore> store;
    if (!c.project.empty()) {
        if (!c.run.empty() || c.runId <= 0)
            throw Error("give either --run RUN_DIR, or --project P with --run-id N");
        projects::OpenOptions o;
        o.purpose = "sep export";
        store.emplace(projects::ProjectStore::open(c.project, o));
        const auto info = store->run(c.runId);
        if (info.status != "finished")
            throw Error("run " + std::to_string(c.runId) + " of " + store->path() + " is " + info.displayStatus()
                        + "; export a finished run (sep project runs " + c.project + " lists them)");
        c.run = store->runFolder(c.runId);
    } else if (c.run.empty()) {
        throw Error("say which run to export: --run RUN_DIR, or --project P --run-id N");
    }
    exporting::RunExportOptions options;
    options.bundle.includeBackbone = c.includeBackbone;
    options.bundle.zip = c.zip;
    options.trainedClassesOnly = c.trainedClassesOnly;
    if (!c.classesFile.empty())
        options.classes = exporting::readClassNames(c.classesFile);
    if (!c.extraClassesFile.empty())
        options.extraClasses = exporting::readClassNames(c.extraClassesFile);
    options.classifier = c.classifier;
    const auto written = exporting::exportRun(c.run, c.out, options, terminalHooks(c.json));
    if (store && !c.out.empty())
        store->recordExport(c.runId, fs::absolute(c.out).string(),
                            {{"include_backbone", c.includeBackbone}, {"zip", c.zip}, {"classes", written.classes.size()},
                             {"added_classes", written.added.size()}});
    if (c.json) {
        printJson({{"bundle", c.out}, {"classifier", c.classifier}, {"method", written.method},
                   {"classes", written.classes.size()}, {"trained_classes", written.trained}, {"added_classes", written.added}});
        return;
    }
    if (!c.out.empty()) {
        std::cout << "wrote " << c.out << ": " << written.method << " over " << written.classes.size() << " classes";
        if (!written.added.empty())
            std::cout << " (" << written.trained.size() << " tuned on, " << written.added.size() << " added)";
        std::cout << (c.includeBackbone ? ", backbone included" : ", backbone not included (found beside the bundle by checksum, or the built-in model)") << "\n";
    }
    if (!c.classifier.empty())
        std::cout << "wrote " << c.classifier << "/{classifier.safetensors,classes.txt}\n";
}

struct PredictCommand {
    std::string model, weights, vocab, device = "auto", fusion, explain, classesFile, extraClassesFile;
    std::vector<std::string> images;
    int topK = 5;
    int64_t batch = 16;
    bool json = false, trustWeights = false, clsAttention = false;
};

std::vector<std::string> expandImages(const std::vector<std::string> &inputs)
{
    std::vector<std::string> out;
    for (const auto &input : inputs) {
        std::error_code ec;
        if (!fs::is_directory(input, ec)) {
            out.push_back(input);
            continue;
        }
        std::vector<std::string> files;
        for (const auto &e : fs::directory_iterator(input, ec))
            if (e.is_regular_file(ec) && data::hasImageExtension(e.path().string()))
                files.push_back(e.path().string());
        std::sort(files.begin(), files.end());
        out.insert(out.end(), files.begin(), files.end());
    }
    return out;
}

// dir/stem.ext, or dir/stem-2.ext, -3, … when taken: a second run next to a first, or two images of the
// same name from different folders, never overwrite an explanation.
std::string freshFileName(const std::string &dir, const std::string &stem, const std::string &ext)
{
    std::error_code ec;
    std::string file = dir + "/" + stem + ext;
    for (int n = 2; fs::exists(fs::symlink_status(file, ec)); ++n)
        file = dir + "/" + stem + "-" + std::to_string(n) + ext;
    return file;
}

void runPredict(const PredictCommand &c)
{
    PredictorOptions po;
    po.weights = c.weights;
    po.vocab = c.vocab;
    po.device = c.device;
    po.fusion = c.fusion;
    po.trustWeights = c.trustWeights;
    Predictor predictor(c.model, po);
    if (!c.classesFile.empty() || !c.extraClassesFile.empty()) {
        auto names = c.classesFile.empty() ? predictor.classNames() : exporting::readClassNames(c.classesFile);
        if (!c.extraClassesFile.empty())
            names = exporting::withExtraClasses(names, exporting::readClassNames(c.extraClassesFile));
        predictor.setClasses(names);
    }
    const auto paths = expandImages(c.images);
    if (paths.empty())
        throw Error("no images to classify");
    if (!c.explain.empty()) {
        // Pictures written among the images would be classified (and counted) the next time.
        for (const auto &input : c.images)
            if (fs::is_directory(input))
                requireOutputOutside(c.explain, input, "--explain");
        makeDirectories(c.explain);
    }
    const Hooks hooks = terminalHooks(c.json);
    nlohmann::json results = nlohmann::json::array();
    int failures = 0;
    for (size_t b = 0; b < paths.size(); b += static_cast<size_t>(c.batch)) {
        std::vector<cv::Mat> images;
        std::vector<std::string> names;
        for (size_t i = b; i < std::min(paths.size(), b + static_cast<size_t>(c.batch)); ++i) {
            try {
                images.push_back(clip::decodeImage(paths[i]));
                names.push_back(paths[i]);
            } catch (const Error &e) {
                hooks.warn(e.what());
                results.push_back({{"path", paths[i]}, {"error", e.what()}});
                ++failures;
            }
        }
        const bool explain = !c.explain.empty();
        const auto predictions = predictor.classify(images, c.topK, explain, explain && c.clsAttention);
        for (size_t i = 0; i < predictions.size(); ++i) {
            const auto &p = predictions[i];
            nlohmann::json top = nlohmann::json::array();
            for (const auto &s : p.top)
                top.push_back({{"class", s.name}, {"index", s.index}, {"probability", s.probability}});
            nlohmann::json r = {{"path", names[i]}, {"top", top}, {"logits", p.logits}};
            if (explain) {
                const std::string caption = fs::path(names[i]).filename().string() + ": " + p.top.front().name + " "
                                            + percent(p.top.front().probability);
                const cv::Mat picture = exporting::explainPicture(images[i], p.selection, predictor.imageSize(),
                                                                  predictor.gridSize(), caption);
                const std::string file = freshFileName(c.explain, fs::path(names[i]).stem().string() + "-explained", ".png");
                if (!cv::imwrite(file, picture))
                    throw Error(file + ": cannot be written");
                r["explanation"] = file;
            }
            if (!c.json) {
                std::cout << names[i] << "\n";
                for (const auto &s : p.top)
                    std::cout << "  " << std::setw(7) << percent(s.probability) << "  " << s.name << "\n";
                if (explain)
                    std::cout << "  explanation: " << r["explanation"].get<std::string>() << "\n";
            }
            results.push_back(r);
        }
    }
    if (c.json)
        printJson({{"model", c.model}, {"classes", predictor.classNames()}, {"results", results}});
    if (failures)
        std::cerr << failures << " image(s) could not be read (see above)\n";
}

struct ImportCommand {
    std::string checkpoint, weights, classes, templ = "a photo of a {}.", config, vocab, out;
    bool includeBackbone = false, zip = false, json = false;
};

void runImport(const ImportCommand &c)
{
    clip::LoadOptions load;
    load.configPath = c.config;
    load.vocabPath = c.vocab;
    auto clip = clip::loadClip(c.weights, load);
    const auto classes = exporting::readClassNames(c.classes);
    auto method = exporting::importReference(c.checkpoint, clip, classes, c.templ);
    exporting::ExportOptions o;
    o.includeBackbone = c.includeBackbone;
    o.zip = c.zip;
    exporting::writeBundle(c.out, *method, clip, {{"imported_from", c.checkpoint}}, o);
    if (c.json)
        printJson({{"bundle", c.out}, {"classes", classes.size()}, {"options", method->options()}});
    else
        std::cout << "wrote " << c.out << ": SEP (reference fusion) over " << classes.size() << " classes from "
                  << c.checkpoint << "\n";
}

} // namespace

void addExportCommands(CLI::App &app)
{
    auto *exp = app.add_subcommand("export", "Write a run's tuned model as a bundle that runs alone (*.sepmodel)");
    auto e = std::make_shared<ExportCommand>();
    exp->add_option("--run", e->run, "Run folder (from sep train --out)");
    exp->add_option("--project", e->project, "Project (*.sepproj) holding the run; with --run-id");
    exp->add_option("--run-id", e->runId, "The project's run to export (sep project runs lists them)")
        ->check(wholeNumberAtLeast(1));
    exp->add_option("--out", e->out, "Bundle to write (a directory, or one file with --zip)");
    exp->add_flag("--include-backbone", e->includeBackbone, "Put the backbone weights and vocabulary inside the bundle");
    exp->add_flag("--zip", e->zip, "Write one zip file instead of a directory");
    exp->add_option("--classifier", e->classifier,
                    "Zero-shot and CoOp: also write the class text embeddings (classifier.safetensors + classes.txt) here");
    exp->add_option("--classes", e->classesFile,
                    "Predict over exactly these classes (one name per line) instead of the run's")->check(CLI::ExistingFile);
    exp->add_option("--extra-classes", e->extraClassesFile, "Add these classes (one name per line) to the run's")
        ->check(CLI::ExistingFile);
    exp->add_flag("--trained-classes-only", e->trainedClassesOnly,
                  "Only the classes the run was tuned on (a base-to-new run's bundle has its new classes too by default)");
    exp->add_flag("--json", e->json, "Machine-readable output");
    exp->callback([e] {
        if (e->out.empty() && e->classifier.empty())
            throw Error("give --out (a bundle) and/or --classifier (a folder)");
        runExport(*e);
    });

    auto *pred = app.add_subcommand("predict", "Classify images with an exported bundle");
    auto p = std::make_shared<PredictCommand>();
    pred->add_option("--model", p->model, "The bundle (*.sepmodel)")->required();
    pred->add_option("images", p->images, "Image files or folders")->required();
    pred->add_option("--top-k", p->topK, "Classes to show per image")->capture_default_str()->check(wholeNumberAtLeast(1));
    pred->add_option("--batch", p->batch, "Images per batch")->capture_default_str()->check(wholeNumberAtLeast(1));
    pred->add_option("--explain", p->explain, "Folder for one PNG per image showing the tokens SEP selected per block");
    pred->add_flag("--cls-attention", p->clsAttention, "With --explain: the backbone's [CLS] attention beside each block");
    pred->add_option("--classes", p->classesFile,
                     "Score exactly these classes (one name per line) instead of the bundle's; no retraining needed")
        ->check(CLI::ExistingFile);
    pred->add_option("--extra-classes", p->extraClassesFile, "Score these classes (one name per line) beside the bundle's")
        ->check(CLI::ExistingFile);
    pred->add_option("--weights", p->weights, "The backbone, when the bundle neither includes it nor has it beside it");
    pred->add_flag("--trust-weights", p->trustWeights, "Use --weights even if its checksum differs from the recorded one");
    pred->add_option("--vocab", p->vocab, "The backbone's vocabulary, when not beside the weights");
    pred->add_option("--fusion", p->fusion, "SEP: per-sample (batch-independent) or reference, instead of the bundle's mode")
        ->check(CLI::IsMember({"per-sample", "reference"}));
    pred->add_option("--device", p->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    pred->add_flag("--json", p->json, "Machine-readable output (every class's logit per image, in class order)");
    pred->callback([p] { runPredict(*p); });

    auto *imp = app.add_subcommand("import-reference",
                                   "Turn a prompt-learner checkpoint of the released Python SEP code into a bundle");
    auto i = std::make_shared<ImportCommand>();
    imp->add_option("--checkpoint", i->checkpoint, "prompt_learner/model.pth.tar-N")->required();
    imp->add_option("--weights", i->weights, "The CLIP weights it was trained on (e.g. ViT-B-16.pt)")->required();
    imp->add_option("--classes", i->classes, "Class names, one per line in label order")->required();
    imp->add_option("--template", i->templ, "The dataset's hand-crafted template")->capture_default_str();
    imp->add_option("--config", i->config, "JSON with head counts (Hugging Face layout)");
    imp->add_option("--vocab", i->vocab, "Vocabulary, when not beside the weights");
    imp->add_option("--out", i->out, "Bundle to write")->required();
    imp->add_flag("--include-backbone", i->includeBackbone, "Put the backbone inside the bundle");
    imp->add_flag("--zip", i->zip, "Write one zip file");
    imp->add_flag("--json", i->json, "Machine-readable output");
    imp->callback([i] { runImport(*i); });
}

} // namespace sep::cli
