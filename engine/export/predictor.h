#pragma once
// Running an exported bundle: the small C++ API for applications that only need predictions.
//
//   #include "engine/export/predictor.h"
//
//   sep::Predictor predictor("pets.sepmodel");                  // backbone inside or beside it
//   auto result = predictor.classifyFile("cat.jpg", 5);
//   for (const auto &c : result.top)
//       std::printf("%s %.1f%%\n", c.name.c_str(), 100 * c.probability);
//
//   cv::Mat rgb = …;                                            // 8-bit RGB, any size
//   auto many = predictor.classify({rgb}, 5, /*selections=*/true);
//   many[0].selection.layers[0].tokens;                         // what SEP selected before block 1
//   predictor.setClasses({"cat", "dog", "lynx"});                // any class names, no retraining
//
// The header needs no LibTorch. A Predictor is not thread-safe: use one per thread. On the CPU an
// image's results do not depend on the other images passed with it.

#include "engine/export/manifest.h"
#include "engine/prompt/selection.h"

#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sep {

struct PredictorOptions {
    std::string weights;        // the backbone, when the bundle neither includes it nor has it beside it
    std::string vocab;          // its vocabulary, when not beside the weights
    std::string device = "auto";
    std::string fusion;         // SEP: "per-sample" or "reference" instead of the bundle's mode
    bool trustWeights = false;  // use `weights` even when its checksum differs from the recorded one
};

struct ClassScore {
    int64_t index = 0;
    std::string name;
    float probability = 0;
};

struct Prediction {
    std::vector<ClassScore> top;         // best first
    std::vector<float> logits;           // every class, in class order
    prompt::ImageSelection selection;    // when asked for
};

class Predictor {
public:
    explicit Predictor(const std::string &bundlePath, const PredictorOptions &options = {});
    ~Predictor();
    Predictor(Predictor &&) noexcept;
    Predictor &operator=(Predictor &&) noexcept;

    std::vector<Prediction> classify(const std::vector<cv::Mat> &rgbImages, int topK = 5, bool selections = false,
                                     bool clsAttention = false);
    // Decodes the file (sep::Error naming it when it cannot be read).
    Prediction classifyFile(const std::string &path, int topK = 5, bool selections = false, bool clsAttention = false);

    // Scores these classes from now on instead of the bundle's: the learned context is shared by all
    // classes, so names the model was never tuned on can be added or swapped in without retraining.
    // sep::Error when the list is empty or has an empty or repeated name.
    void setClasses(const std::vector<std::string> &classNames);
    const std::vector<std::string> &classNames() const;
    const exporting::Manifest &manifest() const;
    int imageSize() const;
    int gridSize() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace sep
