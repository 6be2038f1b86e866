#pragma once
// Zero-shot CLIP: each class's text feature from a hand-crafted template, computed once per class
// list; an image's logits are scaled cosines against them. Nothing to train.
//
//   sep::prompt::ZeroShot zs(clip, {"a photo of a {}."});
//   zs.setClasses({"cat", "dog"});
//   at::Tensor logits = zs.score(pixels).logits;     // [B, 2]

#include "engine/core/options.h"
#include "engine/prompt/method.h"

namespace sep::prompt {

struct ZeroShotOptions {
    std::string templ = "a photo of a {}.";
    static ZeroShotOptions defaults() { return {}; }
    static const OptionTable<ZeroShotOptions> &table();
};

class ZeroShot : public Method {
public:
    ZeroShot(clip::LoadedClip &clip, ZeroShotOptions options = {});

    std::string name() const override { return "zeroshot"; }
    nlohmann::json options() const override { return ZeroShotOptions::table().toJson(m_options); }
    void setClasses(const std::vector<std::string> &classNames) override;
    bool trainable() const override { return false; }
    LossTerms loss(const Batch &batch) override;
    std::vector<std::pair<std::string, at::Tensor>> namedParameters() override { return {}; }

    const at::Tensor &classFeatures() const { return m_text; }   // [C, E], normalized
    at::Tensor textClassifier() override { return m_text; }

protected:
    ScoreOutput scoreBatch(const at::Tensor &pixels, const ScoreRequest &request) override;

private:
    ZeroShotOptions m_options;
    at::Tensor m_text;
};

} // namespace sep::prompt
