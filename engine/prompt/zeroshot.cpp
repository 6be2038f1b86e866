#include "engine/prompt/zeroshot.h"

#include "engine/core/error.h"
#include "engine/prompt/text_prompts.h"

#include <torch/torch.h>

namespace sep::prompt {

const OptionTable<ZeroShotOptions> &ZeroShotOptions::table()
{
    static const OptionTable<ZeroShotOptions> t{{
        templateField(&ZeroShotOptions::templ, "template", "Prompt template",
                  "Hand-crafted prompt; {} stands for the class name (e.g. \"a photo of a {}, a type of pet.\")"),
    }};
    return t;
}

ZeroShot::ZeroShot(clip::LoadedClip &clip, ZeroShotOptions options) : Method(clip), m_options(std::move(options)) {}

void ZeroShot::setClasses(const std::vector<std::string> &classNames)
{
    m_classes = classNames;
    m_text = encodeTemplates(*m_clip, classNames, m_options.templ);
}

LossTerms ZeroShot::loss(const Batch &)
{
    throw Error("zero-shot CLIP has nothing to train; evaluate it directly");
}

ScoreOutput ZeroShot::scoreBatch(const at::Tensor &pixels, const ScoreRequest &request)
{
    torch::NoGradGuard noGrad;
    if (!m_text.defined())
        throw Error("zero-shot: no class list set");
    ScoreOutput out;
    std::vector<at::Tensor> attention;
    auto image = m_clip->model->visual->forward(pixels.to(device()), request.clsAttention ? &attention : nullptr);
    image = image / image.norm(2, -1, true);
    out.logits = m_clip->model->logit_scale.exp() * torch::matmul(image, m_text.t());
    if (request.selections || request.clsAttention)
        out.images.resize(static_cast<size_t>(pixels.size(0)));
    const auto &v = m_clip->config().vision;
    appendClsAttention(out.images, attention, v.gridSize() * v.gridSize());
    return out;
}

} // namespace sep::prompt
