#pragma once
// Tiny CLIP models made by the tests themselves, and writers for every weight format a user may
// bring. The writers map names in the direction opposite to the engine's importers, so a round trip
// checks both.

#include "engine/clip/config.h"
#include "engine/clip/model.h"
#include "engine/clip/weights.h"

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

// A byte-level vocabulary without merges (514 ids: bytes, bytes + "</w>", SOT, EOT), written to
// `dir`; models that use it need vocabSize 514.
std::string writeTinyVocab(const std::string &dir);

// A tiny model with that vocabulary and a context of 32, ready for prompt methods (frozen like a
// loaded one).
clip::LoadedClip tinyClip(const std::string &vocabDir, uint64_t seed = 1);

// The tiny byte-vocabulary model of tinyClip() written to `dir` as a user would have it: weights
// (safetensors, OpenAI names), the vocabulary and a config.json with its head counts beside them.
struct ModelFiles {
    std::string weights, vocab, config;
};
ModelFiles writeTinyModelFiles(const std::string &dir, uint64_t seed = 1);

// Colour classes for training tests: `perClass` noisy images of 40×40 px per class in `root/<name>/`.
void writeColourFolder(const QString &root, const std::vector<std::string> &classes, int perClass, uint64_t seed);

// Deterministic pseudo-images [n, 3, S, S] for the tiny model.
at::Tensor randomImages(int64_t n, int64_t size, uint64_t seed);

// Writes an RGB PNG of w×h of a given colour pattern (for folder tests).
void writePng(const QString &path, int w, int h, int r, int g, int b);

QString vocabPath();    // the real CLIP vocabulary, or empty when absent
bool hasVocab();

} // namespace sep::test
