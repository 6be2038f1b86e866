// sep bench: throughput figures on this machine (never used as test assertions).
#include "app/cli/common.h"

#include "engine/clip/affine.h"
#include "engine/clip/model.h"
#include "engine/core/files.h"
#include "engine/core/runtime.h"
#include "engine/prompt/method.h"
#include "engine/train/adam.h"

#include <torch/torch.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <sys/resource.h>

namespace sep::cli {
namespace {

// The CPU math in use: the BLAS library and, for the towers' frozen weights, whether oneDNN computes
// the products (SEP_ONEDNN=0 turns it off).
std::string cpuMath()
{
    return describeCpuMath() + (clip::oneDnnEnabled() ? "; frozen weights: oneDNN" : "; frozen weights: BLAS");
}

double seconds(const std::function<void()> &fn)
{
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void synchronize(const torch::Device &d)
{
    if (d.is_cuda())
        torch::cuda::synchronize();
}

// Best of `repeats` timings after one warm-up run.
double bestTime(const std::function<void()> &fn, int repeats, const torch::Device &d)
{
    fn();
    synchronize(d);
    double best = 1e30;
    for (int i = 0; i < repeats; ++i)
        best = std::min(best, seconds([&] {
                            fn();
                            synchronize(d);
                        }));
    return best;
}

double peakRssGb()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / (1024.0 * 1024.0);   // ru_maxrss is in KiB
}

struct BenchOptions {
    std::string device = "auto";
    int64_t batch = 8;
    int64_t texts = 100;
    int repeats = 3;
    bool json = false;
};

// The GEMM rate of this process's BLAS. The output is preallocated: a fresh 16 MB result per call would
// time the allocator's page faults along with the product (they halved the figure on this machine).
double matmulGflops(const torch::Device &device, int repeats)
{
    const int64_t n = 2048;
    auto a = torch::randn({n, n}, torch::TensorOptions().device(device));
    auto b = torch::randn({n, n}, torch::TensorOptions().device(device));
    auto c = torch::empty({n, n}, torch::TensorOptions().device(device));
    const double t = bestTime([&] { at::mm_out(c, a, b); }, std::max(repeats, 5), device);
    return 2.0 * n * n * n / t / 1e9;
}

// Images per second of the plain image tower on random pixels.
double imageTowerRate(clip::Model &model, int64_t batch, int repeats, const torch::Device &device)
{
    torch::NoGradGuard noGrad;
    const int64_t size = model->config().vision.imageSize;
    auto images = torch::randn({batch, 3, size, size}, torch::TensorOptions().device(device));
    return static_cast<double>(batch) / bestTime([&] { (void)model->encodeImage(images); }, repeats, device);
}

void benchEncode(const BenchOptions &o)
{
    const auto device = resolveDevice(o.device);
    torch::NoGradGuard noGrad;
    const double peak = matmulGflops(device, o.repeats);

    const auto config = clip::Config::vitB16();
    torch::manual_seed(0);
    clip::Model model(config);
    model->to(device);
    model->eval();

    const double imagesPerSecond = imageTowerRate(model, o.batch, o.repeats, device);
    const double imageGflops = config.visionFlops() * imagesPerSecond / 1e9;

    // Class prompts like "a photo of a golden retriever.": SOT, 8 tokens, EOT, then padding.
    const int64_t length = 10;
    auto ids = torch::zeros({o.texts, config.text.contextLength}, torch::kLong);
    ids.slice(1, 0, 1).fill_(config.text.vocabSize - 2);
    ids.slice(1, 1, length - 1).random_(1, 40000);
    ids.slice(1, length - 1, length).fill_(config.text.vocabSize - 1);
    ids = ids.to(device);
    const double textTime = bestTime([&] { (void)model->encodeText(ids); }, o.repeats, device);
    const double textsPerSecond = static_cast<double>(o.texts) / textTime;
    const double textGflops = config.textFlops(length) * textsPerSecond / 1e9;

    if (o.json) {
        nlohmann::json j;
        j["device"] = describeDevice(device);
        j["threads"] = at::get_num_threads();
        j["cpu_math"] = cpuMath();
        j["matmul_2048_gflops"] = peak;
        j["image"] = {{"batch", o.batch},         {"images_per_second", imagesPerSecond},
                      {"gflops", imageGflops},     {"gflop_per_image", config.visionFlops() / 1e9},
                      {"share_of_matmul", imageGflops / peak}};
        j["text"] = {{"sequences", o.texts}, {"tokens", length}, {"texts_per_second", textsPerSecond},
                     {"gflops", textGflops}};
        j["peak_rss_gb"] = peakRssGb();
        printJson(j);
        return;
    }
    std::cout << std::fixed << std::setprecision(2) << "sep bench encode: ViT-B/16 shape, random weights, "
              << describeDevice(device) << ", " << cpuMath() << "\n"
              << "  2048³ fp32 matmul          " << std::setw(9) << peak << " GFLOP/s\n"
              << "  image tower, batch " << std::setw(3) << o.batch << "     " << std::setw(9) << imagesPerSecond
              << " images/s  (" << imageGflops << " GFLOP/s at " << config.visionFlops() / 1e9 << " GFLOP/image = "
              << std::setprecision(0) << 100.0 * imageGflops / peak << "% of the matmul rate)\n"
              << std::setprecision(2) << "  text tower, " << o.texts << " prompts of " << length << " tokens "
              << std::setw(7) << textsPerSecond << " texts/s   (" << textGflops << " GFLOP/s)\n"
              << "  peak resident memory       " << std::setw(9) << peakRssGb() << " GB\n";
}

struct TrainBenchOptions {
    std::string device = "auto";
    std::string method = "sep";
    std::vector<int64_t> classes{10, 100};
    int64_t batch = 8;
    int64_t evalImages = 32;
    int steps = 2;
    std::string vocab;
    bool json = false;
};

// A model of ViT-B/16's shape with random weights and a tokenizer: CLIP's vocabulary when given, else a
// byte-level one (no merges), whose prompts for the short synthetic class names used here are about
// as long as CLIP's BPE prompts for real class names.
clip::LoadedClip benchClip(const TrainBenchOptions &o, const torch::Device &device)
{
    clip::LoadedClip clip;
    torch::manual_seed(0);
    clip.model = clip::Model(clip::Config::vitB16());
    for (auto &p : clip.model->parameters())
        p.set_requires_grad(false);
    clip.model->to(device);
    if (!o.vocab.empty()) {
        clip.tokenizer = clip::Tokenizer::fromFile(o.vocab, clip.config().text.vocabSize);
    } else {
        const std::string path = temporaryPathFor("/tmp/sep-bench-vocab") + ".txt";
        writeFileAtomic(path, "#version: byte-level vocabulary for benchmarks\n");
        clip.tokenizer = clip::Tokenizer::fromMergesFile(path, 514);
        std::remove(path.c_str());
    }
    return clip;
}

struct TrainFigures {
    double stepSeconds = 0;
    double evalImagesPerSecond = 0;   // a whole evaluation: class features once, then the images in batches
    double peakRssGb = 0;             // of the process so far
    int64_t trainable = 0;
};

std::vector<std::string> benchClassNames(int64_t classes)
{
    std::vector<std::string> names;
    for (int64_t c = 0; c < classes; ++c)
        names.push_back("c" + std::to_string(c));
    return names;
}

// Seconds to evaluate `images` in batches: the class-side work once (as an evaluation does), then
// every batch scored.
double evaluationSeconds(prompt::Method &method, const at::Tensor &images, int64_t batch, const torch::Device &device)
{
    return seconds([&] {
        torch::NoGradGuard noGrad;
        method.invalidateCaches();
        for (int64_t b = 0; b < images.size(0); b += batch)
            (void)method.score(images.slice(0, b, b + batch));
        synchronize(device);
    });
}

TrainFigures measureTraining(const TrainBenchOptions &o, clip::LoadedClip &clip, int64_t classes, const torch::Device &device)
{
    const int64_t size = clip.config().vision.imageSize;
    torch::manual_seed(1);
    auto method = prompt::makeMethod(o.method, clip);
    method->setClasses(benchClassNames(classes));
    auto images = torch::randn({o.batch, 3, size, size});
    auto labels = torch::arange(o.batch) % classes;
    prompt::Batch batch{images, labels, {}, true};
    method->prepareTraining([&](int64_t) { return batch; }, 1);
    train::Adam adam(method->namedParameters(), {});
    auto step = [&] {
        auto terms = method->loss(batch);
        terms.total.backward();
        adam.step(0.0025);
        adam.zeroGrad();
        method->invalidateCaches();
    };
    TrainFigures f;
    f.stepSeconds = bestTime(step, o.steps, device);
    f.evalImagesPerSecond = static_cast<double>(o.evalImages)
                            / evaluationSeconds(*method, torch::randn({o.evalImages, 3, size, size}), o.batch, device);
    f.peakRssGb = peakRssGb();
    for (auto &p : method->trainableParameters())
        f.trainable += p.numel();
    return f;
}

void benchTrain(const TrainBenchOptions &o)
{
    const auto device = resolveDevice(o.device);
    auto clip = benchClip(o, device);
    nlohmann::json rows = nlohmann::json::array();
    if (!o.json)
        std::cout << "sep bench train: " << o.method << ", ViT-B/16 shape, random weights, " << describeDevice(device) << ", "
                  << cpuMath() << ", batch " << o.batch << "\n";
    for (int64_t classes : o.classes) {
        const auto f = measureTraining(o, clip, classes, device);
        rows.push_back({{"classes", classes},
                        {"seconds_per_step", f.stepSeconds},
                        {"images_per_second", static_cast<double>(o.batch) / f.stepSeconds},
                        {"eval_images_per_second", f.evalImagesPerSecond},
                        {"peak_rss_gb", f.peakRssGb},
                        {"trainable_parameters", f.trainable}});
        if (!o.json)
            std::cout << std::fixed << std::setprecision(2) << "  " << std::setw(5) << classes << " classes: "
                      << f.stepSeconds << " s/step (" << static_cast<double>(o.batch) / f.stepSeconds << " images/s), "
                      << "evaluation " << f.evalImagesPerSecond << " images/s, peak RSS " << f.peakRssGb << " GB, "
                      << f.trainable << " trainable parameters\n";
    }
    if (o.json)
        printJson({{"method", o.method}, {"device", describeDevice(device)}, {"cpu_math", cpuMath()},
                   {"threads", at::get_num_threads()}, {"batch", o.batch}, {"rows", rows}});
}

// The published measurements of the Python reference implementation (SEP's released code on OpenAI's
// CLIP, Debian's torch 1.13.1 with OpenBLAS, fp32, 2 threads, random ViT-B/16 weights, n_ctx 6,
// n_ctx_v 4) on a 2-core machine like the ones this project is built on.
struct ReferenceRow {
    const char *key;
    const char *work;
    double reference;
    const char *unit;
    bool higherIsBetter;
    double target;           // required ratio ours/reference (reference/ours where lower is better), 0: none
    double absoluteTarget;   // required value of ours, 0: none
};

const ReferenceRow kReference[] = {
    {"sep_step_10", "SEP step, batch 8, 10 classes", 8.6, "s", false, 1.5, 0},
    {"sep_step_100", "SEP step, batch 8, 100 classes", 27.5, "s", false, 2.5, 0},
    {"peak_rss_100", "peak RSS with 100 classes", 7.7, "GB", false, 2.0, 0},
    {"sep_eval_100", "SEP evaluation, 100 classes", 0.50, "img/s", true, 6.0, 0},
    {"zeroshot_eval_100", "zero-shot evaluation, 100 classes", 1.64, "img/s", true, 0, 0},
    {"image_tower", "image tower, batch 8", 4.2, "img/s", true, 0, 0},
    {"image_tower_share", "image tower FLOP rate / matmul's", 100.0 * 4.2 * 34.9 / 200.0, "%", true, 0, 85},
    {"matmul_2048", "2048³ fp32 matmul", 200, "GFLOP/s", true, 0, 0},
};

void benchReference(const TrainBenchOptions &o)
{
    const auto device = resolveDevice(o.device);
    auto clip = benchClip(o, device);
    std::map<std::string, double> ours;
    {
        torch::NoGradGuard noGrad;
        ours["matmul_2048"] = matmulGflops(device, 5);
        ours["image_tower"] = imageTowerRate(clip.model, o.batch, 2, device);
        ours["image_tower_share"] = 100.0 * ours["image_tower"] * clip.config().visionFlops() / 1e9 / ours["matmul_2048"];
    }
    {
        auto zeroshot = prompt::makeMethod("zeroshot", clip);
        const int64_t size = clip.config().vision.imageSize;
        auto images = torch::randn({o.evalImages, 3, size, size});
        const double s = seconds([&] { zeroshot->setClasses(benchClassNames(100)); })
                         + evaluationSeconds(*zeroshot, images, o.batch, device);
        ours["zeroshot_eval_100"] = static_cast<double>(o.evalImages) / s;
    }
    const auto ten = measureTraining(o, clip, 10, device);
    const auto hundred = measureTraining(o, clip, 100, device);
    ours["sep_step_10"] = ten.stepSeconds;
    ours["sep_step_100"] = hundred.stepSeconds;
    ours["peak_rss_100"] = hundred.peakRssGb;
    ours["sep_eval_100"] = hundred.evalImagesPerSecond;

    nlohmann::json rows = nlohmann::json::array();
    if (!o.json)
        std::cout << "sep bench reference: SEP at ViT-B/16 shape, random weights, batch " << o.batch << ", "
                  << describeDevice(device) << ", " << cpuMath() << "\n"
                  << "  work                                    reference       SEP Studio    ratio   target\n";
    for (const auto &r : kReference) {
        const double value = ours.at(r.key);
        const double ratio = r.higherIsBetter ? value / r.reference : r.reference / value;
        const bool met = (r.target <= 0 || ratio >= r.target) && (r.absoluteTarget <= 0 || value >= r.absoluteTarget);
        rows.push_back({{"key", r.key}, {"work", r.work}, {"unit", r.unit}, {"reference", r.reference}, {"ours", value},
                        {"ratio", ratio}, {"target_ratio", r.target}, {"target_value", r.absoluteTarget}, {"met", met}});
        if (o.json)
            continue;
        std::ostringstream target;
        if (r.target > 0)
            target << std::fixed << std::setprecision(1) << "≥ " << r.target << "×";
        if (r.absoluteTarget > 0)
            target << std::fixed << std::setprecision(0) << "≥ " << r.absoluteTarget << " " << r.unit;
        if (r.target > 0 || r.absoluteTarget > 0)
            target << (met ? "  met" : "  NOT met");
        std::cout << std::fixed << std::setprecision(2) << "  " << std::left << std::setw(38) << r.work << std::right
                  << std::setw(9) << r.reference << " " << std::left << std::setw(7) << r.unit << std::right << std::setw(8)
                  << value << " " << std::left << std::setw(7) << r.unit << std::right << std::setw(6) << ratio << "×  "
                  << target.str() << "\n";
    }
    if (o.json)
        printJson({{"device", describeDevice(device)}, {"cpu_math", cpuMath()}, {"threads", at::get_num_threads()},
                   {"batch", o.batch}, {"eval_images", o.evalImages}, {"rows", rows}});
}

} // namespace

void addBenchCommand(CLI::App &app)
{
    auto *bench = app.add_subcommand("bench", "Measure throughput on this machine (figures, not tests)");
    bench->require_subcommand(1);
    auto o = std::make_shared<BenchOptions>();
    auto *encode = bench->add_subcommand("encode", "Image and text tower throughput at the ViT-B/16 shape");
    encode->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    encode->add_option("--batch", o->batch, "Images per forward")->capture_default_str()->check(wholeNumberAtLeast(1));
    encode->add_option("--texts", o->texts, "Prompts per text forward")->capture_default_str()->check(wholeNumberAtLeast(1));
    encode->add_option("--repeats", o->repeats, "Timed repetitions (best is reported)")->capture_default_str()->check(wholeNumberAtLeast(1));
    encode->add_flag("--json", o->json, "Machine-readable output");
    encode->callback([o] { benchEncode(*o); });

    auto t = std::make_shared<TrainBenchOptions>();
    auto *train = bench->add_subcommand("train", "Training step and evaluation throughput at the ViT-B/16 shape");
    train->add_option("--method", t->method, "sep or coop")->capture_default_str()->check(CLI::IsMember({"sep", "coop"}));
    train->add_option("--classes", t->classes, "Class counts to measure")->capture_default_str()->check(wholeNumberAtLeast(2));
    train->add_option("--batch", t->batch, "Training images per step")->capture_default_str()->check(wholeNumberAtLeast(1));
    train->add_option("--eval-images", t->evalImages, "Images scored for the evaluation figure")->capture_default_str()->check(wholeNumberAtLeast(1));
    train->add_option("--steps", t->steps, "Timed steps (best is reported)")->capture_default_str()->check(wholeNumberAtLeast(1));
    train->add_option("--device", t->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    train->add_option("--vocab", t->vocab, "CLIP's vocabulary, for prompts tokenized exactly as in real runs");
    train->add_flag("--json", t->json, "Machine-readable output");
    train->callback([t] { benchTrain(*t); });

    auto r = std::make_shared<TrainBenchOptions>();
    r->evalImages = 32;
    auto *reference = bench->add_subcommand(
        "reference", "The Python reference implementation's figures beside this build's, with the ratios and targets");
    reference->add_option("--device", r->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    reference->add_option("--vocab", r->vocab, "CLIP's vocabulary, for prompts tokenized exactly as in real runs");
    reference->add_option("--steps", r->steps, "Timed steps (best is reported)")->capture_default_str()->check(wholeNumberAtLeast(1));
    reference->add_flag("--json", r->json, "Machine-readable output");
    reference->callback([r] { benchReference(*r); });
}

} // namespace sep::cli
