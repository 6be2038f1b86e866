#include "engine/clip/config.h"

#include "engine/core/error.h"
#include "engine/core/files.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sep::clip {
namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

std::string shapeText(const std::vector<int64_t> &shape)
{
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

const std::vector<int64_t> &require(const Shapes &shapes, const std::string &key, size_t rank,
                                    const std::string &source)
{
    auto it = shapes.find(key);
    if (it == shapes.end())
        throw Error(source + ": missing weight '" + key + "'; this does not look like a CLIP ViT model");
    if (it->second.size() != rank)
        throw Error(source + ": weight '" + key + "' has shape " + shapeText(it->second) + ", expected "
                    + std::to_string(rank) + " dimensions");
    // Far above any CLIP (ViT-bigG: width 1664, vocabulary 49408), and low enough that the sizes and
    // parameter counts computed from these dimensions cannot overflow 64 bits.
    constexpr int64_t kMaxDimension = int64_t(1) << 20;
    for (int64_t d : it->second)
        if (d < 0 || d > kMaxDimension)
            throw Error(source + ": weight '" + key + "' has shape " + shapeText(it->second) + ", which no CLIP model has "
                        "(each dimension at most " + std::to_string(kMaxDimension) + "); the file is damaged");
    return it->second;
}

// Counts consecutive blocks "<prefix>N.<suffix>" from N = 0 up.
int64_t countBlocks(const Shapes &shapes, const std::string &prefix, const std::string &suffix)
{
    int64_t n = 0;
    while (shapes.count(prefix + std::to_string(n) + suffix))
        ++n;
    return n;
}

int64_t defaultHeads(int64_t width) { return std::max<int64_t>(1, width / 64); }

int64_t blockParameters(const TowerConfig &t)
{
    const int64_t w = t.width, m = t.mlpWidth;
    return 2 * w                    // ln_1
           + 3 * w * w + 3 * w      // packed q/k/v projection
           + w * w + w              // output projection
           + 2 * w                  // ln_2
           + w * m + m              // c_fc
           + m * w + w;             // c_proj
}

} // namespace

Config Config::fromShapes(const Shapes &shapes, const std::string &source)
{
    if (shapes.count("visual.layer1.0.conv1.weight") || shapes.count("visual.attnpool.positional_embedding"))
        throw Error(source + ": this is a ResNet CLIP model (RN50, RN101, …); only Vision Transformer "
                             "CLIP models (ViT-B/32, ViT-B/16, ViT-L/14, …) are supported");
    Config c;

    const auto &conv = require(shapes, "visual.conv1.weight", 4, source);
    if (conv[1] != 3 || conv[2] != conv[3])
        throw Error(source + ": 'visual.conv1.weight' has shape " + shapeText(conv)
                    + ", expected [width, 3, patch, patch]");
    c.vision.width = conv[0];
    c.vision.patchSize = conv[2];
    const auto &vpos = require(shapes, "visual.positional_embedding", 2, source);
    // No [CLS] row: no square root to take (llround of NaN is no number).
    const auto grid = vpos[0] < 1 ? -1 : static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(vpos[0] - 1))));
    if (grid * grid + 1 != vpos[0] || vpos[1] != c.vision.width)
        throw Error(source + ": 'visual.positional_embedding' has shape " + shapeText(vpos)
                    + ", expected [1 + grid², " + std::to_string(c.vision.width) + "]");
    c.vision.imageSize = grid * c.vision.patchSize;
    c.vision.layers = countBlocks(shapes, "visual.transformer.resblocks.", ".attn.in_proj_weight");
    if (c.vision.layers == 0)
        throw Error(source + ": no image transformer blocks ('visual.transformer.resblocks.0.*') found");
    c.vision.mlpWidth = require(shapes, "visual.transformer.resblocks.0.mlp.c_fc.weight", 2, source)[0];
    c.vision.heads = defaultHeads(c.vision.width);
    const auto &vproj = require(shapes, "visual.proj", 2, source);
    c.embedDim = vproj[1];

    const auto &tok = require(shapes, "token_embedding.weight", 2, source);
    c.text.vocabSize = tok[0];
    c.text.width = tok[1];
    const auto &tpos = require(shapes, "positional_embedding", 2, source);
    c.text.contextLength = tpos[0];
    c.text.layers = countBlocks(shapes, "transformer.resblocks.", ".attn.in_proj_weight");
    if (c.text.layers == 0)
        throw Error(source + ": no text transformer blocks ('transformer.resblocks.0.*') found");
    c.text.mlpWidth = require(shapes, "transformer.resblocks.0.mlp.c_fc.weight", 2, source)[0];
    c.text.heads = defaultHeads(c.text.width);
    const auto &tproj = require(shapes, "text_projection", 2, source);
    if (tproj[1] != c.embedDim)
        throw Error(source + ": 'text_projection' maps to " + std::to_string(tproj[1])
                    + " dimensions but 'visual.proj' to " + std::to_string(c.embedDim));
    return c;
}

