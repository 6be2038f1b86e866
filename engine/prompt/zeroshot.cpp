#include "engine/prompt/zeroshot.h"

#include "engine/core/error.h"

#include <torch/torch.h>

namespace sep::prompt {

std::string fillTemplate(const std::string &templ, const std::string &className)
{
    std::string name = className;
    std::replace(name.begin(), name.end(), '_', ' ');
    const auto pos = templ.find("{}");
    if (pos == std::string::npos)
        return templ + " " + name;
    return templ.substr(0, pos) + name + templ.substr(pos + 2);
}

ZeroShot::ZeroShot(clip::LoadedClip &clip, std::string templ) : m_clip(clip), m_template(std::move(templ))
{
    if (!m_clip.tokenizer)
        throw Error("zero-shot classification needs the model's vocabulary");
}

at::Tensor ZeroShot::encodeClasses(const std::vector<std::string> &classNames, int64_t chunk)
{
    torch::NoGradGuard noGrad;
    const auto device = m_clip.model->logit_scale.device();
    const int64_t context = m_clip.config().text.contextLength;
    std::vector<at::Tensor> parts;
    for (size_t b = 0; b < classNames.size(); b += static_cast<size_t>(chunk)) {
        const size_t e = std::min(classNames.size(), b + static_cast<size_t>(chunk));
        auto ids = torch::zeros({static_cast<int64_t>(e - b), context}, torch::kLong);
        for (size_t i = b; i < e; ++i) {
            const auto tokens = m_clip.tokenizer->encode(fillTemplate(m_template, classNames[i]), context);
            std::copy(tokens.begin(), tokens.end(), ids[static_cast<int64_t>(i - b)].data_ptr<int64_t>());
        }
        auto features = m_clip.model->encodeText(ids.to(device));
        parts.push_back(features / features.norm(2, -1, true));
    }
    return torch::cat(parts, 0);
}

at::Tensor ZeroShot::encodeImages(const at::Tensor &pixels)
{
    torch::NoGradGuard noGrad;
    auto features = m_clip.model->encodeImage(pixels.to(m_clip.model->logit_scale.device()));
    return features / features.norm(2, -1, true);
}

at::Tensor ZeroShot::logits(const at::Tensor &pixels, const at::Tensor &classFeatures)
{
    return m_clip.model->logit_scale.exp() * torch::matmul(encodeImages(pixels), classFeatures.t());
}

} // namespace sep::prompt
