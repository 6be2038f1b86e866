#pragma once
// The shape of a CLIP model, read from its weights (never from a table of known models), plus the
// few facts weights cannot carry: attention head counts and the MLP activation.
//
//   sep::clip::Config c = sep::clip::Config::fromShapes(shapes);   // name → shape, OpenAI key names
//   sep::clip::applyHeadsConfig(c, "config.json");                 // Hugging Face layout
//   std::cout << c.describe() << ", " << c.parameterCount() << " parameters\n";
//
// Torch-free on purpose: the GUI shows the detected architecture without including LibTorch.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sep::clip {

enum class Activation { QuickGelu, Gelu };

struct TowerConfig {
    int64_t width = 0;
    int64_t layers = 0;
    int64_t heads = 0;
    int64_t mlpWidth = 0;       // hidden size of each block's MLP (4 × width in every OpenAI release)
};

struct VisionConfig : TowerConfig {
    int64_t patchSize = 0;
    int64_t imageSize = 0;      // input resolution; (imageSize / patchSize)² patches
    int64_t gridSize() const { return patchSize ? imageSize / patchSize : 0; }
    int64_t tokens() const { return 1 + gridSize() * gridSize(); }   // [CLS] + patches
};

struct TextConfig : TowerConfig {
    int64_t contextLength = 0;
    int64_t vocabSize = 0;
};

struct Config {
    VisionConfig vision;
    TextConfig text;
    int64_t embedDim = 0;                      // joint image–text space
    Activation activation = Activation::QuickGelu;
    double layerNormEps = 1e-5;

    // Reads every size from the shapes of OpenAI-named weights; heads default to max(1, width / 64).
    // Throws sep::Error naming the missing or inconsistent key (`source` names the file in messages).
    static Config fromShapes(const std::map<std::string, std::vector<int64_t>> &shapes,
                             const std::string &source);

    // OpenAI ViT-B/16's shape (heads 12/8), for benchmarks and tests with random weights. Loading
    // never uses it: real weights always define their own shape.
    static Config vitB16();

    // Exact parameter counts of the model this config builds (checked against the built modules in tests).
    int64_t visionParameterCount() const;
    int64_t textParameterCount() const;
    int64_t parameterCount() const;
    // The same count in floating point, which cannot overflow for the absurd sizes a damaged file
    // may declare; used to refuse such a model before anything is allocated.
    double parameterCountEstimate() const;   // both towers + logit_scale

    // Multiply-add FLOPs (2 per multiply-add) of one forward: the image tower per image (patch
    // embedding, blocks, projection), the text tower per sequence of `length` tokens.
    double visionFlops() const;
    double textFlops(int64_t length) const;

    // "ViT image 224 px, patch 16, width 768 × 12 layers (12 heads); text 512 × 12 layers (8 heads),
    //  context 77, vocabulary 49408; embedding 512"
    std::string describe() const;

    bool operator==(const Config &) const;
};

// Applies a Hugging Face-style config.json: text_config / vision_config `num_attention_heads`
// (required in both), `hidden_act` ("quick_gelu" or "gelu") and `layer_norm_eps` (in (0, 1)).
// Sizes it also states (hidden_size, num_hidden_layers, intermediate_size, vocab_size,
// max_position_embeddings, patch_size, image_size, projection_dim) must equal the weights'.
// sep::Error naming the file and the field for anything missing, mistyped or out of range.
void applyJsonConfig(Config &config, const std::string &jsonPath);

// Hugging Face keeps config.json beside model.safetensors; "" when there is none.
std::string findJsonConfigBeside(const std::string &weightsPath);

} // namespace sep::clip
