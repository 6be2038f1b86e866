#pragma once
// SEP's Token Fusion Module: rebuilds the prompt tokens Q from K selected pre-trained tokens S.
//
//   A = MHA(query = LN1(Q), key = LN1(S), value = LN1(S))      heads = max(1, d / 64)
//   Z = s1 · S[:n] + (1 − s1) · A                               the j-th selected token is slot j's partner
//   Z = s2 · Z + (1 − s2) · MLP(LN2(Z))                         MLP: d → hidden → d, no biases, QuickGELU
//
//   sep::prompt::TokenFusion tfm(768, 256);
//   at::Tensor z = tfm->forward(q, s, /*acrossBatch=*/false, &attention);   // q [B, n, d], s [B, K, d]
//
// acrossBatch reproduces the released implementation: its attention was fed batch-major tensors as if
// they were sequence-major, so for each slot the attention runs across the images (or classes) of
// the batch instead of across the K tokens. That mode needs K == n.

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace sep::prompt {

class TokenFusionImpl : public torch::nn::Module {
public:
    TokenFusionImpl(int64_t width, int64_t hidden = 256, double scaleInit = 0.75);

    // attention, when given, receives the fusion weights averaged over heads: [B, n, K] (per sample)
    // or [n, B, B] (acrossBatch).
    torch::Tensor forward(const torch::Tensor &q, const torch::Tensor &s, bool acrossBatch = false,
                          torch::Tensor *attention = nullptr);

    int64_t heads;
    torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
    torch::Tensor in_proj_weight, in_proj_bias;
    torch::nn::Linear out_proj{nullptr}, fc1{nullptr}, fc2{nullptr};
    torch::Tensor scale1, scale2;
};
TORCH_MODULE(TokenFusion);

// Scaled dot-product attention of queries over keys/values with separate inputs, batch-first:
// q [B, n, d], kv [B, K, d] → [B, n, d]. The q/k/v projections are rows 0..d, d..2d, 2d..3d of inProj.
torch::Tensor crossAttention(const torch::Tensor &q, const torch::Tensor &kv, const torch::Tensor &inProjWeight,
                             const torch::Tensor &inProjBias, torch::nn::Linear &outProj, int64_t heads,
                             torch::Tensor *weights);

} // namespace sep::prompt
