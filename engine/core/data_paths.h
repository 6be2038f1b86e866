#pragma once
// Where the files that ship with SEP Studio are found, for a build tree and for an installed copy.

#include <string>

namespace sep {

// The built-in model's folder (model.safetensors, its vocabulary, provenance.json): $SEP_BUILTIN_MODEL,
// the source tree's resources/models/builtin (for a build tree), or the installed
// share/sep-studio/models/builtin. "" when none is found.
std::string builtinModelPath();

// Its weights file, or "" when there is no built-in model.
std::string builtinModelWeights();

} // namespace sep
