#pragma once
// What a method selected while scoring, in plain data for the inspector, the store and the
// explanation pictures. Torch-free.
//
// Image tokens are numbered as the image tower sees them: 0 = [CLS], 1 … g² = patches row by row.

#include <cstdint>
#include <string>
#include <vector>

namespace sep::prompt {

// One fused layer on the image side of one image.
struct ImageLayerSelection {
    int64_t block = 0;                 // the tower block the fused prompts were fed to
    std::vector<int64_t> tokens;       // the K selected tokens, highest score first
    std::vector<float> scores;         // their scores (mean of squared activations)
    std::vector<float> attention;      // [n_prompts × K] fusion attention (heads averaged), row-major;
                                       // empty in reference mode (attention runs across the batch there)
};

struct ImageSelection {
    std::vector<ImageLayerSelection> layers;
    // On request: per block, the [CLS] query's attention over the patches (heads averaged), g² values.
    std::vector<std::vector<float>> clsAttention;
};

struct TextLayerSelection {
    int64_t block = 0;
    std::vector<int64_t> positions;    // token positions selected (after [SOT] and the context)
    std::vector<float> attention;      // [n_ctx × K] fusion attention, row-major; empty in reference mode
};

// One class's text side.
struct ClassSelection {
    std::string className;
    std::vector<std::string> pieces;   // decoded BPE piece at each selected position ("" for padding)
    std::vector<TextLayerSelection> layers;
};

} // namespace sep::prompt
