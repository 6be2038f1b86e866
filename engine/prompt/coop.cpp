#include "engine/prompt/coop.h"

#include "engine/core/error.h"

#include <torch/torch.h>

namespace sep::prompt {

const OptionTable<CoOpOptions> &CoOpOptions::table()
{
    static const OptionTable<CoOpOptions> t{contextFields<CoOpOptions>({})};
    return t;
}

CoOp::CoOp(clip::LoadedClip &clip, CoOpOptions options) : Method(clip), m_options(options)
{
    const int64_t width = clip.config().text.width;
    if (!m_options.ctxInit.empty())
        m_ctx = contextFromWords(clip, m_options.ctxInit, m_options.nCtx);
    else if (m_options.nCtx >= 1)
        m_ctx = (torch::randn({m_options.nCtx, width}) * m_options.initStd).to(device());
    else
        throw Error("n_ctx 0 takes the context's length from ctx_init, which is empty; give n_ctx ≥ 1 or "
                    "ctx_init words");
    m_ctx.set_requires_grad(true);
}

void CoOp::setClasses(const std::vector<std::string> &classNames)
{
    m_classes = classNames;
    const int64_t nCtx = m_ctx.size(0);   // n_ctx, or the words' token count
    m_prompts = LearnablePrompts::build(*m_clip, classNames, nCtx, 1 + nCtx);
    invalidateCaches();
}

at::Tensor CoOp::encodeClasses()
{
    auto &text = *m_clip->model->text;
    auto x = m_prompts.embed(*m_clip, m_ctx);
    const auto mask = text.causalMask(m_prompts.length, x.device());
    for (int64_t i = 0; i < text.layers(); ++i)
        x = text.block(i)->forward(x, mask);
    auto t = text.head(x, m_prompts.eot);
    return t / t.norm(2, -1, true);
}

at::Tensor CoOp::textClassifier()
{
    torch::NoGradGuard noGrad;
    if (!m_textCache.defined())
        m_textCache = encodeClasses();
    return m_textCache;
}

LossTerms CoOp::loss(const Batch &batch)
{
    if (m_prompts.size() == 0)
        throw Error("coop: no class list set");
    invalidateCaches();
    const auto image = m_images.get(*m_clip, batch);
    const auto text = encodeClasses();
    const auto logits = m_clip->model->logit_scale.exp() * torch::matmul(image, text.t());
    LossTerms terms;
    terms.total = torch::cross_entropy_loss(logits, batch.labels.to(logits.device()));
    terms.parts["cross_entropy"] = terms.total.item<double>();
    terms.logits = logits.detach();
    addTerms(terms, {image, text, logits});
    return terms;
}

ScoreOutput CoOp::scoreBatch(const at::Tensor &pixels, const ScoreRequest &request)
{
    torch::NoGradGuard noGrad;
    if (m_prompts.size() == 0)
        throw Error("coop: no class list set");
    if (!m_textCache.defined())
        m_textCache = encodeClasses();
    std::vector<at::Tensor> attention;
    auto image = m_clip->model->visual->forward(pixels.to(device()), request.clsAttention ? &attention : nullptr);
    image = image / image.norm(2, -1, true);
    ScoreOutput out;
    out.logits = m_clip->model->logit_scale.exp() * torch::matmul(image, m_textCache.t());
    if (request.selections || request.clsAttention)
        out.images.resize(static_cast<size_t>(pixels.size(0)));
    const auto &v = m_clip->config().vision;
    appendClsAttention(out.images, attention, v.gridSize() * v.gridSize());
    return out;
}

} // namespace sep::prompt
