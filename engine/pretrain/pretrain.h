#pragma once
// Contrastive image–text pretraining of a small CLIP from scratch (symmetric InfoNCE with a learnable
// logit scale), with its own byte-level BPE vocabulary learned from the captions. What it writes is a
// model folder every `sep` command loads like real CLIP weights:
//   model.safetensors   OpenAI key names (fp16 when `half`)
//   merges.txt          the vocabulary as a merges file (CLIP's format): 514 + merges ids
//   config.json         head counts and activation, Hugging Face layout
//   provenance.json     the exact options, seed, data summary and results that made it
// plus checkpoint.safetensors (resume), metrics.csv and log.txt while it trains.
//
//   sep::pretrain::PretrainOptions o;  o.data = "demo-data";  o.out = "resources/models/builtin";
//   sep::pretrain::pretrain(o, /*resume=*/false, hooks);

#include "engine/core/hooks.h"
#include "engine/core/options.h"

#include <string>
#include <vector>

namespace sep::pretrain {

struct PretrainOptions {
    std::string data = "demo-data";
    std::string out;
    std::string holdOutStyles;        // comma-separated emoji styles never read (kept for downstream tuning)
    std::string evalStyle;            // a held-out style to measure zero-shot accuracy on after each epoch
    int64_t imageSize = 48;
    int64_t patchSize = 8;
    int64_t visionWidth = 192;
    int64_t visionLayers = 6;
    int64_t textWidth = 192;
    int64_t textLayers = 4;
    int64_t embedDim = 192;
    int64_t contextLength = 32;
    int64_t merges = 3582;            // vocabulary of 4096
    int64_t epochs = 30;
    int64_t batchSize = 128;
    double lr = 1e-3;
    double weightDecay = 0.1;
    int64_t warmupSteps = 300;
    double grayscale = 0.2;           // probability of a gray image (monochrome styles)
    double sketch = 0.1;              // probability of an edge drawing (outline styles)
    bool extraPairs = true;           // the Debian picture corpora beside the emoji
    bool half = true;                 // store the final weights as fp16
    uint64_t seed = 1;

    static PretrainOptions defaults() { return {}; }
    static const OptionTable<PretrainOptions> &table();
};

struct PretrainResult {
    int64_t epochs = 0, steps = 0, images = 0;
    double finalLoss = 0;
    double zeroShotAccuracy = -1;     // on evalStyle, when given
    double seconds = 0;
};

PretrainResult pretrain(const PretrainOptions &options, bool resume, const Hooks &hooks);

} // namespace sep::pretrain
