#include "engine/export/predictor.h"

#include "engine/clip/image.h"
#include "engine/core/error.h"
#include "engine/core/runtime.h"
#include "engine/export/bundle.h"

#include <torch/torch.h>

namespace sep {

struct Predictor::Impl {
    std::string path;
    exporting::LoadedBundle bundle;
};

Predictor::Predictor(const std::string &bundlePath, const PredictorOptions &o) : d(std::make_unique<Impl>())
{
    d->path = bundlePath;
    d->bundle = asEntryPoint(bundlePath, [&] {
        return exporting::loadBundle(bundlePath, o.weights, o.vocab, o.device, o.fusion, o.trustWeights);
    });
}

Predictor::~Predictor() = default;
Predictor::Predictor(Predictor &&) noexcept = default;
Predictor &Predictor::operator=(Predictor &&) noexcept = default;

std::vector<Prediction> Predictor::classify(const std::vector<cv::Mat> &images, int topK, bool selections, bool clsAttention)
{
    std::vector<Prediction> out;
    if (images.empty())
        return out;
    const int size = imageSize();
    auto pixels = torch::empty({static_cast<int64_t>(images.size()), 3, size, size});
    for (size_t i = 0; i < images.size(); ++i) {
        if (images[i].empty() || images[i].type() != CV_8UC3)
            throw Error("predict: image " + std::to_string(i) + " is not an 8-bit, 3-channel RGB image");
        const auto chw = clip::preprocess(images[i], size);
        std::copy(chw.begin(), chw.end(), pixels[static_cast<int64_t>(i)].data_ptr<float>());
    }
    auto scored = d->bundle.method->score(pixels, {selections, clsAttention});
    const auto logits = scored.logits.to(torch::kCPU, torch::kFloat).contiguous();
    const auto probs = torch::softmax(logits, -1);
    const auto &names = classNames();
    const int64_t k = std::min<int64_t>(topK, logits.size(1));
    for (int64_t i = 0; i < logits.size(0); ++i) {
        Prediction p;
        const auto [values, index] = probs[i].topk(k);
        for (int64_t j = 0; j < k; ++j) {
            const int64_t c = index[j].item<int64_t>();
            p.top.push_back({c, names[static_cast<size_t>(c)], values[j].item<float>()});
        }
        p.logits.assign(logits[i].data_ptr<float>(), logits[i].data_ptr<float>() + logits.size(1));
        if (static_cast<size_t>(i) < scored.images.size())
            p.selection = std::move(scored.images[static_cast<size_t>(i)]);
        out.push_back(std::move(p));
    }
    return out;
}

Prediction Predictor::classifyFile(const std::string &path, int topK, bool selections, bool clsAttention)
{
    return classify({clip::decodeImage(path)}, topK, selections, clsAttention).front();
}

void Predictor::setClasses(const std::vector<std::string> &classNames)
{
    asEntryPoint(d->path, [&] {
        exporting::requireValidClassList(classNames, "the class list");
        d->bundle.method->setClasses(classNames);
    });
}

const std::vector<std::string> &Predictor::classNames() const { return d->bundle.method->classes(); }
const exporting::Manifest &Predictor::manifest() const { return d->bundle.manifest; }
int Predictor::imageSize() const { return static_cast<int>(d->bundle.clip->config().vision.imageSize); }
int Predictor::gridSize() const { return static_cast<int>(d->bundle.clip->config().vision.gridSize()); }

} // namespace sep
