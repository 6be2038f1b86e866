#pragma once
// The picture of what SEP selected: the image as the model saw it (resized and center-cropped), once
// per fused block in a grid, with the selected patches outlined and numbered by rank (strongest
// colour = highest score) and a labelled "[CLS] k" badge when [CLS] was selected; optionally the
// backbone's [CLS] attention as a heat map over the grey image beside it; a legend under the grid.
// The inspector shows the same tiles with the same legends.
//
//   cv::Mat png = sep::exporting::explainPicture(rgb, selection, /*imageSize=*/224, /*grid=*/14, "golden retriever 92%");
//   cv::imwrite("explain.png", png);   // BGR, as imwrite expects
//
// Torch-free; thread-safe.

#include "engine/prompt/selection.h"

#include <opencv2/core.hpp>

#include <string>

namespace sep::exporting {

// `rgb`: the decoded image (any size). `caption`: a line drawn above the grid. Returns a BGR picture.
cv::Mat explainPicture(const cv::Mat &rgb, const prompt::ImageSelection &selection, int imageSize, int gridSize,
                       const std::string &caption, int tile = 192);

// One block's tile in RGB (the inspector draws it at any size): outlines of the selected patches.
cv::Mat selectionTile(const cv::Mat &modelView, const prompt::ImageLayerSelection &layer, int gridSize, int tile);

// A heat map of per-patch weights (g² values, scaled to their maximum; inferno colours) over the model
// view in grey, RGB. `opacity`: the heat's share of each pixel.
cv::Mat attentionTile(const cv::Mat &modelView, const std::vector<float> &patchWeights, int gridSize, int tile,
                      double opacity = 0.55);

// The outline colour of selection rank `rank` (0 = highest score), RGB.
cv::Scalar selectionRankColour(size_t rank);

// attentionTile's colour scale from low (left) to high (right), RGB.
cv::Mat attentionColourBar(int width, int height);

// The image as the model sees it before normalisation: shorter side to imageSize, center crop; RGB.
cv::Mat modelView(const cv::Mat &rgb, int imageSize);

} // namespace sep::exporting
