#pragma once
// CLIP's two towers as our own LibTorch modules. Parameter names follow OpenAI's release (the text
// tower's under "text."), so a state dict maps onto the model by name.
//
//   sep::clip::Model model(config);                       // random init; see weights.h for loading
//   torch::Tensor img = model->encodeImage(pixels);       // [B, 3, S, S] normalized → [B, embedDim]
//   torch::Tensor txt = model->encodeText(ids);           // [M, context] int64 → [M, embedDim]
//
// Prompt-tuning methods drive the towers block by block: embed(), then block(i) for each layer with
// their own tokens spliced in, then head(). Every block is a pre-LayerNorm residual block:
// x + attn(ln_1(x)), then x + mlp(ln_2(x)).
//
// Modules are not thread-safe for concurrent training; concurrent forwards under NoGradGuard are fine.

#include "engine/clip/config.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace sep::clip {

// Multi-head self-attention with a packed q/k/v input projection (q, k, v order) and an output
// projection, both with bias; batch-first tensors [B, L, D].
class AttentionImpl : public torch::nn::Module {
public:
    AttentionImpl(int64_t width, int64_t heads);
    // mask: additive [L, L] or undefined. When probe is given, receives the attention weights of the
    // first query (the [CLS] token in the image tower), averaged over heads: [B, L].
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &mask = {}, torch::Tensor *probe = nullptr);

    int64_t heads;
    torch::Tensor in_proj_weight, in_proj_bias;
    torch::nn::Linear out_proj{nullptr};
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
public:
    MlpImpl(int64_t width, int64_t hidden, Activation activation);
    torch::Tensor forward(const torch::Tensor &x);

    Activation activation;
    torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(Mlp);

class ResidualBlockImpl : public torch::nn::Module {
public:
    ResidualBlockImpl(const TowerConfig &tower, Activation activation, double eps);
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &mask = {}, torch::Tensor *probe = nullptr);

    torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
    Attention attn{nullptr};
    Mlp mlp{nullptr};
};
TORCH_MODULE(ResidualBlock);

// Holds the blocks under "resblocks.N" as OpenAI names them.
class TransformerImpl : public torch::nn::Module {
public:
    TransformerImpl(const TowerConfig &tower, Activation activation, double eps);
    ResidualBlock &block(int64_t i) { return blocks[static_cast<size_t>(i)]; }
    int64_t layers() const { return static_cast<int64_t>(blocks.size()); }

    torch::nn::ModuleList resblocks;
    std::vector<ResidualBlock> blocks;   // typed handles to the same modules
};
TORCH_MODULE(Transformer);

// The patch embedding: a stride-patch convolution without bias, computed as one matrix product over
// the flattened (channel, row, column) patches taken row by row.
class PatchEmbedImpl : public torch::nn::Module {
public:
    PatchEmbedImpl(int64_t width, int64_t patch);
    torch::Tensor forward(const torch::Tensor &images);   // [B, 3, S, S] → [B, (S/p)², width]

    int64_t patch;
    torch::Tensor weight;   // [width, 3, patch, patch]
};
TORCH_MODULE(PatchEmbed);

class VisionTowerImpl : public torch::nn::Module {
public:
    VisionTowerImpl(const Config &config);

    // [CLS] + patches with positional embeddings added: [B, 1 + grid², width] (before ln_pre).
    torch::Tensor embed(const torch::Tensor &images);
    // ln_post of the [CLS] token, projected: [B, width] → [B, embedDim].
    torch::Tensor head(const torch::Tensor &cls);
    // The plain forward. clsAttention, when given, receives one [B, tokens] tensor per layer: the
    // [CLS] query's attention over all tokens, averaged over heads.
    torch::Tensor forward(const torch::Tensor &images, std::vector<torch::Tensor> *clsAttention = nullptr);

    int64_t layers() const { return transformer->layers(); }
    ResidualBlock &block(int64_t i) { return transformer->block(i); }

    PatchEmbed conv1{nullptr};
    torch::Tensor class_embedding, positional_embedding, proj;
    torch::nn::LayerNorm ln_pre{nullptr}, ln_post{nullptr};
    Transformer transformer{nullptr};
};
TORCH_MODULE(VisionTower);

class TextTowerImpl : public torch::nn::Module {
public:
    TextTowerImpl(const Config &config);

    // Token embeddings without positions: [M, L] → [M, L, width].
    torch::Tensor embed(const torch::Tensor &ids);
    // Additive causal mask for the first `length` positions (cached per device).
    torch::Tensor causalMask(int64_t length, const torch::Device &device);
    // ln_final at each sequence's EOT position, projected: [M, L, width] → [M, embedDim].
    torch::Tensor head(const torch::Tensor &x, const torch::Tensor &eotIndex);
    // The plain forward over token ids [M, context]. Positions after the longest sequence's EOT are
    // never computed: the causal mask makes them invisible to every position that is read.
    torch::Tensor forward(const torch::Tensor &ids);

    int64_t layers() const { return transformer->layers(); }
    ResidualBlock &block(int64_t i) { return transformer->block(i); }

    torch::nn::Embedding token_embedding{nullptr};
    torch::Tensor positional_embedding, text_projection;
    Transformer transformer{nullptr};
    torch::nn::LayerNorm ln_final{nullptr};

private:
    torch::Tensor m_mask;
};
TORCH_MODULE(TextTower);

class ModelImpl : public torch::nn::Module {
public:
    explicit ModelImpl(const Config &config);

    torch::Tensor encodeImage(const torch::Tensor &images) { return visual->forward(images); }
    torch::Tensor encodeText(const torch::Tensor &ids) { return text->forward(ids); }
    // exp(logit_scale) · normalize(image) · normalize(text)ᵀ
    torch::Tensor logits(const torch::Tensor &imageFeatures, const torch::Tensor &textFeatures);
    double logitScale() const;   // exp(logit_scale)

    const Config &config() const { return m_config; }

    VisionTower visual{nullptr};
    TextTower text{nullptr};
    torch::Tensor logit_scale;

private:
    Config m_config;
};
TORCH_MODULE(Model);

// Position of each sequence's EOT (the largest id): [M] int64.
torch::Tensor eotPositions(const torch::Tensor &ids);

} // namespace sep::clip
