#pragma once
// Tiny CLIP models made by the tests themselves, and writers for every weight format a user may
// bring. The writers map names in the direction opposite to the engine's importers, so a round trip
// checks both.

#include "engine/clip/config.h"
#include "engine/clip/model.h"

#include <QString>

#include <string>

namespace sep::test {

// A small ViT CLIP: image 32 px, patch 8 (16 patches), width 64 × 2 layers (2 heads); text width 32 ×
// 2 layers (2 heads), context 16; embedding 24. vocabSize 49408 fits the real CLIP vocabulary.
clip::Config tinyConfig(int64_t vocabSize = 49408);

// A model with deterministic random weights (LayerNorms perturbed too, so they matter).
clip::Model makeTinyModel(const clip::Config &config, uint64_t seed = 1);

// OpenAI's release layout: a TorchScript archive, weights in fp16 when `half`.
void writeOpenAiArchive(clip::Model &model, const std::string &path, bool half);
// A torch.save state dict with OpenAI key names (optionally nested under "state_dict", keys prefixed).
void writeStateDict(clip::Model &model, const std::string &path, bool nestUnderStateDict = false,
                    const std::string &keyPrefix = {});
// Hugging Face's model.safetensors (+ config.json with head counts beside it when writeConfig).
void writeHuggingFace(clip::Model &model, const std::string &path, bool writeConfig = true);

// Deterministic pseudo-images [n, 3, S, S] for the tiny model.
at::Tensor randomImages(int64_t n, int64_t size, uint64_t seed);

// Writes an RGB PNG of w×h of a given colour pattern (for folder tests).
void writePng(const QString &path, int w, int h, int r, int g, int b);

QString vocabPath();    // the real CLIP vocabulary, or empty when absent
bool hasVocab();

} // namespace sep::test
