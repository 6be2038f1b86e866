#include "engine/pretrain/pretrain.h"

#include "engine/clip/bpe_learner.h"
#include "engine/clip/image.h"
#include "engine/clip/weights.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/text.h"
#include "engine/core/log_file.h"
#include "engine/data/few_shot.h"
#include "engine/io/safetensors.h"
#include "engine/pretrain/pairs.h"
#include "engine/train/adam.h"

#include <ATen/Parallel.h>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>

namespace sep::pretrain {
namespace fs = std::filesystem;
namespace {

constexpr double kPi = 3.14159265358979323846;

std::set<std::string> splitList(const std::string &s)
{
    const auto items = splitCommaList(s);
    return {items.begin(), items.end()};
}

std::string fixed(double v, int digits)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

// Augmentation for pretraining: a milder crop than the few-shot recipe (emoji fill their frame), a
// flip, and sometimes a gray image or an edge drawing so that monochrome and outline styles are not
// strangers.
std::vector<float> augment(const cv::Mat &rgb, int size, std::mt19937_64 &rng, const PretrainOptions &o)
{
    const cv::Rect box = clip::randomResizedCropBox(rgb.cols, rgb.rows, rng, 0.5, 1.0);
    cv::Mat img = clip::resizeBicubicPil(rgb(box), size, size);
    std::uniform_real_distribution<double> u(0, 1);
    if (u(rng) < 0.5)
        cv::flip(img, img, 1);
    const double r = u(rng);
    if (r < o.grayscale + o.sketch) {
        cv::Mat gray;
        cv::cvtColor(img, gray, cv::COLOR_RGB2GRAY);
        if (r >= o.grayscale) {   // dark lines on white
            cv::Mat edges;
            cv::Canny(gray, edges, 60, 140);
            gray = 255 - edges;
        }
        cv::cvtColor(gray, img, cv::COLOR_GRAY2RGB);
    }
    return clip::normalizeToChw(img);
}

clip::Config modelConfig(const PretrainOptions &o, int64_t vocabSize)
{
    clip::Config c;
    c.vision.width = o.visionWidth;
    c.vision.layers = o.visionLayers;
    c.vision.heads = std::max<int64_t>(1, o.visionWidth / 64);
    c.vision.mlpWidth = 4 * o.visionWidth;
    c.vision.patchSize = o.patchSize;
    c.vision.imageSize = o.imageSize;
    c.text.width = o.textWidth;
    c.text.layers = o.textLayers;
    c.text.heads = std::max<int64_t>(1, o.textWidth / 64);
    c.text.mlpWidth = 4 * o.textWidth;
    c.text.contextLength = o.contextLength;
    c.text.vocabSize = vocabSize;
    c.embedDim = o.embedDim;
    return c;
}

at::Tensor normalized(const at::Tensor &x) { return x / x.norm(2, -1, true); }

// Zero-shot top-1 on one held-out style with "a photo of a {}.", over all its classes and over the
// first 100 classes by name (comparable across vocabularies of the demo data).
std::pair<double, double> zeroShot(clip::LoadedClip &clip, const std::vector<std::pair<std::string, std::string>> &images)
{
    torch::NoGradGuard noGrad;
    std::vector<std::string> classes;
    for (const auto &[path, name] : images)
        classes.push_back(name);
    std::sort(classes.begin(), classes.end());
    classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    std::map<std::string, int64_t> label;
    for (size_t i = 0; i < classes.size(); ++i)
        label[classes[i]] = static_cast<int64_t>(i);
    const int64_t context = clip.config().text.contextLength;
    auto ids = torch::zeros({static_cast<int64_t>(classes.size()), context}, torch::kLong);
    for (size_t i = 0; i < classes.size(); ++i) {
        const auto t = clip.tokenizer->encode("a photo of a " + classes[i] + ".", context, true);
        std::copy(t.begin(), t.end(), ids[static_cast<int64_t>(i)].data_ptr<int64_t>());
    }
    const auto text = normalized(clip.model->encodeText(ids));
    int64_t correct = 0, total = 0, correct100 = 0, total100 = 0;
    const int size = static_cast<int>(clip.config().vision.imageSize);
    for (size_t b = 0; b < images.size(); b += 64) {
        const size_t e = std::min(images.size(), b + 64);
        std::vector<at::Tensor> pixels;
        std::vector<int64_t> labels;
        for (size_t i = b; i < e; ++i) {
            try {
                auto chw = clip::preprocess(clip::decodeImage(images[i].first), size);
                pixels.push_back(torch::from_blob(chw.data(), {3, size, size}).clone());
                labels.push_back(label.at(images[i].second));
            } catch (const Error &) {
            }
        }
        if (pixels.empty())
            continue;
        const auto image = normalized(clip.model->encodeImage(torch::stack(pixels)));
        const auto all = torch::matmul(image, text.t()).argmax(-1);
        const auto first100 = torch::matmul(image, text.slice(0, 0, 100).t()).argmax(-1);
        for (size_t i = 0; i < labels.size(); ++i) {
            correct += all[static_cast<int64_t>(i)].item<int64_t>() == labels[i];
            ++total;
            if (labels[i] < 100) {
                correct100 += first100[static_cast<int64_t>(i)].item<int64_t>() == labels[i];
                ++total100;
            }
        }
    }
    return {total ? double(correct) / double(total) : 0.0, total100 ? double(correct100) / double(total100) : 0.0};
}

} // namespace

const OptionTable<PretrainOptions> &PretrainOptions::table()
{
    using P = PretrainOptions;
    static const OptionTable<P> t{{
        textField(&P::data, "data", "Demo data", "Folder built by packaging/build-demo-data.sh"),
        textField(&P::out, "out", "Output folder", "Where the model, vocabulary and provenance are written"),
        textField(&P::holdOutStyles, "hold_out_styles", "Held-out styles",
                  "Comma-separated emoji styles never read in pretraining (kept for downstream tuning)"),
        textField(&P::evalStyle, "eval_style", "Zero-shot check style", "A held-out style measured after every epoch"),
        intField(&P::imageSize, "image_size", "Resolution", "Input resolution in pixels", 8, 1024),
        intField(&P::patchSize, "patch_size", "Patch size", "Image patch size in pixels", 1, 256),
        intField(&P::visionWidth, "vision_width", "Image width", "Image tower width", 8, 4096),
        intField(&P::visionLayers, "vision_layers", "Image layers", "Image tower blocks", 1, 64),
        intField(&P::textWidth, "text_width", "Text width", "Text tower width", 8, 4096),
        intField(&P::textLayers, "text_layers", "Text layers", "Text tower blocks", 1, 64),
        intField(&P::embedDim, "embed_dim", "Embedding", "Joint embedding size", 8, 4096),
        intField(&P::contextLength, "context_length", "Context", "Text positions", 8, 1024),
        intField(&P::merges, "merges", "BPE merges", "Merges learned from the captions (vocabulary 514 + merges)", 0, 200000),
        intField(&P::epochs, "epochs", "Epochs", "Passes over the pairs", 1, 100000),
        intField(&P::batchSize, "batch", "Batch size", "Pairs per step (the contrastive negatives)", 2, 65536),
        realField(&P::lr, "lr", "Learning rate", "Peak AdamW learning rate", 0, 10),
        realField(&P::weightDecay, "weight_decay", "Weight decay", "Decoupled weight decay of the weight matrices", 0, 10),
        intField(&P::warmupSteps, "warmup_steps", "Warm-up steps", "Linear warm-up before the cosine decay", 0, 10000000),
        realField(&P::grayscale, "grayscale", "Gray images", "Probability of a gray training image", 0, 1),
        realField(&P::sketch, "sketch", "Edge drawings", "Probability of an edge-drawing training image", 0, 1),
        boolField(&P::extraPairs, "extra_pairs", "Debian corpora", "Also train on the Debian picture corpora"),
        boolField(&P::half, "half", "fp16 weights", "Store the final weights as fp16 (half the size)"),
        intField(&P::seed, "seed", "Seed", "Seed of initialisation, order and augmentation", 0, 1e18),
    }};
    return t;
}

PretrainResult pretrain(const PretrainOptions &o, bool resume, const Hooks &outerHooks)
{
    const auto started = std::chrono::steady_clock::now();
    if (o.out.empty())
        throw Error("pretrain: an output folder is needed");
    makeDirectories(o.out);
    const Hooks hooks = withLogFile(outerHooks, o.out + "/log.txt");
    const std::string checkpoint = o.out + "/checkpoint.safetensors", vocabPath = o.out + "/merges.txt";
    std::error_code ec;
    if (!resume && fs::exists(checkpoint, ec))
        throw Error(o.out + ": holds a pretraining checkpoint; pass --resume to continue it or choose another folder");

    const auto holdOut = splitList(o.holdOutStyles);
    if (!o.evalStyle.empty() && !holdOut.count(o.evalStyle))
        throw Error("pretrain: the zero-shot check style '" + o.evalStyle + "' must be one of the held-out styles");
    PairSet set = readPairs(o.data, holdOut, o.extraPairs);
    for (const auto &note : set.notes)
        hooks.info(note);
    std::string styles;
    for (const auto &s : set.styles)
        styles += (styles.empty() ? "" : ", ") + s;
    hooks.info("pretraining styles: " + styles + "; held out: " + o.holdOutStyles);

    // The vocabulary, learned once from every caption (a resumed run reuses the file).
    if (!resume || !fs::exists(vocabPath, ec)) {
        clip::BpeLearner learner;
        for (const auto &p : set.pairs)
            for (const auto &c : p.captions)
                learner.add(c);
        const auto merges = learner.learn(o.merges);
        clip::writeMergesFile(vocabPath, merges);
        hooks.info("vocabulary: " + std::to_string(merges.size()) + " merges learned from " +
                   std::to_string(learner.distinctPieces()) + " distinct words");
    }
    const std::string mergesText = readFile(vocabPath);
    const int64_t mergeCount = std::count(mergesText.begin(), mergesText.end(), '\n') - 1;
    clip::LoadedClip clip;
    clip.tokenizer = clip::Tokenizer::fromMergesFile(vocabPath, 514 + mergeCount);
    clip.vocabPath = vocabPath;

    // Every image decoded once; the epochs then only crop and resize.
    std::vector<cv::Mat> images(set.pairs.size());
    std::vector<std::string> errors(set.pairs.size());
    at::parallel_for(0, static_cast<int64_t>(set.pairs.size()), 16, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            try {
                images[static_cast<size_t>(i)] = clip::decodeImage(set.pairs[static_cast<size_t>(i)].path);
            } catch (const std::exception &ex) {
                errors[static_cast<size_t>(i)] = ex.what();
            }
        }
    });
    std::vector<size_t> usable;
    for (size_t i = 0; i < set.pairs.size(); ++i) {
        if (errors[i].empty())
            usable.push_back(i);
        else
            hooks.warn(errors[i] + " (left out of pretraining)");
    }
    if (usable.size() < static_cast<size_t>(o.batchSize))
        throw Error(o.data + ": only " + std::to_string(usable.size()) + " readable pairs, fewer than one batch of "
                    + std::to_string(o.batchSize));
    // Caption token ids, each cut to the context (the last id becomes EOT).
    std::vector<std::vector<std::vector<int64_t>>> captions(set.pairs.size());
    for (size_t i : usable)
        for (const auto &c : set.pairs[i].captions)
            captions[i].push_back(clip.tokenizer->encode(c, o.contextLength, true));
    std::map<std::string, int64_t> groupIds;
    std::vector<int64_t> group(set.pairs.size());
    for (size_t i = 0; i < set.pairs.size(); ++i)
        group[i] = groupIds.emplace(set.pairs[i].group, static_cast<int64_t>(groupIds.size())).first->second;

    const clip::Config config = modelConfig(o, 514 + mergeCount);
    torch::manual_seed(o.seed);
    clip.model = clip::Model(config);
    hooks.info("model: " + config.describe() + ", " + std::to_string(config.parameterCount()) + " parameters; "
               + std::to_string(usable.size()) + " pairs in " + std::to_string(groupIds.size()) + " groups");
    std::vector<std::pair<std::string, at::Tensor>> named;
    for (auto &p : clip.model->named_parameters())
        named.emplace_back(clip::modelNameToOpenAi(p.key()), p.value());
    train::AdamOptions adamOptions{0.9, 0.98, 1e-6, o.weightDecay, true};
    train::Adam adam(named, adamOptions, [](const std::string &name) {
        // Decay the weight matrices only: not biases, norms, embeddings or the logit scale.
        return name.find("embedding") == std::string::npos && name != "logit_scale" && name != "visual.proj"
               && name.find("bias") == std::string::npos && name.find("ln_") == std::string::npos;
    });

    int64_t startEpoch = 0;
    if (resume) {
        if (!fs::exists(checkpoint, ec))
            throw Error(o.out + ": no pretraining checkpoint to resume from");
        std::map<std::string, std::string> meta;
        const auto state = io::readSafetensors(checkpoint, &meta);
        clip::requireFiniteWeights(state, checkpoint);
        const auto epoch = meta.find("epoch");
        size_t used = 0;
        try {
            if (epoch != meta.end())
                startEpoch = std::stoll(epoch->second, &used);
        } catch (const std::exception &) {
            used = 0;
        }
        if (epoch == meta.end() || used == 0 || used != epoch->second.size() || startEpoch < 0)
            throw Error(checkpoint + ": its metadata has no valid 'epoch'; it is not a pretraining checkpoint of this "
                                     "program, or it is damaged. Start again without --resume in a new folder.");
        clip::copyWeightsInto(clip.model, state, checkpoint);
        adam.loadState(state, checkpoint);
        hooks.info("resuming after epoch " + std::to_string(startEpoch));
    }

    const int64_t batches = static_cast<int64_t>(usable.size()) / o.batchSize;   // full batches: negatives matter
    const int64_t totalSteps = o.epochs * batches;
    const auto evalImages = o.evalStyle.empty() ? std::vector<std::pair<std::string, std::string>>{}
                                                : readStyle(o.data, o.evalStyle);
    PretrainResult result;
    std::string metrics = fs::exists(o.out + "/metrics.csv", ec) && resume ? readFile(o.out + "/metrics.csv")
                                                                           : "epoch,steps,loss,lr,logit_scale,seconds,zero_shot_all,zero_shot_100\n";
    const int size = static_cast<int>(o.imageSize);
    for (int64_t epoch = startEpoch; epoch < o.epochs; ++epoch) {
        const auto epochStart = std::chrono::steady_clock::now();
        std::vector<size_t> order = usable;
        data::Rng(data::mixSeed({o.seed, static_cast<uint64_t>(epoch), 0x9e7})).shuffle(order);
        double lossSum = 0;
        double lr = 0;
        for (int64_t b = 0; b < batches; ++b) {
            if (hooks.cancelled())
                throw Cancelled{};
            const int64_t step = epoch * batches + b;
            lr = step < o.warmupSteps ? o.lr * double(step + 1) / double(o.warmupSteps)
                                      : o.lr * 0.5 * (1 + std::cos(kPi * double(step - o.warmupSteps)
                                                                   / double(std::max<int64_t>(1, totalSteps - o.warmupSteps))));
            auto pixels = torch::empty({o.batchSize, 3, size, size});
            auto ids = torch::zeros({o.batchSize, o.contextLength}, torch::kLong);
            std::vector<int64_t> groups(static_cast<size_t>(o.batchSize));
            at::parallel_for(0, o.batchSize, 8, [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i) {
                    const size_t index = order[static_cast<size_t>(b * o.batchSize + i)];
                    std::mt19937_64 rng(data::mixSeed({o.seed, static_cast<uint64_t>(step), static_cast<uint64_t>(i)}));
                    const auto chw = augment(images[index], size, rng, o);
                    std::copy(chw.begin(), chw.end(), pixels[i].data_ptr<float>());
                    const auto &choices = captions[index];
                    const auto &tokens = choices[static_cast<size_t>(rng() % choices.size())];
                    std::copy(tokens.begin(), tokens.end(), ids[i].data_ptr<int64_t>());
                    groups[static_cast<size_t>(i)] = group[index];
                }
            });
            const auto image = normalized(clip.model->encodeImage(pixels));
            const auto text = normalized(clip.model->encodeText(ids));
            const auto logits = clip.model->logit_scale.exp().clamp_max(100.0) * torch::matmul(image, text.t());
            // Images of one emoji class are positives of each other: the target spreads over them.
            const auto g = torch::tensor(groups);
            auto target = g.unsqueeze(0).eq(g.unsqueeze(1)).to(torch::kFloat);
            target = target / target.sum(1, true);
            const auto loss = 0.5 * (-(target * torch::log_softmax(logits, 1)).sum(1).mean()
                                     - (target * torch::log_softmax(logits.t(), 1)).sum(1).mean());
            const double value = loss.item<double>();
            if (!std::isfinite(value))
                throw Error("pretraining: the loss became " + std::string(std::isnan(value) ? "NaN" : "infinite") + " at epoch "
                            + std::to_string(epoch + 1) + ", step " + std::to_string(b + 1)
                            + "; the last epoch's checkpoint is kept. Try a lower learning rate.");
            loss.backward();
            adam.step(lr);
            adam.zeroGrad();
            {
                torch::NoGradGuard noGrad;
                clip.model->logit_scale.clamp_(0, std::log(100.0));
            }
            lossSum += value;
            const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            const int64_t done = step - startEpoch * batches + 1;
            hooks.report({step + 1, totalSteps, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs)
                                                    + " loss " + fixed(lossSum / double(b + 1), 3),
                          elapsed, elapsed / double(done) * double(totalSteps - step - 1)});
        }
        // Checkpoint: weights, optimizer and the epoch, atomically.
        TensorMap state = clip::exportWeights(clip.model);
        for (auto &[k, v] : adam.state())
            state[k] = v;
        io::writeSafetensors(checkpoint, state, {{"epoch", std::to_string(epoch + 1)}});
        double all = -1, first100 = -1;
        if (!evalImages.empty()) {
            clip.model->eval();
            std::tie(all, first100) = zeroShot(clip, evalImages);
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epochStart).count();
        result.finalLoss = lossSum / double(std::max<int64_t>(1, batches));
        result.zeroShotAccuracy = first100;
        metrics += std::to_string(epoch + 1) + "," + std::to_string((epoch + 1) * batches) + "," + fixed(result.finalLoss, 5) + ","
                   + fixed(lr, 7) + "," + fixed(clip.model->logitScale(), 2) + "," + fixed(seconds, 1) + ","
                   + (all >= 0 ? fixed(all, 4) : "") + "," + (first100 >= 0 ? fixed(first100, 4) : "") + "\n";
        writeFileAtomic(o.out + "/metrics.csv", metrics);
        hooks.info("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs) + ": loss " + fixed(result.finalLoss, 4)
                   + ", logit scale " + fixed(clip.model->logitScale(), 1)
                   + (all >= 0 ? ", zero-shot on " + o.evalStyle + " " + fixed(100 * all, 1) + "% (all classes), "
                                     + fixed(100 * first100, 1) + "% (100 classes)"
                               : "")
                   + " (" + fixed(seconds, 0) + " s)");
    }

    // The model folder.
    TensorMap weights = clip::exportWeights(clip.model);
    if (o.half)
        for (auto &[k, v] : weights)
            v = v.to(torch::kHalf);
    io::writeSafetensors(o.out + "/model.safetensors", weights, {{"format", "pt"}, {"producer", "sep pretrain"}});
    nlohmann::json cfg = {{"text_config", {{"num_attention_heads", config.text.heads}, {"hidden_act", "quick_gelu"}}},
                          {"vision_config", {{"num_attention_heads", config.vision.heads}, {"hidden_act", "quick_gelu"}}}};
    writeFileAtomic(o.out + "/config.json", cfg.dump(2) + "\n");
    result.epochs = o.epochs;
    result.steps = totalSteps;
    result.images = static_cast<int64_t>(usable.size());
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    nlohmann::json provenance = {{"producer", "sep pretrain"},
                                 {"options", PretrainOptions::table().toJson(o)},
                                 {"styles", set.styles},
                                 {"notes", set.notes},
                                 {"pairs", usable.size()},
                                 {"groups", groupIds.size()},
                                 {"vocabulary_size", 514 + mergeCount},
                                 {"parameters", config.parameterCount()},
                                 {"architecture", config.describe()},
                                 {"final_loss", result.finalLoss},
                                 {"zero_shot_100_classes", result.zeroShotAccuracy},
                                 {"finished", timestamp()}};
    std::error_code e2;
    if (fs::exists(o.data + "/README.md", e2))
        provenance["data_readme"] = fs::absolute(o.data + "/README.md").string();
    writeFileAtomic(o.out + "/provenance.json", provenance.dump(2) + "\n");
    hooks.info("wrote " + o.out + "/{model.safetensors, merges.txt, config.json, provenance.json}");
    return result;
}

} // namespace sep::pretrain
