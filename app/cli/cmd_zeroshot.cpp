// sep zeroshot: zero-shot CLIP classification of an image folder (one sub-folder per class).
#include "app/cli/common.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/prompt/zeroshot.h"
#include "engine/train/evaluator.h"
#include "engine/train/report.h"

#include <torch/torch.h>

#include <filesystem>
#include <iomanip>
#include <iostream>

namespace sep::cli {
namespace fs = std::filesystem;
namespace {

struct ZeroShotOptions {
    ModelOptions model;
    std::string data;
    std::string templ = "a photo of a {}.";
    std::string split;
    std::string out;
    int64_t batch = 64;
    bool json = false;
};

void run(const ZeroShotOptions &o)
{
    const Hooks hooks = terminalHooks(o.json);
    const std::string outDir = !o.out.empty() ? o.out : "zeroshot-" + fs::path(o.data).lexically_normal().filename().string();
    requireOutputOutside(outDir, o.data, "--out");
    const auto folder = data::ImageFolder::scan(o.data);
    for (const auto &issue : folder.issues)
        hooks.warn(issue.path + ": " + issue.reason);
    const std::string split = !o.split.empty() ? o.split : folder.hasSplits() && folder.splits.count("test") ? "test" : "all";
    const auto images = folder.split(split);
    if (images.empty())
        throw Error(o.data + ": no images to classify in split '" + split + "'");

    auto clip = o.model.load(o.json);
    prompt::ZeroShot zs(clip, {o.templ});
    zs.setClasses(folder.classNames);
    train::EvalOptions eo;
    eo.batchSize = o.batch;
    const auto result = train::evaluate(images, zs, clip.config().vision.imageSize, eo, hooks);

    train::writeEvaluation(outDir, folder.classNames, result);
    const auto summary = train::evaluationJson(folder.classNames, result);
    if (o.json) {
        auto j = summary;
        j["out"] = outDir;
        j["template"] = o.templ;
        j["split"] = split;
        printJson(j);
        return;
    }
    const auto perClass = result.confusion.perClassAccuracy();
    const auto counts = result.confusion.perClassCount();
    std::cout << "zero-shot \"" << o.templ << "\" on " << o.data << " (" << split << "): " << result.confusion.total()
              << " images, " << folder.numClasses() << " classes\n\n";
    size_t width = 5;
    for (const auto &n : folder.classNames)
        width = std::max(width, n.size());
    std::cout << std::left << std::setw(static_cast<int>(width)) << "class" << "  images  accuracy\n";
    for (size_t c = 0; c < folder.classNames.size(); ++c)
        std::cout << std::left << std::setw(static_cast<int>(width)) << folder.classNames[c] << "  " << std::right
                  << std::setw(6) << counts[c] << "  " << std::setw(8)
                  << (counts[c] ? percent(perClass[c]) : std::string("-")) << "\n";
    std::cout << "\naccuracy: " << percent(result.confusion.accuracy()) << " (" << result.confusion.correct() << "/"
              << result.confusion.total() << ")";
    if (!result.failures.empty())
        std::cout << "; " << result.failures.size() << " unreadable image(s) left out";
    std::cout << "\nwrote " << outDir << "/{summary.json,confusion.csv,per_class.csv,predictions.csv}\n";
}

} // namespace

void addZeroShotCommand(CLI::App &app)
{
    auto *cmd = app.add_subcommand("zeroshot", "Classify an image folder with zero-shot CLIP");
    auto o = std::make_shared<ZeroShotOptions>();
    o->model.addTo(*cmd);
    cmd->add_option("--data", o->data, "Image folder: one sub-folder per class (optionally under train/val/test)")
        ->required();
    cmd->add_option("--template", o->templ, "Prompt template; {} is the class name")->capture_default_str();
    cmd->add_option("--split", o->split, "train, val, test or all (default: test when present, else all)");
    cmd->add_option("--out", o->out, "Folder for the confusion matrix and predictions (default: zeroshot-<folder>)");
    cmd->add_option("--batch", o->batch, "Images per batch")->capture_default_str()->check(wholeNumberAtLeast(1));
    cmd->add_flag("--json", o->json, "Machine-readable output");
    cmd->callback([o] { run(*o); });
}

} // namespace sep::cli
