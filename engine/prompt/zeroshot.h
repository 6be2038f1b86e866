#pragma once
// Zero-shot CLIP: each class's text feature from a hand-crafted template ("a photo of a {}."),
// computed once per class list; an image's logits are scaled cosines against them.
//
//   sep::prompt::ZeroShot zs(clip, "a photo of a {}.");
//   at::Tensor classes = zs.encodeClasses({"cat", "dog"});      // [C, D], normalized
//   at::Tensor logits = zs.logits(pixels, classes);             // [B, C]

#include "engine/clip/weights.h"

#include <string>
#include <vector>

namespace sep::prompt {

// "{}" in the template replaced by the class name, '_' in the name shown as ' '. A template without
// "{}" gets the name appended after a space.
std::string fillTemplate(const std::string &templ, const std::string &className);

class ZeroShot {
public:
    ZeroShot(clip::LoadedClip &clip, std::string templ = "a photo of a {}.");

    // Normalized text features [C, embedDim] on the model's device, encoded in chunks of `chunk` classes.
    at::Tensor encodeClasses(const std::vector<std::string> &classNames, int64_t chunk = 256);
    // Normalized image features [B, embedDim].
    at::Tensor encodeImages(const at::Tensor &pixels);
    // exp(logit_scale) · image · classesᵀ
    at::Tensor logits(const at::Tensor &pixels, const at::Tensor &classFeatures);

    const std::string &templ() const { return m_template; }

private:
    clip::LoadedClip &m_clip;
    std::string m_template;
};

} // namespace sep::prompt
