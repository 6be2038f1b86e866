#include "engine/clip/model.h"

#include "engine/clip/affine.h"
#include "engine/core/error.h"

#include <torch/torch.h>

#include <cmath>

namespace sep::clip {
namespace {

// Initialisation for models trained from scratch (pretraining, test fixtures). Loaded weights
// overwrite all of it. Residual branches are scaled down with depth so deep stacks start stable.
void initBlock(ResidualBlockImpl &b, int64_t width, int64_t layers)
{
    torch::NoGradGuard noGrad;
    const double attnStd = std::pow(static_cast<double>(width), -0.5);
    const double projStd = attnStd * std::pow(2.0 * static_cast<double>(layers), -0.5);
    const double fcStd = std::pow(2.0 * static_cast<double>(width), -0.5);
    b.attn->in_proj_weight.normal_(0, attnStd);
    b.attn->in_proj_bias.zero_();
    b.attn->out_proj->weight.normal_(0, projStd);
    b.attn->out_proj->bias.zero_();
    b.mlp->c_fc->weight.normal_(0, fcStd);
    b.mlp->c_fc->bias.zero_();
    b.mlp->c_proj->weight.normal_(0, projStd);
    b.mlp->c_proj->bias.zero_();
}

torch::nn::LayerNorm layerNorm(int64_t width, double eps)
{
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(eps));
}

} // namespace

AttentionImpl::AttentionImpl(int64_t width, int64_t heads_) : heads(heads_)
{
    if (heads < 1 || width % heads != 0)
        throw Error("attention: " + std::to_string(heads) + " heads do not divide the width " + std::to_string(width));
    in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
    in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
    out_proj = register_module("out_proj", torch::nn::Linear(width, width));
    torch::nn::init::xavier_uniform_(in_proj_weight);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor &x, const torch::Tensor &mask, torch::Tensor *probe)
{
    const int64_t B = x.size(0), L = x.size(1), D = x.size(2), hd = D / heads;
    // [B, L, 3D] → three contiguous [B·H, L, hd] for batched matrix products.
    auto qkv = affine(x, in_proj_weight, in_proj_bias)
                   .view({B, L, 3, heads, hd})
                   .permute({2, 0, 3, 1, 4})
                   .reshape({3, B * heads, L, hd});
    auto q = qkv[0], k = qkv[1], v = qkv[2];
    // The causal mask is the product's additive input and the scale its alpha: one pass over the
    // [B·H, L, L] scores instead of three.
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    auto scores = mask.defined() ? torch::baddbmm(mask, q, k.transpose(1, 2), 1.0, scale)
                                 : torch::bmm(q * scale, k.transpose(1, 2));
    auto weights = torch::softmax(scores, -1);
    if (probe)
        *probe = weights.view({B, heads, L, L}).select(2, 0).mean(1);   // first query, averaged over heads: [B, L]
    auto out = torch::bmm(weights, v).view({B, heads, L, hd}).transpose(1, 2).reshape({B, L, D});
    return affine(out, out_proj->weight, out_proj->bias);
}

MlpImpl::MlpImpl(int64_t width, int64_t hidden, Activation activation_) : activation(activation_)
{
    c_fc = register_module("c_fc", torch::nn::Linear(width, hidden));
    c_proj = register_module("c_proj", torch::nn::Linear(hidden, width));
}

torch::Tensor MlpImpl::forward(const torch::Tensor &x)
{
    if (activation != Activation::QuickGelu)
        return affine(torch::gelu(affine(x, c_fc->weight, c_fc->bias)), c_proj->weight, c_proj->bias);
    // QuickGELU, h·σ(1.702h), equals silu(1.702h)/1.702. The two scalings ride on the affine maps, so the
    // wide hidden tensor sees one fused activation, forward and backward, instead of three element-wise
    // passes (this MLP's element-wise work is memory-bound). Same values as the direct formula within
    // float rounding.
    constexpr double a = 1.702;
    auto h = affine(x, c_fc->weight, c_fc->bias, a, a);   // 1.702 · (x Wᵀ + b)
    h = torch::GradMode::is_enabled() ? torch::silu(h) : torch::silu_(h);
    return affine(h, c_proj->weight, c_proj->bias, 1.0 / a);
}

ResidualBlockImpl::ResidualBlockImpl(const TowerConfig &tower, Activation activation, double eps)
{
    ln_1 = register_module("ln_1", layerNorm(tower.width, eps));
    attn = register_module("attn", Attention(tower.width, tower.heads));
    ln_2 = register_module("ln_2", layerNorm(tower.width, eps));
    mlp = register_module("mlp", Mlp(tower.width, tower.mlpWidth, activation));
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor &x, const torch::Tensor &mask, torch::Tensor *probe)
{
    auto h = x + attn->forward(ln_1->forward(x), mask, probe);
    return h + mlp->forward(ln_2->forward(h));
}

TransformerImpl::TransformerImpl(const TowerConfig &tower, Activation activation, double eps)
{
    resblocks = register_module("resblocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < tower.layers; ++i) {
        blocks.emplace_back(tower, activation, eps);
        initBlock(*blocks.back(), tower.width, tower.layers);
        resblocks->push_back(blocks.back());
    }
}

