#pragma once
// ProGrad (Zhu et al., "Prompt-aligned Gradient for Prompt Tuning", ICCV 2023): CoOp whose updates
// never go against what zero-shot CLIP predicts. Each step has two gradients of the context:
// g_ce of the cross-entropy, and g_kl of KL(zero-shot prediction ‖ prompted prediction) at
// temperature T. When they conflict (g_ce · g_kl < 0) the step keeps only the part of g_ce that
// does not oppose g_kl:
//
//   g = g_ce − λ · (g_ce · g_kl / ‖g_kl‖²) · g_kl        (λ = 1: the projection of the paper)
//
// otherwise g = g_ce. The zero-shot prediction is the hand-crafted template's ("a photo of a {}.").
// Evaluation is CoOp's.
//
//   sep::prompt::ProGrad pg(clip, sep::prompt::ProGradOptions::defaults());
//   pg.setClasses(names);
//   auto terms = pg.loss(batch);   // terms.total: the cross-entropy; terms.parts: cross_entropy, kl
//   pg.backward(terms);            // the projected gradient into the context's .grad()

#include "engine/prompt/coop.h"

namespace sep::prompt {

struct ProGradOptions {
    int64_t nCtx = 0;                           // as many as ctx_init's tokens: 4 with CLIP's vocabulary
    std::string ctxInit = "a photo of a";
    double initStd = 0.02;                      // when ctx_init is empty
    std::string templ = "a photo of a {}.";     // the zero-shot prediction the updates stay aligned with
    double lambda = 1.0;                        // how much of the conflicting component is removed
    double temperature = 1.0;                   // T of the KL divergence
    static ProGradOptions defaults() { return {}; }
    static const OptionTable<ProGradOptions> &table();
};

class ProGrad : public CoOp {
public:
    ProGrad(clip::LoadedClip &clip, ProGradOptions options = {});

    std::string name() const override { return "prograd"; }
    nlohmann::json options() const override { return ProGradOptions::table().toJson(m_pgOptions); }
    void setClasses(const std::vector<std::string> &classNames) override;
    void backward(const LossTerms &terms) override;

protected:
    void addTerms(LossTerms &terms, const StepFeatures &step) override;

private:
    ProGradOptions m_pgOptions;
    at::Tensor m_handFeatures;   // [C, E] normalized, frozen
    at::Tensor m_kl;             // the last step's KL term, with its graph, for backward()
};

} // namespace sep::prompt