Config Config::vitB16()
{
    Config c;
    c.vision.width = 768;
    c.vision.layers = 12;
    c.vision.heads = 12;
    c.vision.mlpWidth = 3072;
    c.vision.patchSize = 16;
    c.vision.imageSize = 224;
    c.text.width = 512;
    c.text.layers = 12;
    c.text.heads = 8;
    c.text.mlpWidth = 2048;
    c.text.contextLength = 77;
    c.text.vocabSize = 49408;
    c.embedDim = 512;
    return c;
}

int64_t Config::visionParameterCount() const
{
    const auto &v = vision;
    return v.width * 3 * v.patchSize * v.patchSize     // conv1 (no bias)
           + v.width                                   // class_embedding
           + v.tokens() * v.width                      // positional_embedding
           + 2 * v.width                               // ln_pre
           + v.layers * blockParameters(v)
           + 2 * v.width                               // ln_post
           + v.width * embedDim;                       // proj
}

int64_t Config::textParameterCount() const
{
    const auto &t = text;
    return t.vocabSize * t.width + t.contextLength * t.width + t.layers * blockParameters(t) + 2 * t.width
           + t.width * embedDim;
}

namespace {
// One block over T tokens: q/k/v, output and MLP projections, plus the two attention products.
double blockFlops(const TowerConfig &t, double tokens)
{
    const double w = static_cast<double>(t.width), m = static_cast<double>(t.mlpWidth);
    return 2.0 * tokens * (4.0 * w * w + 2.0 * w * m) + 4.0 * tokens * tokens * w;
}
} // namespace

double Config::visionFlops() const
{
    const double patches = static_cast<double>(vision.gridSize() * vision.gridSize());
    const double patchDim = 3.0 * static_cast<double>(vision.patchSize * vision.patchSize);
    return 2.0 * patches * patchDim * static_cast<double>(vision.width)
           + static_cast<double>(vision.layers) * blockFlops(vision, static_cast<double>(vision.tokens()))
           + 2.0 * static_cast<double>(vision.width * embedDim);
}

double Config::textFlops(int64_t length) const
{
    return static_cast<double>(text.layers) * blockFlops(text, static_cast<double>(length))
           + 2.0 * static_cast<double>(text.width * embedDim);
}

int64_t Config::parameterCount() const { return visionParameterCount() + textParameterCount() + 1; }

double Config::parameterCountEstimate() const
{
    auto block = [](const TowerConfig &t) {
        const double w = static_cast<double>(t.width), m = static_cast<double>(t.mlpWidth);
        return 4.0 * w * w + 2.0 * w * m;   // the products dominate; biases and norms are below the slack
    };
    const double vw = static_cast<double>(vision.width), tw = static_cast<double>(text.width);
    const double patch = static_cast<double>(vision.patchSize), e = static_cast<double>(embedDim);
    return vw * 3.0 * patch * patch + static_cast<double>(vision.layers) * block(vision) + vw * e
           + static_cast<double>(text.vocabSize) * tw + static_cast<double>(text.contextLength) * tw
           + static_cast<double>(text.layers) * block(text) + tw * e;
}

std::string Config::describe() const
{
    std::ostringstream s;
    s << "ViT image " << vision.imageSize << " px, patch " << vision.patchSize << ", width " << vision.width << " × "
      << vision.layers << " layers (" << vision.heads << " heads); text " << text.width << " × " << text.layers
      << " layers (" << text.heads << " heads), context " << text.contextLength << ", vocabulary "
      << text.vocabSize << "; embedding " << embedDim;
    if (activation == Activation::Gelu)
        s << "; GELU";
    return s.str();
}

