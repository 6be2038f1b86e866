#include "engine/data/batch.h"

#include "engine/clip/image.h"
#include "engine/core/error.h"
#include "engine/core/text.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace sep::data {

ImageBatch loadBatch(const std::vector<std::string> &paths, int64_t size, Transform transform, uint64_t seed)
{
    const auto n = static_cast<int64_t>(paths.size());
    const int64_t pixels = 3 * size * size;
    std::vector<std::vector<float>> decoded(paths.size());
    std::vector<std::string> errors(paths.size()), warnings(paths.size());
    at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            try {
                const cv::Mat rgb = clip::decodeImage(paths[static_cast<size_t>(i)], &warnings[static_cast<size_t>(i)]);
                if (transform == Transform::Train) {
                    std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                                      static_cast<uint32_t>(i)};
                    std::mt19937_64 rng(seq);
                    decoded[static_cast<size_t>(i)] = clip::augment(rgb, static_cast<int>(size), rng);
                } else {
                    decoded[static_cast<size_t>(i)] = clip::preprocess(rgb, static_cast<int>(size));
                }
            } catch (const std::exception &e) {
                // Keep the reason alone: the record already carries the path.
                const std::string reason = reasonAbout(paths[static_cast<size_t>(i)], e.what());
                errors[static_cast<size_t>(i)] = reason.empty() ? "could not be decoded" : reason;
            }
        }
    });
    ImageBatch batch;
    for (size_t i = 0; i < paths.size(); ++i) {
        if (errors[i].empty()) {
            batch.kept.push_back(i);
            if (!warnings[i].empty())
                batch.warnings.push_back({paths[i], warnings[i]});
        } else
            batch.failures.push_back({paths[i], errors[i]});
    }
    batch.pixels = torch::empty({static_cast<int64_t>(batch.kept.size()), 3, size, size});
    float *dst = batch.pixels.data_ptr<float>();
    for (size_t j = 0; j < batch.kept.size(); ++j) {
        const auto &src = decoded[batch.kept[j]];
        if (static_cast<int64_t>(src.size()) != pixels)
            throw Error(paths[batch.kept[j]] + ": preprocessing produced " + std::to_string(src.size())
                        + " values, expected " + std::to_string(pixels));
        std::copy(src.begin(), src.end(), dst + static_cast<int64_t>(j) * pixels);
    }
    return batch;
}

} // namespace sep::data
