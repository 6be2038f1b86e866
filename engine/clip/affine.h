#pragma once
// The towers' affine maps, y = beta·bias + alpha·x·Wᵀ over the last dimension of x (bias optional).
//
//   auto y = sep::clip::affine(x, fc->weight, fc->bias);            // as torch::nn::functional::linear
//   auto h = sep::clip::affine(x, fc->weight, fc->bias, 1.7, 1.7);   // scalings ride on the product
//
// On the CPU in float32, with a weight that is not being trained (prompt tuning, evaluation), the
// product runs through oneDNN, which LibTorch ships: 1.4–2× the OpenBLAS rate on ViT-B/16 shapes on
// an AVX-512 machine (docs/PERFORMANCE.md). The result differs from the BLAS path by float rounding only
// (a different summation order). Everything else (CUDA, other types, weights that train) takes
// LibTorch's own product. Thread-safe.

#include <ATen/core/Tensor.h>

namespace sep::clip {

at::Tensor affine(const at::Tensor &x, const at::Tensor &weight, const at::Tensor &bias, double alpha = 1.0,
                  double beta = 1.0);

// Whether affine() takes the oneDNN route for these operands in the current grad mode.
bool affineUsesOneDnn(const at::Tensor &x, const at::Tensor &weight, const at::Tensor &bias);

// On where LibTorch was built with oneDNN, unless the environment variable SEP_ONEDNN is 0 (read once).
bool oneDnnEnabled();

} // namespace sep::clip
