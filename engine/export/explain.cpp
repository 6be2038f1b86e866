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
        if (token == 0) {   // [CLS] is no patch: a labelled badge in the corner, with its rank
            const std::string text = "[CLS] " + std::to_string(k + 1);
            const double scale = std::max(0.35, tile / 400.0);
            int base = 0;
            const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
            cv::rectangle(out, {2, 2}, {8 + size.width, 8 + size.height + base}, colour, cv::FILLED);
            cv::putText(out, text, {5, 5 + size.height}, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
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

cv::Mat attentionTile(const cv::Mat &view, const std::vector<float> &weights, int gridSize, int tile, double opacity)
{
    cv::Mat out;
    cv::resize(view, out, cv::Size(tile, tile), 0, 0, cv::INTER_CUBIC);
    if (static_cast<int>(weights.size()) != gridSize * gridSize)
        return out;
    // A grey image under the heat, so that the image's own colours are not read as heat.
    cv::Mat grey;
    cv::cvtColor(out, grey, cv::COLOR_RGB2GRAY);
    cv::cvtColor(grey, out, cv::COLOR_GRAY2RGB);
    cv::Mat heat(gridSize, gridSize, CV_32F);
    const float top = std::max(*std::max_element(weights.begin(), weights.end()), 1e-12f);
    for (int i = 0; i < gridSize * gridSize; ++i)
        heat.at<float>(i / gridSize, i % gridSize) = weights[static_cast<size_t>(i)] / top;
    cv::Mat big, heat8, colour;
    cv::resize(heat, big, cv::Size(tile, tile), 0, 0, cv::INTER_NEAREST);
    big.convertTo(heat8, CV_8U, 255.0);
    cv::applyColorMap(heat8, colour, cv::COLORMAP_INFERNO);   // BGR
    cv::cvtColor(colour, colour, cv::COLOR_BGR2RGB);
    const double a = std::clamp(opacity, 0.0, 1.0);
    cv::addWeighted(out, 1 - a, colour, a, 0, out);
    return out;
}

cv::Scalar selectionRankColour(size_t rank) { return rankColour(rank); }

cv::Mat attentionColourBar(int width, int height)
{
    cv::Mat ramp(1, width, CV_8U);
    for (int x = 0; x < width; ++x)
        ramp.at<uint8_t>(0, x) = static_cast<uint8_t>(255 * x / std::max(1, width - 1));
    cv::Mat colour, out;
    cv::applyColorMap(ramp, colour, cv::COLORMAP_INFERNO);
    cv::cvtColor(colour, colour, cv::COLOR_BGR2RGB);
    cv::resize(colour, out, cv::Size(width, height), 0, 0, cv::INTER_NEAREST);
    return out;
}

cv::Mat explainPicture(const cv::Mat &rgb, const prompt::ImageSelection &selection, int imageSize, int gridSize,
                       const std::string &caption, int tile)
{
    const cv::Mat view = modelView(rgb, imageSize);
    const bool withAttention = !selection.clsAttention.empty();
    const int count = static_cast<int>(selection.layers.size());
    const int columns = std::max(1, std::min(count, 4)), rows = std::max(1, (count + columns - 1) / columns);
    const int label = 22, header = 30, pad = 6, legend = 40;
    const int cellW = (withAttention ? 2 * tile + pad : tile) + pad, cellH = tile + label + pad;
    cv::Mat canvas(header + rows * cellH + pad + legend, std::max(columns * cellW + pad, 420), CV_8UC3, cv::Scalar(250, 250, 250));
    const auto text = [&](const std::string &what, cv::Point at, double scale, int grey) {
        cv::putText(canvas, what, at, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(grey, grey, grey), 1, cv::LINE_AA);
    };
    text(caption, {pad, 21}, 0.6, 20);
    if (count == 0)
        text("(no selections: this method does not select tokens)", {pad, header + 20}, 0.45, 90);
    for (int i = 0; i < count; ++i) {
        const auto &layer = selection.layers[static_cast<size_t>(i)];
        const int x = pad + (i % columns) * cellW, y = header + (i / columns) * cellH;
        text("block " + std::to_string(layer.block) + ": selected", {x, y + 15}, 0.45, 40);
        selectionTile(view, layer, gridSize, tile).copyTo(canvas(cv::Rect(x, y + label, tile, tile)));
        const size_t block = static_cast<size_t>(layer.block);
        if (withAttention && block < selection.clsAttention.size()) {
            text("[CLS] attention", {x + tile + pad, y + 15}, 0.45, 40);
            attentionTile(view, selection.clsAttention[block], gridSize, tile)
                .copyTo(canvas(cv::Rect(x + tile + pad, y + label, tile, tile)));
        }
    }
    // The legend: what the outline colours rank, and the heat map's scale.
    int x = pad;
    const int y = canvas.rows - legend + 12;
    text("selection rank:", {x, y + 11}, 0.42, 40);
    x += 112;
    for (size_t r = 0; r < 5; ++r) {
        cv::rectangle(canvas, {x, y}, {x + 14, y + 14}, rankColour(r), 2);
        text(std::to_string(r + 1), {x + 18, y + 12}, 0.42, 40);
        x += 34;
    }
    text("(1 = highest score)", {x, y + 11}, 0.42, 90);
    if (withAttention) {
        const int barX = pad, barY = y + 18, barW = 160;
        if (barY + 8 < canvas.rows) {
            text("attention: low", {barX, barY + 8}, 0.38, 40);
            attentionColourBar(barW, 8).copyTo(canvas(cv::Rect(barX + 96, barY, barW, 8)));
            text("high", {barX + 100 + barW, barY + 8}, 0.38, 40);
        }
    }
    cv::Mat bgr;
    cv::cvtColor(canvas, bgr, cv::COLOR_RGB2BGR);
    return bgr;
}

} // namespace sep::exporting
