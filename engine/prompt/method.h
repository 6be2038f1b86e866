#pragma once
// The interface every prompt-tuning method implements: zero-shot CLIP, CoOp, KgCoOp, SEP.
//
//   auto method = sep::prompt::makeMethod("sep", clip, optionsJson);
//   method->setClasses(baseNames);                     // class-side work that is constant per list
//   method->prepareTraining(...);                      // e.g. SEP's prototype head
//   auto terms = method->loss(batch);                  // training: terms.total has a gradient
//   auto out = method->score(pixels, {true, false});   // evaluation: logits [B, C] + selections
//
// A method owns its learnable tensors (trainableParameters()) and never changes the backbone's.
// Not thread-safe: one method instance per worker thread.

#include "engine/clip/weights.h"
#include "engine/core/options.h"
#include "engine/io/tensor_map.h"
#include "engine/prompt/selection.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sep::prompt {

// A training batch: pixels [B, 3, S, S], labels [B] (indices into the current class list), and the
// dataset indices of the images so methods may cache per-image work when the pixels do not change
// between epochs (augmented == false).
struct Batch {
    at::Tensor pixels;
    at::Tensor labels;
    std::vector<int64_t> ids;
    bool augmented = true;
};

struct LossTerms {
    at::Tensor total;                      // what the optimizer minimises
    std::map<std::string, double> parts;   // each term's value, for logs and curves
    at::Tensor logits;                     // [B, C] detached, for training accuracy
};

// Selections requested from score(): image-side ones always (when the method selects), the backbone's
// [CLS] attention only when asked (it costs a little).
struct ScoreRequest {
    bool selections = false;
    bool clsAttention = false;
};

struct ScoreOutput {
    at::Tensor logits;                           // [B, C]
    std::vector<ImageSelection> images;          // one per image when requested
};

class Method {
public:
    virtual ~Method() = default;

    virtual std::string name() const = 0;
    virtual nlohmann::json options() const = 0;   // every option, as its OptionTable writes it

    // The class list for the following loss()/score() calls. Work that depends only on the list
    // (hand-crafted text features, frozen prompts) happens here, once.
    virtual void setClasses(const std::vector<std::string> &classNames) = 0;
    const std::vector<std::string> &classes() const { return m_classes; }

    virtual bool trainable() const { return true; }
    // Called once before the first epoch with a way to draw augmented batches of the training set.
    // `draw(i)` returns batch i of one pass; `batches` is the number of batches in that pass.
    virtual void prepareTraining(const std::function<Batch(int64_t)> &draw, int64_t batches) {}
    virtual LossTerms loss(const Batch &batch) = 0;
    // The gradients of the trainable parameters for the step whose terms loss() just returned (the
    // trainer then steps the optimizer). Most methods: d(total). ProGrad projects one term's gradient.
    virtual void backward(const LossTerms &terms) { terms.total.backward(); }
    // Evaluation, without gradients. The batch is computed together: an image's scores agree with its
    // scores in any other batch within float32 rounding (products of different row counts may sum in a
    // different order), except in SEP's reference fusion, which couples a batch by design.
    ScoreOutput score(const at::Tensor &pixels, const ScoreRequest &request = {});
    // The text-side selections of the current class list (empty for methods that select none).
    virtual std::vector<ClassSelection> classSelections() { return {}; }

    // Text-only methods: the normalized class embeddings [C, E] that classify any image feature of the
    // same backbone by cosine. Undefined for methods that change the image side (SEP).
    virtual at::Tensor textClassifier() { return {}; }

    // The learnable tensors, by stable names (checkpoints, exports).
    virtual std::vector<std::pair<std::string, at::Tensor>> namedParameters() = 0;
    std::vector<at::Tensor> trainableParameters();
    TensorMap state();                           // detached CPU copies
    void loadState(const TensorMap &tensors, const std::string &source);   // strict: names and shapes

    // Called by loadState before copying: a method whose tensor sizes depend on training data
    // (SEP's prototype head) takes the stored sizes here.
    virtual void adoptShapes(const TensorMap &tensors) {}

    // Forget class-side features computed for score(); called when parameters change.
    virtual void invalidateCaches() {}

    clip::LoadedClip &clip() { return *m_clip; }
    c10::Device device() const;

protected:
    explicit Method(clip::LoadedClip &clip) : m_clip(&clip) {}
    // Scores one batch as given (see score()).
    virtual ScoreOutput scoreBatch(const at::Tensor &pixels, const ScoreRequest &request) = 0;
    std::vector<std::string> m_classes;
    clip::LoadedClip *m_clip;
};

// Frozen, normalized image features of the backbone without prompts. Batches that are not augmented
// are cached by image id, so a pass over the same images costs the image tower once.
class FrozenImageFeatures {
public:
    at::Tensor get(clip::LoadedClip &clip, const Batch &batch);
    void clear() { m_cache.clear(); }

private:
    std::map<int64_t, at::Tensor> m_cache;
};

// Adds each block's [CLS]→patch attention ([B, tokens] per block; patches are tokens 1 … patches) to
// the per-image selections, sizing `images` to the batch.
void appendClsAttention(std::vector<ImageSelection> &images, const std::vector<at::Tensor> &perBlock, int64_t patches);

// A method of the registry (registry.h) by name, with options as JSON (missing keys take their defaults).
std::unique_ptr<Method> makeMethod(const std::string &name, clip::LoadedClip &clip,
                                   const nlohmann::json &options = nlohmann::json::object());
std::vector<std::string> methodNames();
// Validates method options as makeMethod would (unknown keys, types, ranges) without a model.
void makeMethodOptionsCheck(const std::string &name, const nlohmann::json &options);

// The option descriptions of a method, for UIs.
std::vector<OptionSpec> methodOptionSpecs(const std::string &name);

} // namespace sep::prompt
