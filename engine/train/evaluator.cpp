#include "engine/train/evaluator.h"

#include "engine/core/error.h"
#include "engine/data/batch.h"

#include <torch/torch.h>

#include <chrono>

namespace sep::train {

void topK(const at::Tensor &logitsRow, int64_t k, std::vector<int64_t> &indices, std::vector<float> &probs)
{
    const auto row = logitsRow.to(torch::kCPU, torch::kFloat);
    const auto p = torch::softmax(row, -1);
    const auto [values, idx] = p.topk(std::min<int64_t>(k, row.size(0)));
    indices.assign(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
    probs.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
}

namespace {

// The true class's rank counts the classes scored strictly higher, so a tie with the prediction
// still reads rank 1 only when the prediction is the true class (topk breaks ties by index).
void rankTrueClass(const at::Tensor &logitsRow, ImagePrediction &pred)
{
    if (pred.label < 0 || pred.label >= logitsRow.size(0))
        return;
    const auto row = logitsRow.to(torch::kCPU, torch::kFloat);
    const float own = row[pred.label].item<float>();
    pred.trueRank = 1 + (row > own).sum().item<int64_t>();
    if (pred.trueRank == 1 && !pred.top.empty() && pred.top.front() != pred.label)
        pred.trueRank = 2;
    pred.trueProb = torch::softmax(row, -1)[pred.label].item<float>();
}

} // namespace

EvalResult evaluate(const std::vector<data::ImageRecord> &images, prompt::Method &method, int64_t imageSize,
                    const EvalOptions &options, const Hooks &hooks)
{
    const auto numClasses = static_cast<int64_t>(method.classes().size());
    if (numClasses == 0)
        throw Error("evaluation: the method has no class list");
    const auto start = std::chrono::steady_clock::now();
    torch::NoGradGuard noGrad;
    EvalResult result;
    result.confusion = Confusion(numClasses);
    const auto n = static_cast<int64_t>(images.size());
    const int64_t batchSize = std::max<int64_t>(1, options.batchSize);
    for (int64_t b = 0; b < n; b += batchSize) {
        if (hooks.cancelled())
            throw Cancelled{};
        const int64_t e = std::min(n, b + batchSize);
        std::vector<std::string> paths;
        for (int64_t i = b; i < e; ++i)
            paths.push_back(images[static_cast<size_t>(i)].path);
        auto batch = data::loadBatch(paths, imageSize);
        for (const auto &f : batch.failures) {
            hooks.warn(f.path + ": " + f.reason + " (left out of the evaluation)");
            result.failures.push_back(f);
        }
        for (const auto &w : batch.warnings)
            hooks.warn(w.path + ": " + w.reason);
        if (!batch.kept.empty()) {
            auto scored = method.score(batch.pixels, {options.selections, options.clsAttention});
            const auto logits = scored.logits.to(torch::kCPU, torch::kFloat);
            if (logits.dim() != 2 || logits.size(0) != static_cast<int64_t>(batch.kept.size())
                || logits.size(1) != numClasses)
                throw Error("evaluation: the classifier returned logits of the wrong shape");
            for (size_t j = 0; j < batch.kept.size(); ++j) {
                const auto &record = images[static_cast<size_t>(b) + batch.kept[j]];
                ImagePrediction pred;
                pred.path = record.path;
                pred.label = record.label;
                const auto row = logits[static_cast<int64_t>(j)];
                topK(row, options.topK, pred.top, pred.topProb);
                rankTrueClass(row, pred);
                if (options.keepLogits)
                    pred.logits.assign(row.data_ptr<float>(), row.data_ptr<float>() + numClasses);
                result.confusion.add(record.label, pred.top.front());
                result.predictions.push_back(std::move(pred));
                if (options.selections || options.clsAttention)
                    result.selections.push_back(j < scored.images.size() ? std::move(scored.images[j])
                                                                         : prompt::ImageSelection{});
            }
        }
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        hooks.report({e, n, "evaluating", elapsed, elapsed / static_cast<double>(e) * static_cast<double>(n - e)});
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

} // namespace sep::train
