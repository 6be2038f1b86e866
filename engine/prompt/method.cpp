#include "engine/prompt/method.h"

#include "engine/clip/weights.h"
#include "engine/core/error.h"
#include "engine/prompt/registry.h"

#include <torch/torch.h>

namespace sep::prompt {

std::vector<at::Tensor> Method::trainableParameters()
{
    std::vector<at::Tensor> out;
    for (auto &[name, t] : namedParameters())
        if (t.requires_grad())
            out.push_back(t);
    return out;
}

TensorMap Method::state()
{
    TensorMap out;
    for (auto &[name, t] : namedParameters())
        out[name] = t.detach().to(torch::kCPU).clone();
    return out;
}

void Method::loadState(const TensorMap &tensors, const std::string &source)
{
    torch::NoGradGuard noGrad;
    clip::requireFiniteWeights(tensors, source);
    adoptShapes(tensors);
    for (auto &[name, t] : namedParameters()) {
        auto it = tensors.find(name);
        if (it == tensors.end())
            throw Error(source + ": has no tensor '" + name + "' for the " + this->name() + " method");
        if (it->second.numel() == 0) {
            std::ostringstream msg;
            msg << source << ": tensor '" << name << "' is empty (shape " << it->second.sizes()
                << "); a tuned prompt needs at least one row. The file is damaged: export or train it again.";
            throw Error(msg.str());
        }
        if (!it->second.sizes().equals(t.sizes())) {
            std::ostringstream msg;
            msg << source << ": tensor '" << name << "' has shape " << it->second.sizes() << ", the " << this->name()
                << " method with these options needs " << t.sizes();
            throw Error(msg.str());
        }
        t.copy_(it->second);
    }
    invalidateCaches();
}

ScoreOutput Method::score(const at::Tensor &pixels, const ScoreRequest &request)
{
    torch::NoGradGuard noGrad;
    return scoreBatch(pixels, request);
}

c10::Device Method::device() const { return m_clip->model->logit_scale.device(); }

at::Tensor FrozenImageFeatures::get(clip::LoadedClip &clip, const Batch &batch)
{
    torch::NoGradGuard noGrad;
    auto compute = [&] {
        auto f = clip.model->encodeImage(batch.pixels.to(clip.model->logit_scale.device()));
        return f / f.norm(2, -1, true);
    };
    if (batch.augmented || batch.ids.size() != static_cast<size_t>(batch.pixels.size(0)))
        return compute();
    bool all = true;
    for (auto id : batch.ids)
        all = all && m_cache.count(id);
    if (all) {
        std::vector<at::Tensor> rows;
        for (auto id : batch.ids)
            rows.push_back(m_cache.at(id));
        return torch::stack(rows);
    }
    auto f = compute();
    for (size_t i = 0; i < batch.ids.size(); ++i)
        m_cache[batch.ids[i]] = f[static_cast<int64_t>(i)];
    return f;
}

void appendClsAttention(std::vector<ImageSelection> &images, const std::vector<at::Tensor> &perBlock, int64_t patches)
{
    for (const auto &a : perBlock) {
        const auto rows = a.slice(1, 1, 1 + patches).to(torch::kCPU, torch::kFloat).contiguous();
        images.resize(static_cast<size_t>(rows.size(0)));
        for (int64_t b = 0; b < rows.size(0); ++b)
            images[static_cast<size_t>(b)].clsAttention.emplace_back(rows[b].data_ptr<float>(),
                                                                     rows[b].data_ptr<float>() + patches);
    }
}

// The method list lives in registry.cpp; these keep the callers' short forms.
std::unique_ptr<Method> makeMethod(const std::string &name, clip::LoadedClip &clip, const nlohmann::json &options)
{
    return methodEntry(name).make(clip, options);
}

void makeMethodOptionsCheck(const std::string &name, const nlohmann::json &options)
{
    methodEntry(name).checkOptions(options);
}

std::vector<std::string> methodNames()
{
    std::vector<std::string> names;
    for (const auto &e : methodRegistry())
        names.push_back(e.name);
    return names;
}

std::vector<OptionSpec> methodOptionSpecs(const std::string &name) { return methodEntry(name).options; }

} // namespace sep::prompt
