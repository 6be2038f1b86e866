#include "engine/train/trainer.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/data/batch.h"
#include "engine/data/few_shot.h"
#include "engine/io/safetensors.h"
#include "engine/train/adam.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>

namespace sep::train {
namespace fs = std::filesystem;
namespace {

// bf16 autocast around a forward on CUDA; a no-op otherwise.
class AutocastScope {
public:
    explicit AutocastScope(bool on) : m_on(on)
    {
        if (m_on) {
            at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
            at::autocast::set_enabled(true);
        }
    }
    ~AutocastScope()
    {
        if (m_on) {
            at::autocast::set_enabled(false);
            at::autocast::clear_cache();
        }
    }

private:
    bool m_on;
};

std::string fixed(double v, int digits)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

} // namespace

const OptionTable<TrainOptions> &TrainOptions::table()
{
    static const OptionTable<TrainOptions> t{{
        intField(&TrainOptions::epochs, "epochs", "Epochs", "Passes over the few-shot training set", 1, 100000),
        intField(&TrainOptions::batchSize, "batch", "Batch size", "Training images per step", 1, 65536),
        realField(&TrainOptions::lr, "lr", "Learning rate", "Peak learning rate of the cosine schedule", 0, 10),
        realField(&TrainOptions::warmupLr, "warmup_lr", "Warm-up learning rate", "Constant learning rate of the warm-up epochs",
                  0, 10),
        intField(&TrainOptions::warmupEpochs, "warmup_epochs", "Warm-up epochs", "Epochs at the warm-up learning rate", 0,
                 100000),
        realField(&TrainOptions::weightDecay, "weight_decay", "Weight decay", "L2 penalty added to the gradient (Adam, not AdamW)",
                  0, 1),
        realField(&TrainOptions::beta1, "beta1", "Adam β1", "Decay of the gradient average", 0, 1),
        realField(&TrainOptions::beta2, "beta2", "Adam β2", "Decay of the squared-gradient average", 0, 1),
        realField(&TrainOptions::eps, "eps", "Adam ε", "Added to the denominator (the recipe's 1e-3 is large on purpose)", 0, 1),
        boolField(&TrainOptions::augment, "augment", "Augment", "Random resized crop and horizontal flip of training images"),
        boolField(&TrainOptions::bf16, "bf16", "bf16 autocast", "Mixed precision on CUDA GPUs (faster; results differ slightly)"),
        intField(&TrainOptions::evalEvery, "eval_every", "Evaluate every", "Epochs between evaluations for the accuracy "
                                                                            "curves (0: only at the end)", 0, 100000),
    }};
    return t;
}

double learningRate(const TrainOptions &o, int64_t epoch)
{
    if (epoch < o.warmupEpochs)
        return o.warmupLr;
    const double pi = 3.14159265358979323846;
    return o.lr * 0.5 * (1 + std::cos(pi * static_cast<double>(epoch - o.warmupEpochs) / static_cast<double>(o.epochs)));
}

Trainer::Trainer(prompt::Method &method, std::vector<data::ImageRecord> train, int64_t imageSize, TrainOptions options,
                 uint64_t seed, std::string checkpointDir)
    : m_method(method), m_train(std::move(train)), m_imageSize(imageSize), m_options(options), m_seed(seed),
      m_checkpointDir(std::move(checkpointDir))
{
    if (m_train.empty())
        throw Error("training: no training images");
    if (m_options.bf16 && !method.device().is_cuda())
        throw Error("bf16 autocast needs a CUDA device; train in fp32 on the CPU");
}

int64_t Trainer::batchesPerEpoch() const
{
    const auto n = static_cast<int64_t>(m_train.size());
    return (n + m_options.batchSize - 1) / m_options.batchSize;   // the last partial batch is kept
}

prompt::Batch Trainer::drawBatch(int64_t epoch, int64_t index, const Hooks &hooks)
{
    std::vector<int64_t> order(m_train.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = static_cast<int64_t>(i);
    if (epoch >= 0) {   // epoch −1 is the prototype pass, in dataset order
        data::Rng rng(data::mixSeed({m_seed, static_cast<uint64_t>(epoch), 0x5eed}));
        rng.shuffle(order);
    }
    const int64_t begin = index * m_options.batchSize;
    const int64_t end = std::min<int64_t>(begin + m_options.batchSize, static_cast<int64_t>(order.size()));
    std::vector<std::string> paths;
    std::vector<int64_t> ids;
    for (int64_t i = begin; i < end; ++i) {
        ids.push_back(order[static_cast<size_t>(i)]);
        paths.push_back(m_train[static_cast<size_t>(order[static_cast<size_t>(i)])].path);
    }
    const bool augment = m_options.augment;
    auto loaded = data::loadBatch(paths, m_imageSize, augment ? data::Transform::Train : data::Transform::Eval,
                                  data::mixSeed({m_seed, static_cast<uint64_t>(epoch + 1), static_cast<uint64_t>(index)}));
    for (const auto &f : loaded.failures)
        if (m_reported.insert(f.path).second)
            hooks.warn(f.path + ": " + f.reason + " (left out of training)");
    for (const auto &w : loaded.warnings)
        if (m_reported.insert(w.path).second)
            hooks.warn(w.path + ": " + w.reason);
    prompt::Batch batch;
    batch.pixels = loaded.pixels;
    batch.augmented = augment;
    auto labels = torch::empty({static_cast<int64_t>(loaded.kept.size())}, torch::kLong);
    for (size_t j = 0; j < loaded.kept.size(); ++j) {
        const int64_t id = ids[loaded.kept[j]];
        batch.ids.push_back(id);
        labels[static_cast<int64_t>(j)] = m_train[static_cast<size_t>(id)].label;
    }
    batch.labels = labels;
    return batch;
}

std::string Trainer::checkpointPath(const std::string &dir) { return dir + "/last.safetensors"; }

int64_t Trainer::checkpointEpoch(const std::string &dir)
{
    std::error_code ec;
    if (!fs::exists(checkpointPath(dir), ec))
        return -1;
    const auto header = io::readSafetensorsHeader(checkpointPath(dir));
    auto it = header.metadata.find("epoch");
    if (it == header.metadata.end())
        throw Error(checkpointPath(dir) + ": not a training checkpoint (no epoch recorded)");
    return std::stoll(it->second);
}

void Trainer::saveCheckpoint(int64_t epochsDone, const Adam &adam)
{
    makeDirectories(m_checkpointDir);
    TensorMap tensors = m_method.state();
    for (auto &[k, v] : adam.state())
        tensors[k] = v;
    io::writeSafetensors(checkpointPath(m_checkpointDir), tensors,
                         {{"format", "pt"},
                          {"epoch", std::to_string(epochsDone)},
                          {"method", m_method.name()},
                          {"options", m_method.options().dump()}});
}

void Trainer::run(bool resume, const Hooks &hooks, const TrainCallbacks &callbacks)
{
    if (!m_method.trainable())
        throw Error(m_method.name() + " has nothing to train");
    int64_t start = 0;
    if (resume) {
        start = checkpointEpoch(m_checkpointDir);
        if (start < 0)
            throw Error(m_checkpointDir + ": no checkpoint to resume from");
        const auto path = checkpointPath(m_checkpointDir);
        const auto tensors = io::readSafetensors(path);
        m_method.loadState(tensors, path);
        hooks.info("resuming after epoch " + std::to_string(start) + " from " + path);
    } else {
        hooks.info("preparing: one pass over " + std::to_string(m_train.size()) + " training images");
        m_method.prepareTraining([&](int64_t b) { return drawBatch(-1, b, hooks); }, batchesPerEpoch());
    }
    Adam adam(m_method.namedParameters(), {m_options.beta1, m_options.beta2, m_options.eps, m_options.weightDecay});
    if (resume) {
        const auto path = checkpointPath(m_checkpointDir);
        adam.loadState(io::readSafetensors(path), path);
    } else {
        saveCheckpoint(0, adam);   // so that a cancel during the first epoch leaves a loadable checkpoint
    }

    const int64_t batches = batchesPerEpoch();
    const int64_t totalSteps = (m_options.epochs - start) * batches;
    const auto started = std::chrono::steady_clock::now();
    int64_t stepsDone = 0;
    for (int64_t epoch = start; epoch < m_options.epochs; ++epoch) {
        const auto epochStart = std::chrono::steady_clock::now();
        const double lr = learningRate(m_options, epoch);
        double lossSum = 0, seen = 0, correct = 0;
        std::map<std::string, double> partSums;
        for (int64_t b = 0; b < batches; ++b) {
            if (hooks.cancelled())
                throw Cancelled{};
            auto batch = drawBatch(epoch, b, hooks);
            if (batch.pixels.size(0) == 0) {
                hooks.warn("epoch " + std::to_string(epoch + 1) + ", step " + std::to_string(b + 1)
                           + ": no image of the batch could be read; step skipped");
                continue;
            }
            prompt::LossTerms terms;
            {
                AutocastScope autocast(m_options.bf16);
                terms = m_method.loss(batch);
            }
            const double value = terms.total.item<double>();
            if (!std::isfinite(value)) {
                const std::string kept = epoch > 0 ? "epoch " + std::to_string(epoch) : "the initial state";
                throw Error("epoch " + std::to_string(epoch + 1) + ", step " + std::to_string(b + 1) + " of "
                            + std::to_string(batches) + ": the loss became " + (std::isnan(value) ? "NaN" : "infinite")
                            + "; training stopped. The last good checkpoint (" + kept + ") is kept in "
                            + checkpointPath(m_checkpointDir) + ". Try a lower learning rate.");
            }
            m_method.backward(terms);
            adam.step(lr);
            adam.zeroGrad();
            m_method.invalidateCaches();

            const double n = static_cast<double>(batch.pixels.size(0));
            lossSum += value * n;
            seen += n;
            for (const auto &[k, v] : terms.parts)
                partSums[k] += v * n;
            correct += terms.logits.argmax(-1).to(torch::kCPU).eq(batch.labels).sum().item<double>();
            ++stepsDone;
            const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            hooks.report({stepsDone, totalSteps,
                          "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(m_options.epochs) + " loss "
                              + fixed(lossSum / seen, 4),
                          elapsed, elapsed / static_cast<double>(stepsDone) * static_cast<double>(totalSteps - stepsDone)});
        }
        if (seen == 0)
            throw Error("epoch " + std::to_string(epoch + 1) + ": no training image could be read; training stopped");

        EpochRecord record;
        record.epoch = epoch + 1;
        record.lr = lr;
        record.loss = lossSum / seen;
        record.trainAccuracy = correct / seen;
        for (const auto &[k, v] : partSums)
            record.parts[k] = v / seen;
        saveCheckpoint(epoch + 1, adam);
        record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epochStart).count();
        // Reported before the (cancellable) evaluation, so the record is kept with its checkpoint.
        if (callbacks.epochDone)
            callbacks.epochDone(record);
        std::string line = "epoch " + std::to_string(record.epoch) + "/" + std::to_string(m_options.epochs) + ": loss "
                           + fixed(record.loss, 4) + ", train accuracy " + fixed(100 * record.trainAccuracy, 1) + "% ("
                           + fixed(record.seconds, 1) + " s)";
        hooks.info(line);
        const bool last = epoch + 1 == m_options.epochs;
        if (callbacks.evaluate && (last || (m_options.evalEvery > 0 && (epoch + 1) % m_options.evalEvery == 0))) {
            record.eval = callbacks.evaluate(epoch + 1);
            std::string accuracies;
            for (const auto &[k, v] : record.eval)
                accuracies += (accuracies.empty() ? "" : ", ") + k + " " + fixed(100 * v, 1) + "%";
            if (!accuracies.empty())   // every test set empty: the evaluation has said so already
                hooks.info("epoch " + std::to_string(record.epoch) + " test accuracy: " + accuracies);
            if (callbacks.epochDone)
                callbacks.epochDone(record);
        }
    }
}

} // namespace sep::train