bool Config::operator==(const Config &o) const
{
    auto tower = [](const TowerConfig &a, const TowerConfig &b) {
        return a.width == b.width && a.layers == b.layers && a.heads == b.heads && a.mlpWidth == b.mlpWidth;
    };
    return tower(vision, o.vision) && vision.patchSize == o.vision.patchSize
           && vision.imageSize == o.vision.imageSize && tower(text, o.text)
           && text.contextLength == o.text.contextLength && text.vocabSize == o.text.vocabSize
           && embedDim == o.embedDim && activation == o.activation && layerNormEps == o.layerNormEps;
}

void applyJsonConfig(Config &config, const std::string &jsonPath)
{
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(readFile(jsonPath));
    } catch (const nlohmann::json::exception &e) {
        throw Error(jsonPath + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object())
        throw Error(jsonPath + ": expected a JSON object with 'text_config' and 'vision_config'");

    // Every field read is checked, and the sizes it states must match the weights: a config that
    // belongs to another model would otherwise change the predictions without a word.
    const std::string fix = "; correct it, or pass --config with the file that came with these weights";
    auto wholeNumber = [&](const nlohmann::json &s, const std::string &where) {
        if (!s.is_number_integer() || s.get<int64_t>() < 1)
            throw Error(jsonPath + ": '" + where + "' must be a whole number ≥ 1, got " + s.dump() + fix);
        return s.get<int64_t>();
    };
    auto matches = [&](const nlohmann::json &s, const char *section, const char *key, int64_t fromWeights) {
        if (!s.contains(key))
            return;
        const std::string where = *section ? std::string(section) + "." + key : std::string(key);
        const int64_t v = wholeNumber(s[key], where);
        if (v != fromWeights)
            throw Error(jsonPath + ": '" + where + "' is " + std::to_string(v) + " but the weights have "
                        + std::to_string(fromWeights) + "; this configuration belongs to another model" + fix);
    };
    auto apply = [&](const char *section, TowerConfig &tower) {
        if (!j.contains(section))
            throw Error(jsonPath + ": has no '" + section + "' (with num_attention_heads)" + fix);
        const auto &s = j[section];
        if (!s.is_object())
            throw Error(jsonPath + ": '" + section + "' is not an object" + fix);
        // Hugging Face fills a missing head count with its library default, which is wrong for most
        // models other than ViT-B; guessing here would change the predictions silently.
        if (!s.contains("num_attention_heads"))
            throw Error(jsonPath + ": '" + section + ".num_attention_heads' is missing; add the model's head count"
                        + fix);
        tower.heads = wholeNumber(s["num_attention_heads"], std::string(section) + ".num_attention_heads");
        if (tower.width % tower.heads != 0)
            throw Error(jsonPath + ": " + section + " has " + std::to_string(tower.heads)
                        + " attention heads, which do not divide its width " + std::to_string(tower.width) + fix);
        matches(s, section, "hidden_size", tower.width);
        matches(s, section, "num_hidden_layers", tower.layers);
        matches(s, section, "intermediate_size", tower.mlpWidth);
        if (s.contains("hidden_act")) {
            const std::string act = s["hidden_act"].is_string() ? s["hidden_act"].get<std::string>() : s["hidden_act"].dump();
            if (act == "quick_gelu")
                config.activation = Activation::QuickGelu;
            else if (act == "gelu")
                config.activation = Activation::Gelu;
            else
                throw Error(jsonPath + ": '" + section + ".hidden_act' is '" + act + "'; supported: quick_gelu, gelu");
        }
        if (s.contains("layer_norm_eps")) {
            const auto &e = s["layer_norm_eps"];
            if (!e.is_number() || !(e.get<double>() > 0 && e.get<double>() < 1))
                throw Error(jsonPath + ": '" + section + ".layer_norm_eps' must be a number between 0 and 1 (e.g. "
                            "1e-05), got " + e.dump() + fix);
            config.layerNormEps = e.get<double>();
        }
    };
    apply("text_config", config.text);
    apply("vision_config", config.vision);
    matches(j["text_config"], "text_config", "vocab_size", config.text.vocabSize);
    matches(j["text_config"], "text_config", "max_position_embeddings", config.text.contextLength);
    matches(j["vision_config"], "vision_config", "patch_size", config.vision.patchSize);
    matches(j["vision_config"], "vision_config", "image_size", config.vision.imageSize);
    matches(j, "", "projection_dim", config.embedDim);
}

std::string findJsonConfigBeside(const std::string &weightsPath)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path candidate = fs::path(weightsPath).parent_path() / "config.json";
    return fs::is_regular_file(candidate, ec) ? candidate.string() : std::string();
}

} // namespace sep::clip
