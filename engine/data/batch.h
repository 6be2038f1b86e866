#pragma once
// Decoding and preprocessing a list of image files into one tensor, in parallel. A file that cannot
// be decoded is reported (path and reason) and left out; the others go on.
//
//   auto batch = sep::data::loadBatch(paths, 224, sep::data::Transform::Eval);
//   batch.pixels;    // [kept, 3, 224, 224] float
//   batch.kept;      // which of `paths` made it, in order
//   batch.failures;  // the others, with reasons
//   batch.warnings;  // kept images the decoder had to repair, with what it said

#include "engine/data/image_folder.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sep::data {

enum class Transform { Eval, Train };

struct ImageBatch {
    at::Tensor pixels;
    std::vector<size_t> kept;
    std::vector<ScanIssue> failures;
    std::vector<ScanIssue> warnings;   // kept, but decoded from damaged data (see clip::decodeImage)
};

// Train: the recipe's random resized crop + flip, drawn from a generator seeded by (seed, path index),
// so the result does not depend on thread scheduling.
ImageBatch loadBatch(const std::vector<std::string> &paths, int64_t size, Transform transform = Transform::Eval,
                     uint64_t seed = 0);

} // namespace sep::data
