#pragma once
// CoOp (Zhou et al., "Learning to Prompt for Vision-Language Models"): n_ctx context vectors shared
// by all classes replace the words before the class name, "X X … X {name}."; only the text side
// learns, so image features of images that are not augmented are computed once.
//
//   sep::prompt::CoOp coop(clip, sep::prompt::CoOpOptions::defaults());
//   coop.setClasses(names);
//   auto terms = coop.loss(batch);    // cross-entropy on exp(logit_scale) · cos(image, prompt)

#include "engine/core/options.h"
#include "engine/prompt/method.h"
#include "engine/prompt/text_prompts.h"

namespace sep::prompt {

struct CoOpOptions {
    int64_t nCtx = 16;          // the CoOp paper's default
    double initStd = 0.02;
    std::string ctxInit;        // words whose embeddings start the context ("a photo of a"); "": random
    static CoOpOptions defaults() { return {}; }
    static const OptionTable<CoOpOptions> &table();
};

// The context options every CoOp variant shares (n_ctx, ctx_init, init_std), for an options struct
// T with members nCtx, ctxInit and initStd: the table's fields, then `more` of the variant's own.
template <typename T>
std::vector<OptionField<T>> contextFields(std::vector<OptionField<T>> more)
{
    std::vector<OptionField<T>> fields{
        intField(&T::nCtx, "n_ctx", "Context tokens",
                 "Learnable context vectors before the class name (0: one per token of ctx_init's words)", 0, 64),
        realField(&T::initStd, "init_std", "Initial spread", "Standard deviation of the context vectors' Gaussian "
                                                             "initialisation",
                  0, 1),
        textField(&T::ctxInit, "ctx_init", "Initial words",
                  "Words whose embeddings start the context vectors (as many tokens as n_ctx, e.g. \"a photo of a\"); "
                  "empty: random"),
    };
    for (auto &f : more)
        fields.push_back(std::move(f));
    return fields;
}

// A variant's options as the CoOp it builds on.
template <typename T>
CoOpOptions contextOf(const T &o)
{
    CoOpOptions c;
    c.nCtx = o.nCtx;
    c.initStd = o.initStd;
    c.ctxInit = o.ctxInit;
    return c;
}

class CoOp : public Method {
public:
    CoOp(clip::LoadedClip &clip, CoOpOptions options = {});

    std::string name() const override { return "coop"; }
    nlohmann::json options() const override { return CoOpOptions::table().toJson(m_options); }
    void setClasses(const std::vector<std::string> &classNames) override;
    LossTerms loss(const Batch &batch) override;
    std::vector<std::pair<std::string, at::Tensor>> namedParameters() override { return {{"ctx", m_ctx}}; }
    void invalidateCaches() override { m_textCache = at::Tensor(); }
    at::Tensor textClassifier() override;

protected:
    ScoreOutput scoreBatch(const at::Tensor &pixels, const ScoreRequest &request) override;
    // What one training step computed, for variants that add terms.
    struct StepFeatures {
        at::Tensor image;    // [B, E] normalized, frozen
        at::Tensor text;     // [C, E] normalized, with gradient
        at::Tensor logits;   // [B, C], with gradient
    };
    // Terms a variant adds to the cross-entropy (into terms.total and terms.parts).
    virtual void addTerms(LossTerms &terms, const StepFeatures &step) {}

private:
    at::Tensor encodeClasses();   // [C, E] normalized, with gradient when grad mode is on

    CoOpOptions m_options;
    at::Tensor m_ctx;             // [n_ctx, text width]
    LearnablePrompts m_prompts;
    FrozenImageFeatures m_images;
    at::Tensor m_textCache;
};

} // namespace sep::prompt
