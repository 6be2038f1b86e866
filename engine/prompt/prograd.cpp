#include "engine/prompt/prograd.h"

#include "engine/core/error.h"
#include "engine/prompt/text_prompts.h"

#include <torch/torch.h>

namespace sep::prompt {

const OptionTable<ProGradOptions> &ProGradOptions::table()
{
    static const OptionTable<ProGradOptions> t{contextFields<ProGradOptions>({
        templateField(&ProGradOptions::templ, "template", "Prompt template",
                      "Hand-crafted prompt of the zero-shot prediction the updates stay aligned with; {} stands for the class name"),
        realField(&ProGradOptions::lambda, "prograd_lambda", "Projection strength",
                  "λ: share of the gradient's component against the zero-shot direction that is removed (1: all of it)", 0, 1),
        realField(&ProGradOptions::temperature, "kl_temperature", "KL temperature",
                  "T: both predictions are softened by T in the KL divergence", 0.01, 100),
    })};
    return t;
}

ProGrad::ProGrad(clip::LoadedClip &clip, ProGradOptions options)
    : CoOp(clip, contextOf(options)), m_pgOptions(std::move(options))
{
}

void ProGrad::setClasses(const std::vector<std::string> &classNames)
{
    CoOp::setClasses(classNames);
    m_handFeatures = encodeTemplates(*m_clip, classNames, m_pgOptions.templ);
}

void ProGrad::addTerms(LossTerms &terms, const StepFeatures &step)
{
    // KL(p_zs ‖ p) · T², averaged over the batch; the zero-shot side carries no gradient.
    const double t = m_pgOptions.temperature;
    const auto zeroShot = (m_clip->model->logit_scale.exp() * torch::matmul(step.image, m_handFeatures.to(step.image.dtype()).t())).detach();
    const auto target = torch::log_softmax(zeroShot / t, -1);
    const auto prompted = torch::log_softmax(step.logits / t, -1);
    m_kl = (target.exp() * (target - prompted)).sum(-1).mean() * (t * t);
    terms.parts["kl"] = m_kl.item<double>();
}

void ProGrad::backward(const LossTerms &terms)
{
    if (!m_kl.defined())
        throw Error("prograd: backward() without a loss() before it");
    const auto params = trainableParameters();
    const auto kl = torch::autograd::grad({m_kl}, params, {}, /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true);
    const auto ce = torch::autograd::grad({terms.total}, params, {}, /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
    m_kl = at::Tensor();
    for (size_t i = 0; i < params.size(); ++i) {
        if (!ce[i].defined())
            continue;
        at::Tensor g = ce[i];
        if (kl[i].defined()) {
            const auto dot = (ce[i] * kl[i]).sum();
            const auto norm2 = kl[i].pow(2).sum();
            if (dot.item<double>() < 0 && norm2.item<double>() > 0)
                g = ce[i] - m_pgOptions.lambda * (dot / norm2) * kl[i];
        }
        auto p = params[i];
        if (p.grad().defined())
            p.mutable_grad().add_(g);
        else
            p.mutable_grad() = g.detach().clone();
    }
}

} // namespace sep::prompt
