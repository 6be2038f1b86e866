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
    // Terms a variant adds to the cross-entropy (into terms.total and terms.parts), given the class
    // text features of this step ([C, E] normalized, with gradient).
    virtual void addTerms(LossTerms &terms, const at::Tensor &text) {}

private:
    at::Tensor encodeClasses();   // [C, E] normalized, with gradient when grad mode is on

    CoOpOptions m_options;
    at::Tensor m_ctx;             // [n_ctx, text width]
    LearnablePrompts m_prompts;
    FrozenImageFeatures m_images;
    at::Tensor m_textCache;
};

} // namespace sep::prompt
