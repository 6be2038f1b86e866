#include "engine/prompt/kgcoop.h"

#include "engine/prompt/text_prompts.h"

#include <torch/torch.h>

namespace sep::prompt {

const OptionTable<KgCoOpOptions> &KgCoOpOptions::table()
{
    static const OptionTable<KgCoOpOptions> t{{
        intField(&KgCoOpOptions::nCtx, "n_ctx", "Context tokens", "Learnable context vectors before the class name (0: one per token of ctx_init's words)", 0, 64),
        textField(&KgCoOpOptions::ctxInit, "ctx_init", "Initial words",
                  "Words whose embeddings start the context vectors (as many tokens as n_ctx, e.g. \"a photo of a\"); "
                  "empty: random"),
        realField(&KgCoOpOptions::initStd, "init_std", "Initial spread",
                  "Standard deviation of the context vectors' Gaussian initialisation", 0, 1),
        templateField(&KgCoOpOptions::templ, "template", "Prompt template",
                      "Hand-crafted prompt whose text features the learned ones stay near; {} stands for the class name"),
        realField(&KgCoOpOptions::weight, "kg_weight", "Knowledge weight",
                  "λ: weight of the mean squared distance between learned and hand-crafted class text features", 0, 1000),
    }};
    return t;
}

namespace {

CoOpOptions coopOptions(const KgCoOpOptions &o)
{
    CoOpOptions c;
    c.nCtx = o.nCtx;
    c.initStd = o.initStd;
    c.ctxInit = o.ctxInit;
    return c;
}

} // namespace

KgCoOp::KgCoOp(clip::LoadedClip &clip, KgCoOpOptions options) : CoOp(clip, coopOptions(options)), m_kgOptions(std::move(options))
{
}

void KgCoOp::setClasses(const std::vector<std::string> &classNames)
{
    CoOp::setClasses(classNames);
    m_handFeatures = encodeTemplates(*m_clip, classNames, m_kgOptions.templ);
}

void KgCoOp::addTerms(LossTerms &terms, const at::Tensor &text)
{
    const auto knowledge = (text - m_handFeatures.to(text.dtype())).pow(2).sum(-1).mean();
    terms.parts["knowledge"] = knowledge.item<double>();
    terms.total = terms.total + m_kgOptions.weight * knowledge;
}

} // namespace sep::prompt
