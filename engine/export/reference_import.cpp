#include "engine/export/reference_import.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/io/torch_archive.h"

#include <torch/torch.h>

#include <sstream>

namespace sep::exporting {
namespace {

bool startsWith(const std::string &s, const std::string &p) { return s.rfind(p, 0) == 0; }

// Reference sub-key of one fusion module → engine sub-key.
const std::vector<std::pair<std::string, std::string>> kFusionKeys = {
    {"scale1", "scale1"},
    {"scale2", "scale2"},
    {"ln_pa_1_visual.weight", "ln1.weight"},
    {"ln_pa_1_visual.bias", "ln1.bias"},
    {"ln_pa_2_visual.weight", "ln2.weight"},
    {"ln_pa_2_visual.bias", "ln2.bias"},
    {"promt_attention_visual.in_proj_weight", "in_proj_weight"},
    {"promt_attention_visual.in_proj_bias", "in_proj_bias"},
    {"promt_attention_visual.out_proj.weight", "out_proj.weight"},
    {"promt_attention_visual.out_proj.bias", "out_proj.bias"},
    {"mlp_pa_visual.c_fc1.weight", "fc1.weight"},
    {"mlp_pa_visual.c_proj.weight", "fc2.weight"},
};

std::string shapeText(at::IntArrayRef s)
{
    std::ostringstream o;
    o << s;
    return o.str();
}

} // namespace

TensorMap mapReferenceTensors(const TensorMap &reference, const std::string &source, int64_t textLayers,
                              int64_t visionLayers, std::vector<std::string> *notes)
{
    TensorMap out;
    std::set<std::string> used;
    auto take = [&](const std::string &key, const std::string &what) -> at::Tensor {
        auto it = reference.find(key);
        if (it == reference.end())
            throw Error(source + ": '" + key + "' is missing (" + what + "); is this a SEP prompt-learner checkpoint?");
        used.insert(key);
        return it->second.to(torch::kFloat);
    };
    out["ctx"] = take("ctx", "the text prompt vectors");
    out["ctx_visual"] = take("ctx_visual", "the image prompt vectors");
    auto fusion = [&](const std::string &from, const std::string &to, int64_t layers, const std::string &tower) {
        // Module i serves block i + 1; the last one stored (before a block that does not exist) is never used.
        for (int64_t i = 0; i + 1 < layers; ++i)
            for (const auto &[refKey, engineKey] : kFusionKeys) {
                auto t = take(from + std::to_string(i) + "." + refKey,
                              "the " + tower + " fusion before block " + std::to_string(i + 1));
                if (t.dim() == 0)
                    t = t.reshape({1});
                out[to + std::to_string(i) + "." + engineKey] = t;
            }
    };
    fusion("prompt_projections.", "text_fusion.", textLayers, "text");
    fusion("visual_prompts.", "image_fusion.", visionLayers, "image");
    if (reference.count("VPT_fc.weight"))
        out["prototypes"] = take("VPT_fc.weight", "the prototype head");
    if (notes) {
        int64_t ignored = 0;
        for (const auto &[key, t] : reference)
            if (!used.count(key))
                ++ignored;
        if (ignored)
            notes->push_back(std::to_string(ignored) + " reference tensors are not needed to predict (unused modules, "
                                                        "cached token embeddings) and were left out");
    }
    return out;
}

std::unique_ptr<prompt::SepMethod> importReference(const std::string &checkpoint, clip::LoadedClip &clip,
                                                   const std::vector<std::string> &classNames, const std::string &templ)
{
    const io::PickleValue root = io::readTorchArchive(checkpoint);
    const io::PickleValue *dict = root.find("state_dict");
    TensorMap raw = io::collectTensors(dict ? *dict : root);
    TensorMap reference;
    for (auto &[key, t] : raw)
        reference[startsWith(key, "module.") ? key.substr(7) : key] = t;
    const auto &config = clip.config();
    const auto mapped = mapReferenceTensors(reference, checkpoint, config.text.layers, config.vision.layers);

    const auto &ctx = mapped.at("ctx"), &ctxVisual = mapped.at("ctx_visual");
    if (ctx.dim() != 2 || ctx.size(1) != config.text.width)
        throw Error(checkpoint + ": 'ctx' has shape " + shapeText(ctx.sizes()) + ", but the backbone's text width is "
                    + std::to_string(config.text.width) + "; was it trained on another backbone?");
    if (ctxVisual.dim() != 2 || ctxVisual.size(1) != config.vision.width)
        throw Error(checkpoint + ": 'ctx_visual' has shape " + shapeText(ctxVisual.sizes()) + ", but the backbone's image width is "
                    + std::to_string(config.vision.width) + "; was it trained on another backbone?");
    prompt::SepOptions o;
    o.nCtx = ctx.size(0);
    o.kText = o.nCtx;
    o.nCtxVisual = ctxVisual.size(0);
    o.kImage = o.nCtxVisual;
    o.firstLayer = 1;
    o.fusion = prompt::Fusion::Reference;
    o.templ = templ;
    o.fusionHidden = mapped.at("text_fusion.0.fc1.weight").size(0);
    auto sep = std::make_unique<prompt::SepMethod>(clip, o);
    sep->setClasses(classNames);
    if (mapped.count("prototypes") && mapped.at("prototypes").size(0) != static_cast<int64_t>(classNames.size())) {
        // The head belongs to the training classes; it does not take part in predictions.
        TensorMap withoutHead = mapped;
        withoutHead.erase("prototypes");
        withoutHead["prototypes"] = torch::zeros({0, config.embedDim});
        sep->loadState(withoutHead, checkpoint);
    } else {
        sep->loadState(mapped, checkpoint);
    }
    return sep;
}

} // namespace sep::exporting
