#pragma once
// KgCoOp (Yao et al., "Visual-Language Prompt Tuning with Knowledge-guided Context Optimization",
// CVPR 2023): CoOp whose learned class features are kept near the hand-crafted ones, so that what
// CLIP knows about classes never seen in training is not forgotten:
//
//   loss = cross-entropy + λ · mean over classes of ‖w_c − w_c^clip‖²
//
// w_c: the normalized text feature of the learned prompt of class c; w_c^clip: that of the template
// ("a photo of a {}."), computed once per class list by the frozen model. λ = 8 and the context
// initialised from "a photo of a" (4 vectors with CLIP's vocabulary) are the paper's few-shot settings. (The released code
// writes the term as 1 − mean cosine, which for unit vectors is half of the mean squared distance.)
//
//   sep::prompt::KgCoOp kg(clip, sep::prompt::KgCoOpOptions::defaults());
//   kg.setClasses(names);
//   auto terms = kg.loss(batch);   // terms.parts: cross_entropy, knowledge

#include "engine/prompt/coop.h"

namespace sep::prompt {

struct KgCoOpOptions {
    int64_t nCtx = 0;                           // as many as ctx_init's tokens: 4 with CLIP's vocabulary
    std::string ctxInit = "a photo of a";
    double initStd = 0.02;                      // when ctx_init is empty
    std::string templ = "a photo of a {}.";     // the hand-crafted prompt the features stay near
    double weight = 8.0;                        // λ
    static KgCoOpOptions defaults() { return {}; }
    static const OptionTable<KgCoOpOptions> &table();
};

class KgCoOp : public CoOp {
public:
    KgCoOp(clip::LoadedClip &clip, KgCoOpOptions options = {});

    std::string name() const override { return "kgcoop"; }
    nlohmann::json options() const override { return KgCoOpOptions::table().toJson(m_kgOptions); }
    void setClasses(const std::vector<std::string> &classNames) override;

protected:
    void addTerms(LossTerms &terms, const StepFeatures &step) override;

private:
    KgCoOpOptions m_kgOptions;
    at::Tensor m_handFeatures;   // [C, E] normalized, frozen
};

} // namespace sep::prompt
