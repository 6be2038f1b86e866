#pragma once
// A named set of tensors, the common currency of every weight reader and writer.
// std::map keeps names sorted, so files written from it are reproducible.

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace sep {

using TensorMap = std::map<std::string, at::Tensor>;

} // namespace sep