PatchEmbedImpl::PatchEmbedImpl(int64_t width, int64_t patch_) : patch(patch_)
{
    weight = register_parameter("weight", torch::empty({width, 3, patch, patch}));
    torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor &images)
{
    const int64_t B = images.size(0), S = images.size(2), g = S / patch;
    if (images.dim() != 4 || images.size(1) != 3 || images.size(3) != S || S % patch != 0)
        throw Error("image tower: expected images [B, 3, S, S] with S a multiple of " + std::to_string(patch));
    // [B, 3, g, p, g, p] → [B, g, g, 3, p, p]: patches row by row, each flattened (channel, row, column)
    auto patches = images.reshape({B, 3, g, patch, g, patch}).permute({0, 2, 4, 1, 3, 5})
                       .reshape({B, g * g, 3 * patch * patch});
    return affine(patches, weight.reshape({weight.size(0), -1}), {});
}

VisionTowerImpl::VisionTowerImpl(const Config &config)
{
    const auto &v = config.vision;
    const double scale = std::pow(static_cast<double>(v.width), -0.5);
    conv1 = register_module("conv1", PatchEmbed(v.width, v.patchSize));
    class_embedding = register_parameter("class_embedding", torch::randn({v.width}) * scale);
    positional_embedding = register_parameter("positional_embedding", torch::randn({v.tokens(), v.width}) * scale);
    ln_pre = register_module("ln_pre", layerNorm(v.width, config.layerNormEps));
    transformer = register_module("transformer", Transformer(v, config.activation, config.layerNormEps));
    ln_post = register_module("ln_post", layerNorm(v.width, config.layerNormEps));
    proj = register_parameter("proj", torch::randn({v.width, config.embedDim}) * scale);
}

torch::Tensor VisionTowerImpl::embed(const torch::Tensor &images)
{
    auto patches = conv1->forward(images);
    auto cls = class_embedding.view({1, 1, -1}).expand({patches.size(0), 1, patches.size(2)});
    if (patches.size(1) + 1 != positional_embedding.size(0))
        throw Error("image tower: input resolution " + std::to_string(images.size(2))
                    + " does not match the model's (" + std::to_string(positional_embedding.size(0) - 1) + " patches)");
    return torch::cat({cls, patches}, 1) + positional_embedding;
}

torch::Tensor VisionTowerImpl::head(const torch::Tensor &cls) { return torch::matmul(ln_post->forward(cls), proj); }

torch::Tensor VisionTowerImpl::forward(const torch::Tensor &images, std::vector<torch::Tensor> *clsAttention)
{
    auto x = ln_pre->forward(embed(images));
    for (int64_t i = 0; i < layers(); ++i) {
        torch::Tensor probe;
        x = block(i)->forward(x, {}, clsAttention ? &probe : nullptr);
        if (clsAttention)
            clsAttention->push_back(probe);
    }
    return head(x.select(1, 0));
}

TextTowerImpl::TextTowerImpl(const Config &config)
{
    const auto &t = config.text;
    token_embedding = register_module("token_embedding", torch::nn::Embedding(t.vocabSize, t.width));
    positional_embedding = register_parameter("positional_embedding", torch::randn({t.contextLength, t.width}) * 0.01);
    transformer = register_module("transformer", Transformer(t, config.activation, config.layerNormEps));
    ln_final = register_module("ln_final", layerNorm(t.width, config.layerNormEps));
    text_projection = register_parameter(
        "text_projection", torch::randn({t.width, config.embedDim}) * std::pow(static_cast<double>(t.width), -0.5));
    torch::NoGradGuard noGrad;
    token_embedding->weight.normal_(0, 0.02);
}

torch::Tensor TextTowerImpl::embed(const torch::Tensor &ids) { return token_embedding->forward(ids); }

torch::Tensor TextTowerImpl::causalMask(int64_t length, const torch::Device &device)
{
    const int64_t context = positional_embedding.size(0);
    if (!m_mask.defined() || m_mask.device() != device)
        m_mask = torch::full({context, context}, -std::numeric_limits<float>::infinity(),
                             torch::TensorOptions().device(device))
                     .triu(1);
    return m_mask.slice(0, 0, length).slice(1, 0, length);
}

torch::Tensor TextTowerImpl::head(const torch::Tensor &x, const torch::Tensor &eotIndex)
{
    auto rows = torch::arange(x.size(0), torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    return torch::matmul(ln_final->forward(x.index({rows, eotIndex})), text_projection);
}

torch::Tensor TextTowerImpl::forward(const torch::Tensor &ids)
{
    const int64_t context = positional_embedding.size(0);
    if (ids.dim() != 2 || ids.size(1) > context)
        throw Error("text tower: expected token ids [M, ≤" + std::to_string(context) + "]");
    auto eot = eotPositions(ids);
    const int64_t length = eot.numel() ? eot.max().item<int64_t>() + 1 : 1;
    auto x = embed(ids.slice(1, 0, length)) + positional_embedding.slice(0, 0, length);
    auto mask = causalMask(length, x.device());
    for (int64_t i = 0; i < layers(); ++i)
        x = block(i)->forward(x, mask);
    return head(x, eot);
}

torch::Tensor eotPositions(const torch::Tensor &ids) { return ids.argmax(-1); }

ModelImpl::ModelImpl(const Config &config) : m_config(config)
{
    visual = register_module("visual", VisionTower(config));
    text = register_module("text", TextTower(config));
    logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1.0 / 0.07)));
}

torch::Tensor ModelImpl::logits(const torch::Tensor &imageFeatures, const torch::Tensor &textFeatures)
{
    auto i = imageFeatures / imageFeatures.norm(2, -1, true);
    auto t = textFeatures / textFeatures.norm(2, -1, true);
    return logit_scale.exp() * torch::matmul(i, t.t());
}

double ModelImpl::logitScale() const { return std::exp(logit_scale.item<double>()); }

} // namespace sep::clip
