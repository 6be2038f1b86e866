#include "engine/prompt/token_fusion.h"

#include "engine/core/error.h"

#include <torch/torch.h>

#include <cmath>

namespace sep::prompt {

TokenFusionImpl::TokenFusionImpl(int64_t width, int64_t hidden, double scaleInit)
    : heads(std::max<int64_t>(1, width / 64))
{
    if (width % heads != 0)
        throw Error("token fusion: width " + std::to_string(width) + " is not divisible into " + std::to_string(heads)
                    + " heads");
    ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
    ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
    in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
    in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
    out_proj = register_module("out_proj", torch::nn::Linear(width, width));
    fc1 = register_module("fc1", torch::nn::Linear(torch::nn::LinearOptions(width, hidden).bias(false)));
    fc2 = register_module("fc2", torch::nn::Linear(torch::nn::LinearOptions(hidden, width).bias(false)));
    scale1 = register_parameter("scale1", torch::full({1}, scaleInit));
    scale2 = register_parameter("scale2", torch::full({1}, scaleInit));
    // PyTorch's defaults for nn.MultiheadAttention: xavier-uniform in-projection, zero biases; the
    // output projection keeps Linear's uniform ±1/√d weights with a zero bias.
    torch::NoGradGuard noGrad;
    torch::nn::init::xavier_uniform_(in_proj_weight);
    out_proj->bias.zero_();
}

torch::Tensor crossAttention(const torch::Tensor &q, const torch::Tensor &kv, const torch::Tensor &inProjWeight,
                             const torch::Tensor &inProjBias, torch::nn::Linear &outProj, int64_t heads,
                             torch::Tensor *weights)
{
    const int64_t B = q.size(0), n = q.size(1), K = kv.size(1), d = q.size(2), hd = d / heads;
    auto wq = inProjWeight.slice(0, 0, d), wkv = inProjWeight.slice(0, d, 3 * d);
    auto bq = inProjBias.slice(0, 0, d), bkv = inProjBias.slice(0, d, 3 * d);
    auto qh = torch::nn::functional::linear(q, wq, bq).view({B, n, heads, hd}).transpose(1, 2);   // [B, H, n, hd]
    auto kvh = torch::nn::functional::linear(kv, wkv, bkv).view({B, K, 2, heads, hd}).permute({2, 0, 3, 1, 4});
    auto scores = torch::matmul(qh * (1.0 / std::sqrt(static_cast<double>(hd))), kvh[0].transpose(-2, -1));
    auto a = torch::softmax(scores, -1);   // [B, H, n, K]
    if (weights)
        *weights = a.mean(1).detach();
    auto out = torch::matmul(a, kvh[1]).transpose(1, 2).reshape({B, n, d});
    return outProj->forward(out);
}

torch::Tensor TokenFusionImpl::forward(const torch::Tensor &q, const torch::Tensor &s, bool acrossBatch,
                                       torch::Tensor *attention)
{
    const int64_t n = q.size(1);
    if (s.size(1) < n)
        throw Error("token fusion: " + std::to_string(s.size(1)) + " selected tokens for " + std::to_string(n)
                    + " prompt tokens; each prompt token needs a selected partner");
    auto qn = ln1->forward(q), sn = ln1->forward(s);
    torch::Tensor a;
    if (acrossBatch) {
        if (s.size(1) != n)
            throw Error("token fusion: reference mode needs as many selected tokens as prompt tokens");
        // The released code's MultiheadAttention read [B, n, d] as [sequence, batch, d].
        a = crossAttention(qn.transpose(0, 1), sn.transpose(0, 1), in_proj_weight, in_proj_bias, out_proj, heads,
                           attention)
                .transpose(0, 1);
    } else {
        a = crossAttention(qn, sn, in_proj_weight, in_proj_bias, out_proj, heads, attention);
    }
    auto z = scale1 * s.slice(1, 0, n) + (1 - scale1) * a;
    auto h = fc1->forward(ln2->forward(z));
    h = h * torch::sigmoid(1.702 * h);
    return scale2 * z + (1 - scale2) * fc2->forward(h);
}

} // namespace sep::prompt
