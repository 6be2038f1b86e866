#include "engine/export/explain.h"

#include "engine/clip/image.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace sep::exporting {
namespace {

// Rank colours, best first (RGB): strong to pale, so the order reads without a legend.
const cv::Scalar kRank[] = {{255, 40, 40}, {255, 150, 0}, {240, 220, 0}, {60, 200, 255}, {150, 120, 255}, {200, 200, 200}};

cv::Scalar rankColour(size_t rank) { return kRank[std::min(rank, sizeof kRank / sizeof kRank[0] - 1)]; }

} // namespace

cv::Mat modelView(const cv::Mat &rgb, int imageSize)
{
    return clip::centerCrop(clip::resizeShorterSide(rgb, imageSize), imageSize);
}

cv::Mat selectionTile(const cv::Mat &view, const prompt::ImageLayerSelection &layer, int gridSize, int tile)
{
    cv::Mat out;
    cv::resize(view, out, cv::Size(tile, tile), 0, 0, cv::INTER_CUBIC);
    out = out * 0.75 + cv::Scalar(64, 64, 64) * 0.25;   // dim the image so outlines stand out
    const double cell = double(tile) / gridSize;
    for (int i = 1; i < gridSize; ++i) {   // faint patch grid
        const int p = static_cast<int>(i * cell);
        cv::line(out, {p, 0}, {p, tile - 1}, cv::Scalar(255, 255, 255) * 0.35 + cv::Scalar(0, 0, 0), 1);
        cv::line(out, {0, p}, {tile - 1, p}, cv::Scalar(255, 255, 255) * 0.35, 1);
    }
    for (size_t k = layer.tokens.size(); k-- > 0;) {   // best drawn last, on top
        const int64_t token = layer.tokens[k];
        const cv::Scalar colour = rankColour(k);
        if (token == 0) {   // [CLS]: a frame around the whole image
            cv::rectangle(out, {1, 1}, {tile - 2, tile - 2}, colour, 3);
            continue;
        }
        const int64_t patch = token - 1, row = patch / gridSize, col = patch % gridSize;
        const cv::Point a(static_cast<int>(col * cell), static_cast<int>(row * cell));
        const cv::Point b(static_cast<int>((col + 1) * cell) - 1, static_cast<int>((row + 1) * cell) - 1);
        cv::rectangle(out, a, b, colour, std::max(2, tile / 96));
        cv::putText(out, std::to_string(k + 1), a + cv::Point(3, static_cast<int>(cell * 0.5) + 4), cv::FONT_HERSHEY_SIMPLEX,
                    std::max(0.35, cell / 40.0), colour, 1, cv::LINE_AA);
    }
    return out;
}

cv::Mat attentionTile(const cv::Mat &view, const std::vector<float> &weights, int gridSize, int tile)
{
    cv::Mat out;
    cv::resize(view, out, cv::Size(tile, tile), 0, 0, cv::INTER_CUBIC);
    if (static_cast<int>(weights.size()) != gridSize * gridSize)
        return out;
    cv::Mat heat(gridSize, gridSize, CV_32F);
    const float top = std::max(*std::max_element(weights.begin(), weights.end()), 1e-12f);
    for (int i = 0; i < gridSize * gridSize; ++i)
        heat.at<float>(i / gridSize, i % gridSize) = weights[static_cast<size_t>(i)] / top;
    cv::Mat big, heat8, colour;
    cv::resize(heat, big, cv::Size(tile, tile), 0, 0, cv::INTER_NEAREST);
    big.convertTo(heat8, CV_8U, 255.0);
    cv::applyColorMap(heat8, colour, cv::COLORMAP_INFERNO);   // BGR
    cv::cvtColor(colour, colour, cv::COLOR_BGR2RGB);
    cv::addWeighted(out, 0.45, colour, 0.55, 0, out);
    return out;
}

cv::Mat explainPicture(const cv::Mat &rgb, const prompt::ImageSelection &selection, int imageSize, int gridSize,
                       const std::string &caption, int tile)
{
    const cv::Mat view = modelView(rgb, imageSize);
    const bool withAttention = !selection.clsAttention.empty();
    const int count = static_cast<int>(selection.layers.size());
    const int columns = std::max(1, std::min(count, 4)), rows = std::max(1, (count + columns - 1) / columns);
    const int label = 22, header = 30, pad = 6;
    const int cellW = (withAttention ? 2 * tile + pad : tile) + pad, cellH = tile + label + pad;
    cv::Mat canvas(header + rows * cellH + pad, columns * cellW + pad, CV_8UC3, cv::Scalar(250, 250, 250));
    cv::putText(canvas, caption, {pad, 21}, cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(20, 20, 20), 1, cv::LINE_AA);
    if (count == 0)
        cv::putText(canvas, "(no selections: this method does not select tokens)", {pad, header + 20}, cv::FONT_HERSHEY_SIMPLEX,
                    0.45, cv::Scalar(90, 90, 90), 1, cv::LINE_AA);
    for (int i = 0; i < count; ++i) {
        const auto &layer = selection.layers[static_cast<size_t>(i)];
        const int x = pad + (i % columns) * cellW, y = header + (i / columns) * cellH;
        cv::putText(canvas, "block " + std::to_string(layer.block), {x, y + 15}, cv::FONT_HERSHEY_SIMPLEX, 0.45,
                    cv::Scalar(40, 40, 40), 1, cv::LINE_AA);
        selectionTile(view, layer, gridSize, tile).copyTo(canvas(cv::Rect(x, y + label, tile, tile)));
        const size_t block = static_cast<size_t>(layer.block);
        if (withAttention && block < selection.clsAttention.size())
            attentionTile(view, selection.clsAttention[block], gridSize, tile)
                .copyTo(canvas(cv::Rect(x + tile + pad, y + label, tile, tile)));
    }
    cv::Mat bgr;
    cv::cvtColor(canvas, bgr, cv::COLOR_RGB2BGR);
    return bgr;
}

} // namespace sep::exporting
