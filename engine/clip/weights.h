#pragma once
// Loading CLIP weights a user has, whatever the format, detected from the file's content:
//  - OpenAI's release files (TorchScript archives, often fp16): tensors read, graphs never run;
//  - torch.save state dicts with OpenAI key names (bare, or under "state_dict", "module." stripped);
//  - safetensors, with Hugging Face key names (openai/clip-vit-base-patch16 layout) or OpenAI names.
// Everything becomes fp32 under OpenAI names; the model is built from the weights' shapes.
//
//   sep::clip::LoadOptions opt;              // opt.configPath = "config.json" to set head counts
//   sep::clip::LoadedClip clip = sep::clip::loadClip("ViT-B-16.pt", opt);
//   clip.model->to(torch::kCUDA);
//   auto ids = clip.tokenizer->encode("a photo of a cat.", clip.config().text.contextLength);

#include "engine/clip/model.h"
#include "engine/clip/tokenizer.h"
#include "engine/io/tensor_map.h"

#include <optional>
#include <string>
#include <vector>

namespace sep::clip {

struct LoadOptions {
    std::string configPath;   // Hugging Face-style config.json; "" → the one beside the weights, if any
    std::string vocabPath;    // merges file or vocab.json; "" → found beside the weights
    bool loadVocabulary = true;
    // Head counts and activation imposed on the model (an exported bundle records them); 0 / "" keep
    // what the weights and config give.
    int64_t textHeads = 0, visionHeads = 0;
    std::string activation;
};

struct LoadedClip {
    Model model{nullptr};
    std::optional<Tokenizer> tokenizer;   // absent when loadVocabulary is off
    std::string weightsPath;
    std::string format;               // e.g. "OpenAI TorchScript archive (fp16)"
    std::string vocabPath;
    std::vector<std::string> notes;   // what was ignored or converted, for the log
    const Config &config() const { return model->config(); }
};

// Reads any supported file into fp32 tensors under OpenAI key names. `format` and `notes` describe
// what was found. Throws sep::Error naming the file (and key or byte range) on any failure.
TensorMap readClipWeights(const std::string &path, std::string *format = nullptr,
                          std::vector<std::string> *notes = nullptr);

// The model's configuration from OpenAI-named weights and the optional JSON config.
Config configFromWeights(const TensorMap &weights, const std::string &source, const std::string &configPath);

// Copies OpenAI-named weights into the model: every parameter must be present with its exact shape.
// Returns the keys of `weights` the model has no place for.
// sep::Error naming the first weight that holds NaN or infinite values.
void requireFiniteWeights(const TensorMap &weights, const std::string &source);

std::vector<std::string> copyWeightsInto(Model &model, const TensorMap &weights, const std::string &source);

// The model's parameters under OpenAI key names (what copyWeightsInto reads back).
TensorMap exportWeights(Model &model);

// The whole load: weights → config → model (frozen: requires_grad off) → tokenizer.
LoadedClip loadClip(const std::string &weightsPath, const LoadOptions &options = {});

// The vocabulary for a weights file: `vocabPath` when given, else the one beside the weights.
// Throws sep::Error saying how to provide one when there is none.
Tokenizer loadTokenizer(const std::string &weightsPath, const std::string &vocabPath, int64_t vocabSize,
                        std::string *foundPath = nullptr);

// Name mapping between our modules and OpenAI's keys (the text tower lives under "text." here).
std::string modelNameToOpenAi(const std::string &name);
std::string openAiNameToModel(const std::string &key);

} // namespace sep::clip
