#pragma once
// The training loop of the recipe: Adam (coupled weight decay), one warm-up epoch at a small constant
// learning rate, then a per-epoch cosine schedule; each epoch reshuffles the training set and keeps
// the last partial batch; a checkpoint after every epoch (atomic); resume continues exactly; cancel
// is honoured between steps.
//
//   sep::train::Trainer trainer(method, fewShotImages, imageSize, options, seed, "run/checkpoints");
//   trainer.run(/*resume=*/false, hooks, callbacks);
//
// The same seed, data and options give the same batches, augmentations and, on the CPU, the same
// numbers. Unreadable images are reported once each and left out of their batch.

#include "engine/core/hooks.h"
#include "engine/core/options.h"
#include "engine/data/image_folder.h"
#include "engine/prompt/method.h"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sep::train {

struct TrainOptions {
    int64_t epochs = 50;
    int64_t batchSize = 32;
    double lr = 0.0025;
    double warmupLr = 1e-5;
    int64_t warmupEpochs = 1;
    double weightDecay = 5e-4;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-3;
    bool augment = true;          // random resized crop + flip, as the recipe
    bool bf16 = false;            // bf16 autocast (CUDA only)
    int64_t evalEvery = 1;        // evaluate the test sets every N epochs for the curves (0: only at the end)

    static TrainOptions defaults() { return {}; }
    static const OptionTable<TrainOptions> &table();
};

// The recipe's schedule for epoch e (0-based) of E: warmupLr during the warm-up epochs (w), then
// lr · ½ (1 + cos(π (e − w) / E)); with the recipe's single warm-up epoch the last epoch is not at 0.
double learningRate(const TrainOptions &options, int64_t epoch);

struct EpochRecord {
    int64_t epoch = 0;             // 1-based count of completed epochs
    double lr = 0;
    double loss = 0;               // mean over the epoch's images
    double trainAccuracy = 0;
    double seconds = 0;
    std::map<std::string, double> parts;   // mean of each loss term
    std::map<std::string, double> eval;    // e.g. {"base": 0.81, "new": 0.74} when evaluated this epoch
};

struct TrainCallbacks {
    // Evaluates the current weights; returns accuracy per test set. Called every evalEvery epochs.
    std::function<std::map<std::string, double>(int64_t epoch)> evaluate;
    // After each epoch's checkpoint is on disk; called again with `eval` filled when the epoch was
    // evaluated.
    std::function<void(const EpochRecord &)> epochDone;
};

class Trainer {
public:
    Trainer(prompt::Method &method, std::vector<data::ImageRecord> train, int64_t imageSize, TrainOptions options,
            uint64_t seed, std::string checkpointDir);

    // Trains to the last epoch. With resume, continues after the checkpoint's epoch (an error when
    // there is none). Throws sep::Cancelled when the hooks' cancel flag is seen (the last epoch's
    // checkpoint stays valid) and sep::Error on a non-finite loss (naming the epoch; the last good
    // checkpoint is kept).
    void run(bool resume, const Hooks &hooks, const TrainCallbacks &callbacks = {});

    // Epochs completed according to the checkpoint in checkpointDir, or -1 when there is none.
    static int64_t checkpointEpoch(const std::string &checkpointDir);
    static std::string checkpointPath(const std::string &checkpointDir);

    int64_t batchesPerEpoch() const;
    // Batch `index` of epoch `epoch` (0-based), as the loop draws it.
    prompt::Batch drawBatch(int64_t epoch, int64_t index, const Hooks &hooks);

private:
    void saveCheckpoint(int64_t epochsDone, const class Adam &adam);

    prompt::Method &m_method;
    std::vector<data::ImageRecord> m_train;
    int64_t m_imageSize;
    TrainOptions m_options;
    uint64_t m_seed;
    std::string m_checkpointDir;
    std::set<std::string> m_reported;   // unreadable files already reported
};

} // namespace sep::train
