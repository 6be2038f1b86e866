#include "engine/prompt/registry.h"

#include "engine/core/error.h"
#include "engine/core/text.h"
#include "engine/prompt/coop.h"
#include "engine/prompt/kgcoop.h"
#include "engine/prompt/prograd.h"
#include "engine/prompt/sep_method.h"
#include "engine/prompt/zeroshot.h"

#include <torch/torch.h>

namespace sep::prompt {
namespace {

// An entry for a method whose options struct is `Options` (with table()) and whose class `M` is
// constructed from (clip, Options).
template <typename M, typename Options>
MethodEntry entry(std::string name, std::string title, std::string description, bool trains,
                  std::vector<MethodPreset> presets)
{
    MethodEntry e;
    const std::string context = name + " options";
    e.name = std::move(name);
    e.title = std::move(title);
    e.description = std::move(description);
    e.trains = trains;
    e.options = Options::table().specs();
    e.checkOptions = [context](const nlohmann::json &options) { Options::table().fromJson(options, context); };
    e.make = [context](clip::LoadedClip &clip, const nlohmann::json &options) -> std::unique_ptr<Method> {
        return std::make_unique<M>(clip, Options::table().fromJson(options, context));
    };
    e.presets = std::move(presets);
    return e;
}

// The published few-shot recipe (SEP_SPEC) and a quick one; the same for every method that trains,
// so that methods are compared on equal terms.
std::vector<MethodPreset> trainingPresets()
{
    return {
        {"Base-to-new (published protocol)",
         "16 shots per base class, 50 epochs, batch 32, learning rate 0.0025; tested on base and new classes.",
         {{"shots", 16}, {"base_to_new", true}, {"train", {{"epochs", 50}, {"batch", 32}, {"lr", 0.0025}}}}},
        {"Cross-dataset (published protocol)", "16 shots on all classes, 3 epochs, batch 32.",
         {{"shots", 16}, {"base_to_new", false}, {"train", {{"epochs", 3}, {"batch", 32}, {"lr", 0.0025}}}}},
        {"Quick look", "4 shots, 5 epochs: minutes on a laptop, enough to see the curves move.",
         {{"shots", 4}, {"base_to_new", true}, {"train", {{"epochs", 5}, {"batch", 16}, {"lr", 0.0025}}}}},
    };
}

std::vector<MethodEntry> build()
{
    return {
        entry<ZeroShot, ZeroShotOptions>(
            "zeroshot", "Zero-shot CLIP",
            "No training: each class is described by a hand-written template (\"a photo of a {}.\"). "
            "The baseline every tuned method is compared with.",
            false,
            {{"Zero-shot", "Evaluates the hand-crafted prompts on the base and new classes.",
              {{"shots", 16}, {"base_to_new", true}}}}),
        entry<CoOp, CoOpOptions>("coop", "CoOp",
                                 "Learns context vectors that replace the words before the class name. Only the "
                                 "text side learns; fast on a CPU.",
                                 true, trainingPresets()),
        entry<KgCoOp, KgCoOpOptions>("kgcoop", "KgCoOp",
                                     "CoOp whose learned class features are kept near the hand-written prompt's, so "
                                     "classes never trained on keep what CLIP knew of them. As fast as CoOp.",
                                     true, trainingPresets()),
        entry<ProGrad, ProGradOptions>("prograd", "ProGrad",
                                       "CoOp whose updates never oppose zero-shot CLIP's prediction: the part of each "
                                       "step that would is projected away. As fast as CoOp.",
                                       true, trainingPresets()),
        entry<SepMethod, SepOptions>(
            "sep", "SEP",
            "Self-Enhanced Prompt Tuning: text and image prompts rebuilt before every block from the tokens the "
            "pre-trained model itself finds most important. Best on new classes; slower.",
            true, trainingPresets()),
    };
}

} // namespace

const std::vector<MethodEntry> &methodRegistry()
{
    static const std::vector<MethodEntry> registry = build();
    return registry;
}

const MethodEntry *findMethod(const std::string &name)
{
    for (const auto &e : methodRegistry())
        if (e.name == name)
            return &e;
    return nullptr;
}

const MethodEntry &methodEntry(const std::string &name)
{
    if (const MethodEntry *e = findMethod(name))
        return *e;
    std::string known;
    for (const auto &e : methodRegistry())
        known += (known.empty() ? "" : ", ") + e.name;
    throw Error("unknown method '" + shortened(name, 40) + "'; choose " + known);
}

} // namespace sep::prompt
