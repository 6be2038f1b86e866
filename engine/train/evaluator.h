#pragma once
// Scoring a list of images with any classifier, in batches: accuracy, per-class accuracy, confusion,
// and each image's top-k. Class-side features are the method's business (computed once per class list).
//
//   method.setClasses(names);
//   auto result = sep::train::evaluate(images, method, 224, opts, hooks);
//   result.confusion.accuracy();
//
// Unreadable images are reported in `failures` and left out of the metrics. Honours hooks.cancel
// between batches (throws sep::Cancelled).

#include "engine/core/hooks.h"
#include "engine/data/image_folder.h"
#include "engine/prompt/method.h"
#include "engine/train/metrics.h"

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace sep::train {

struct EvalOptions {
    int64_t batchSize = 64;
    int64_t topK = 5;
    bool keepLogits = false;   // store every class's logit per image (memory: images × classes)
    bool selections = false;   // keep what the method selected for each image
    bool clsAttention = false; // and the backbone's [CLS] attention per block
};

struct ImagePrediction {
    std::string path;
    int64_t label = -1;
    std::vector<int64_t> top;      // best first
    std::vector<float> topProb;    // softmax probabilities of `top`
    int64_t trueRank = 0;          // the true class's place among all classes (1 = predicted); 0: no label
    float trueProb = 0;            // its softmax probability
    std::vector<float> logits;     // all classes, when keepLogits
};

struct EvalResult {
    Confusion confusion;
    std::vector<ImagePrediction> predictions;
    std::vector<prompt::ImageSelection> selections;   // aligned with predictions, when asked for
    std::vector<data::ScanIssue> failures;
    double seconds = 0;
};

// Scores the images with the method's current class list (labels index that list).
EvalResult evaluate(const std::vector<data::ImageRecord> &images, prompt::Method &method, int64_t imageSize,
                    const EvalOptions &options = {}, const Hooks &hooks = {});

// Top-k of one row of logits with softmax probabilities.
void topK(const at::Tensor &logitsRow, int64_t k, std::vector<int64_t> &indices, std::vector<float> &probs);

} // namespace sep::train
