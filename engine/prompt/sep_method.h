#pragma once
// SEP, Self-Enhanced Prompt Tuning (Yao et al., arXiv 2405.15549): text and image prompt tokens that
// are rebuilt before every block from K pre-trained tokens of that block's input, through one Token
// Fusion Module per block and modality; outputs fused with the frozen model's features; a four-term
// loss with a class-prototype head.
//
//   sep::prompt::SepMethod sep(clip, sep::prompt::SepOptions::defaults());
//   sep.setClasses(baseNames);
//   sep.prepareTraining(draw, batches);       // prototypes from the augmented training set
//   auto terms = sep.loss(batch);
//   auto out = sep.score(pixels, {true, true});   // logits + selected tokens + [CLS] attention
//
// Fusion modes: per-sample (default) selects and attends per image and per class, so a prediction
// never depends on its batch; reference reproduces the released implementation (selection averaged
// over the batch, attention across the batch), whose predictions do depend on the batch.

#include "engine/core/options.h"
#include "engine/prompt/method.h"
#include "engine/prompt/text_prompts.h"
#include "engine/prompt/token_fusion.h"

#include <torch/nn/modules/container/modulelist.h>

namespace sep::prompt {

enum class Fusion { PerSample, Reference };

struct SepOptions {
    int64_t nCtx = 6;             // text prompt tokens
    int64_t nCtxVisual = 4;       // image prompt tokens
    int64_t firstLayer = 1;       // first block fed fused prompts (never block 0)
    int64_t kText = 6;            // pre-trained text tokens selected (≥ nCtx)
    int64_t kImage = 4;           // pre-trained image tokens selected (≥ nCtxVisual)
    int64_t fusionHidden = 256;   // hidden width of each fusion module's MLP
    double wText = 8.0;           // W: text consistency with the hand-crafted prompt
    double wImage = 6.0;          // W_V: image consistency with the frozen feature
    double wProto = 0.5;          // prototype-head cross-entropy
    double protoScale = 10.0;     // cosine scale of the prototype head
    double initStd = 0.02;        // prompt vectors' Gaussian initialisation
    Fusion fusion = Fusion::PerSample;
    std::string templ = "a photo of a {}.";   // hand-crafted template for the frozen text features

    static SepOptions defaults() { return {}; }
    static const OptionTable<SepOptions> &table();
};

// The learnable tensors, registered under stable names: ctx, ctx_visual, text_fusion.<i>.*,
// image_fusion.<i>.* (module i serves block firstLayer + i), prototypes (training only).
class SepPromptsImpl : public torch::nn::Module {
public:
    SepPromptsImpl(const clip::Config &config, const SepOptions &options);
    torch::Tensor ctx, ctx_visual, prototypes;
    torch::nn::ModuleList text_fusion{nullptr}, image_fusion{nullptr};
    std::vector<TokenFusion> textFusions, imageFusions;
};
TORCH_MODULE(SepPrompts);

class SepMethod : public Method {
public:
    SepMethod(clip::LoadedClip &clip, SepOptions options = {});

    std::string name() const override { return "sep"; }
    nlohmann::json options() const override { return SepOptions::table().toJson(m_options); }
    const SepOptions &sepOptions() const { return m_options; }
    void setFusion(Fusion fusion);

    void setClasses(const std::vector<std::string> &classNames) override;
    void prepareTraining(const std::function<Batch(int64_t)> &draw, int64_t batches) override;
    LossTerms loss(const Batch &batch) override;
    std::vector<ClassSelection> classSelections() override;
    std::vector<std::pair<std::string, at::Tensor>> namedParameters() override;
    void invalidateCaches() override { m_textCache = at::Tensor(); }
    void adoptShapes(const TensorMap &tensors) override;

    // The pieces of the forward, exposed for tests.
    // Prompted image features [B, E] (not normalized); fills per-image selections when given.
    at::Tensor encodeImage(const at::Tensor &pixels, std::vector<ImageSelection> *selections = nullptr,
                           std::vector<at::Tensor> *clsAttention = nullptr);
    // Prompted text features [C, E] of the current class list, rows [begin, end) (not normalized).
    at::Tensor encodeText(int64_t begin, int64_t end, std::vector<ClassSelection> *selections = nullptr);
    // exp(logit_scale) · v̂ t̂ᵀ with v̂ = n(n(v) + n(v_f)), t̂ = n(n(t) + n(t_hc)).
    static at::Tensor fuse(const at::Tensor &prompted, const at::Tensor &frozenNormalized);
    // The four-term loss from features: prompted image [B, E] and text [C, E] features (raw), frozen
    // image features and hand-crafted text features (normalized), the prototype head [C, E] (raw),
    // labels [B], and exp(logit_scale).
    static LossTerms lossFromFeatures(const at::Tensor &imagePrompted, const at::Tensor &imageFrozen,
                                      const at::Tensor &textPrompted, const at::Tensor &textHandCrafted,
                                      const at::Tensor &prototypes, const at::Tensor &labels, const at::Tensor &scale,
                                      const SepOptions &options);
    const at::Tensor &handCrafted() const { return m_handCrafted; }
    SepPrompts &prompts() { return m_prompts; }

protected:
    ScoreOutput scoreBatch(const at::Tensor &pixels, const ScoreRequest &request) override;

private:
    at::Tensor classFeatures();   // fused t̂ of every class, computed once per list (no gradient)

    SepOptions m_options;
    SepPrompts m_prompts{nullptr};
    LearnablePrompts m_text;
    at::Tensor m_handCrafted;     // t_hc, normalized [C, E]
    FrozenImageFeatures m_frozen;
    at::Tensor m_textCache;
};

} // namespace sep::prompt
