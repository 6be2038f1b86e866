#pragma once
// Image decoding with clear errors, and CLIP's preprocessing exactly as the reference computes it
// (PIL bicubic resize with antialiasing, center crop, normalisation). OpenCV imgcodecs/imgproc only;
// never highgui.
//
//   cv::Mat rgb = sep::clip::decodeImage("cat.png");          // 8-bit RGB, throws sep::Error naming the file
//   std::vector<float> chw = sep::clip::preprocess(rgb, 224);  // 3×224×224, normalized, channel-major
//
// All functions are thread-safe.

#include <opencv2/core.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sep::clip {

// What decodeImage refuses before decoding. The pixel limit can be raised with the environment
// variable SEP_MAX_IMAGE_PIXELS (read once per process); the aspect limit keeps the shorter-side
// resize of preprocess() from growing a 1 × 300000 strip to 224 × 67 million pixels.
struct ImageLimits {
    uint64_t maxPixels = 100'000'000;   // 10000 × 10000
    double maxAspectRatio = 1000;
    static ImageLimits fromEnvironment();
};

// Reads and decodes a file into an 8-bit, 3-channel RGB image (alpha dropped, gray expanded,
// 16-bit scaled down). Throws sep::Error with the path and the reason: missing, unreadable,
// empty, not an image format we know, corrupt/truncated data of a known format, or beyond
// ImageLimits (checked from the header before decoding where the format allows).
// When `warning` is given it receives what the decoder recovered from instead of failing (a damaged
// JPEG whose missing or corrupt data libjpeg fills in), or "" for a clean image; the caller puts it
// in its per-file report.
cv::Mat decodeImage(const std::string &path, std::string *warning = nullptr);
// The same for bytes already in memory; `name` is used in messages.
cv::Mat decodeImage(const std::vector<uint8_t> &bytes, const std::string &name, std::string *warning = nullptr);

// PIL's bicubic resize (Image.resize(..., BICUBIC), a = −0.5, antialiased when shrinking:
// the kernel support widens by the scale factor), horizontal pass first, each pass rounded and
// clamped to 8 bits as PIL does. Input and output: 8-bit RGB.
cv::Mat resizeBicubicPil(const cv::Mat &rgb, int width, int height);

// torchvision Resize(size) on a PIL image: the shorter side becomes `size`, the longer
// int(size · long / short).
cv::Mat resizeShorterSide(const cv::Mat &rgb, int size);

// torchvision CenterCrop: offset round((dim − size) / 2) with round-half-to-even; pads with
// zeros when the image is smaller than the crop (as torchvision does).
cv::Mat centerCrop(const cv::Mat &rgb, int size);

// CLIP mean and std per RGB channel.
extern const float kClipMean[3];
extern const float kClipStd[3];

// RGB 8-bit → float CHW: x / 255, then (x − mean) / std.
std::vector<float> normalizeToChw(const cv::Mat &rgb);

// The evaluation transform: resizeShorterSide → centerCrop → normalizeToChw. Output 3·size·size floats.
std::vector<float> preprocess(const cv::Mat &rgb, int size);

// The training augmentation of the recipe: torchvision RandomResizedCrop(size, scale 0.08–1,
// ratio 3/4–4/3, bicubic; up to 10 tries then the center fallback) and a horizontal flip with
// probability 0.5, then normalizeToChw. Deterministic for a given generator state.
std::vector<float> augment(const cv::Mat &rgb, int size, std::mt19937_64 &rng);

// Crop box [x, y, w, h] chosen by RandomResizedCrop's rule for an image of the given size.
cv::Rect randomResizedCropBox(int width, int height, std::mt19937_64 &rng,
                              double scaleMin = 0.08, double scaleMax = 1.0,
                              double ratioMin = 3.0 / 4.0, double ratioMax = 4.0 / 3.0);

} // namespace sep::clip
