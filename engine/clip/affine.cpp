#include "engine/clip/affine.h"

#include <torch/torch.h>

#include <cstdlib>
#include <cstring>

namespace sep::clip {
namespace {

bool isCpuFloat(const at::Tensor &t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided; }

// x·(αW)ᵀ + βb through oneDNN, differentiable with respect to x only (the weight and bias are frozen).
// Forward is a 1×1 convolution: rows [M, K] in row-major order are a channels-last image [1, K, M, 1],
// so the product reads and writes ordinary tensors (no copies into oneDNN's layout). Measured on
// ViT-B/16 shapes: 290–390 GFLOP/s against 220–340 for LibTorch's mkldnn_linear and 155–185 for
// OpenBLAS. Backward keeps just the weight, as LibTorch's own product does for a frozen weight.
class OneDnnAffine : public torch::autograd::Function<OneDnnAffine> {
public:
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &rows, const at::Tensor &weight,
                              const c10::optional<at::Tensor> &bias, double alpha, double beta)
    {
        ctx->saved_data["weight"] = weight;
        ctx->saved_data["alpha"] = alpha;
        const int64_t M = rows.size(0), K = rows.size(1), N = weight.size(0);
        const auto image = rows.contiguous().view({1, M, 1, K}).permute({0, 3, 1, 2});
        // The scalings go onto the weight and bias: their size does not grow with the batch.
        const auto w = scaled(weight, alpha).view({N, K, 1, 1});
        const auto b = bias && beta != 1.0 ? c10::optional<at::Tensor>(*bias * beta) : bias;
        const auto y = at::mkldnn_convolution(image, w, b, /*padding*/ {0, 0}, /*stride*/ {1, 1}, /*dilation*/ {1, 1}, 1);
        return y.permute({0, 2, 3, 1}).reshape({M, N});
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                   torch::autograd::variable_list grads)
    {
        const auto weight = ctx->saved_data["weight"].toTensor();
        const auto w = scaled(weight, ctx->saved_data["alpha"].toDouble());
        const auto &grad = grads[0];   // [rows, out]
        auto dx = at::mkldnn_linear_backward_input({grad.size(0), weight.size(1)}, grad.contiguous().to_mkldnn(), w);
        return {dx.to_dense(), {}, {}, {}, {}};
    }

private:
    static at::Tensor scaled(const at::Tensor &weight, double alpha)
    {
        return alpha == 1.0 ? weight.contiguous() : weight * alpha;
    }
};

} // namespace

bool oneDnnEnabled()
{
    static const bool enabled = [] {
        const char *env = std::getenv("SEP_ONEDNN");
        return at::hasMKLDNN() && !(env && std::strcmp(env, "0") == 0);
    }();
    return enabled;
}

bool affineUsesOneDnn(const at::Tensor &x, const at::Tensor &weight, const at::Tensor &bias)
{
    if (!oneDnnEnabled() || x.numel() == 0 || !isCpuFloat(x) || !isCpuFloat(weight) || (bias.defined() && !isCpuFloat(bias)))
        return false;
    // A weight that trains needs its own gradient; this route gives the input's only. Training the
    // backbone (pretraining) keeps LibTorch's product.
    const bool training = torch::GradMode::is_enabled()
                          && (weight.requires_grad() || (bias.defined() && bias.requires_grad()));
    return !training;
}

at::Tensor affine(const at::Tensor &x, const at::Tensor &weight, const at::Tensor &bias, double alpha, double beta)
{
    auto rows = x.reshape({-1, x.size(-1)});
    at::Tensor y;
    if (affineUsesOneDnn(x, weight, bias)) {
        // The bias travels as an optional: LibTorch 1.13's autograd functions reject undefined tensors.
        y = OneDnnAffine::apply(rows, weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt, alpha, beta);
    } else if (bias.defined()) {
        y = at::addmm(bias, rows, weight.t(), beta, alpha);
    } else {
        y = at::mm(rows, weight.t());
        if (alpha != 1.0)
            y = y * alpha;
    }
    auto shape = x.sizes().vec();
    shape.back() = weight.size(0);
    return y.view(shape);
}

} // namespace sep::clip
