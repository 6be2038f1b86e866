#pragma once
// Scoring a list of images with any classifier, in batches: accuracy, per-class accuracy, confusion,
// and each image's top-k. Class features are the scorer's business (computed once, before).
//
//   auto result = sep::train::evaluate(images, numClasses, 224,
//                                      [&](const at::Tensor &px) { return method.logits(px); }, opts, hooks);
//   result.confusion.accuracy();
//
// Unreadable images are reported in `failures` and left out of the metrics. Honours hooks.cancel
// between batches (throws sep::Cancelled).

#include "engine/core/hooks.h"
#include "engine/data/image_folder.h"
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
};

struct ImagePrediction {
    std::string path;
    int64_t label = -1;
    std::vector<int64_t> top;      // best first
    std::vector<float> topProb;    // softmax probabilities of `top`
    std::vector<float> logits;     // all classes, when keepLogits
};

struct EvalResult {
    Confusion confusion;
    std::vector<ImagePrediction> predictions;
    std::vector<data::ScanIssue> failures;
    double seconds = 0;
};

// pixels [B, 3, S, S] (CPU, float) → logits [B, numClasses] (any device).
using Scorer = std::function<at::Tensor(const at::Tensor &pixels)>;

EvalResult evaluate(const std::vector<data::ImageRecord> &images, int64_t numClasses, int64_t imageSize,
                    const Scorer &scorer, const EvalOptions &options = {}, const Hooks &hooks = {});

// Top-k of one row of logits with softmax probabilities.
void topK(const at::Tensor &logitsRow, int64_t k, std::vector<int64_t> &indices, std::vector<float> &probs);

} // namespace sep::train
