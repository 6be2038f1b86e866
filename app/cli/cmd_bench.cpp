// sep bench: throughput figures on this machine (never used as test assertions).
#include "app/cli/common.h"

#include "engine/clip/model.h"
#include "engine/core/files.h"
#include "engine/core/runtime.h"
#include "engine/prompt/method.h"
#include "engine/train/adam.h"

#include <torch/torch.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sys/resource.h>

namespace sep::cli {
namespace {

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

double matmulGflops(const torch::Device &device, int repeats)
{
    const int64_t n = 2048;
    auto a = torch::randn({n, n}, torch::TensorOptions().device(device));
    auto b = torch::randn({n, n}, torch::TensorOptions().device(device));
    const double t = bestTime([&] { (void)torch::mm(a, b); }, repeats, device);
    return 2.0 * n * n * n / t / 1e9;
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

    auto images = torch::randn({o.batch, 3, config.vision.imageSize, config.vision.imageSize},
                               torch::TensorOptions().device(device));
    const double imageTime = bestTime([&] { (void)model->encodeImage(images); }, o.repeats, device);
    const double imagesPerSecond = static_cast<double>(o.batch) / imageTime;
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
              << describeDevice(device) << ", " << at::get_num_threads() << " thread(s)\n"
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

void benchTrain(const TrainBenchOptions &o)
{
    const auto device = resolveDevice(o.device);
    auto clip = benchClip(o, device);
    const int64_t size = clip.config().vision.imageSize;
    nlohmann::json rows = nlohmann::json::array();
    if (!o.json)
        std::cout << "sep bench train: " << o.method << ", ViT-B/16 shape, random weights, " << describeDevice(device) << ", "
                  << at::get_num_threads() << " thread(s), batch " << o.batch << "\n";
    for (int64_t classes : o.classes) {
        std::vector<std::string> names;
        for (int64_t c = 0; c < classes; ++c)
            names.push_back("c" + std::to_string(c));
        torch::manual_seed(1);
        auto method = prompt::makeMethod(o.method, clip);
        method->setClasses(names);
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
        const double stepSeconds = bestTime(step, o.steps, device);
        // Evaluation: class features once, then images in batches.
        auto evalImages = torch::randn({o.evalImages, 3, size, size});
        const double evalSeconds = seconds([&] {
            torch::NoGradGuard noGrad;
            method->invalidateCaches();
            for (int64_t b = 0; b < o.evalImages; b += o.batch)
                (void)method->score(evalImages.slice(0, b, b + o.batch));
            synchronize(device);
        });
        int64_t trainable = 0;
        for (auto &p : method->trainableParameters())
            trainable += p.numel();
        nlohmann::json row = {{"classes", classes},
                              {"seconds_per_step", stepSeconds},
                              {"images_per_second", static_cast<double>(o.batch) / stepSeconds},
                              {"eval_images_per_second", static_cast<double>(o.evalImages) / evalSeconds},
                              {"peak_rss_gb", peakRssGb()},
                              {"trainable_parameters", trainable}};
        rows.push_back(row);
        if (!o.json)
            std::cout << std::fixed << std::setprecision(2) << "  " << std::setw(5) << classes << " classes: "
                      << stepSeconds << " s/step (" << static_cast<double>(o.batch) / stepSeconds << " images/s), "
                      << "evaluation " << static_cast<double>(o.evalImages) / evalSeconds << " images/s, peak RSS "
                      << peakRssGb() << " GB, " << trainable << " trainable parameters\n";
    }
    if (o.json)
        printJson({{"method", o.method}, {"device", describeDevice(device)}, {"threads", at::get_num_threads()},
                   {"batch", o.batch}, {"rows", rows}});
}

} // namespace

void addBenchCommand(CLI::App &app)
{
    auto *bench = app.add_subcommand("bench", "Measure throughput on this machine (figures, not tests)");
    bench->require_subcommand(1);
    auto o = std::make_shared<BenchOptions>();
    auto *encode = bench->add_subcommand("encode", "Image and text tower throughput at the ViT-B/16 shape");
    encode->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    encode->add_option("--batch", o->batch, "Images per forward")->capture_default_str()->check(CLI::PositiveNumber);
    encode->add_option("--texts", o->texts, "Prompts per text forward")->capture_default_str()->check(CLI::PositiveNumber);
    encode->add_option("--repeats", o->repeats, "Timed repetitions (best is reported)")->capture_default_str();
    encode->add_flag("--json", o->json, "Machine-readable output");
    encode->callback([o] { benchEncode(*o); });

    auto t = std::make_shared<TrainBenchOptions>();
    auto *train = bench->add_subcommand("train", "Training step and evaluation throughput at the ViT-B/16 shape");
    train->add_option("--method", t->method, "sep or coop")->capture_default_str()->check(CLI::IsMember({"sep", "coop"}));
    train->add_option("--classes", t->classes, "Class counts to measure")->capture_default_str();
    train->add_option("--batch", t->batch, "Training images per step")->capture_default_str()->check(CLI::PositiveNumber);
    train->add_option("--eval-images", t->evalImages, "Images scored for the evaluation figure")->capture_default_str();
    train->add_option("--steps", t->steps, "Timed steps (best is reported)")->capture_default_str();
    train->add_option("--device", t->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    train->add_option("--vocab", t->vocab, "CLIP's vocabulary, for prompts tokenized exactly as in real runs");
    train->add_flag("--json", t->json, "Machine-readable output");
    train->callback([t] { benchTrain(*t); });
}

} // namespace sep::cli
