// The CLIP towers against an independent computation: the same mathematics written out in double
// precision, one sample and one head at a time, with the patch embedding as a real convolution and the
// causal mask filled in by loops. Tolerance: 1e-4 absolute on features of order 1 (float32 vs double).

#include "engine/clip/affine.h"
#include "engine/clip/model.h"
#include "engine/core/runtime.h"
#include "tests/support/fixtures.h"
#include "tests/support/test_main.h"

#include <torch/torch.h>

#include <QtTest>

#include <cstdlib>
#include <fstream>
#include <unistd.h>

using namespace sep;

namespace {

using Params = std::map<std::string, at::Tensor>;

Params doubleParams(clip::Model &model)
{
    Params p;
    for (auto &item : model->named_parameters())
        p[item.key()] = item.value().detach().to(torch::kDouble);
    return p;
}

at::Tensor layerNorm(const at::Tensor &x, const at::Tensor &w, const at::Tensor &b)
{
    auto mean = x.mean(-1, true);
    auto var = (x - mean).pow(2).mean(-1, true);   // biased variance, as LayerNorm uses
    return (x - mean) / (var + 1e-5).sqrt() * w + b;
}

// One residual block on one sequence [L, D].
at::Tensor block(const at::Tensor &x, const Params &p, const std::string &pre, int64_t heads, bool causal)
{
    const int64_t L = x.size(0), D = x.size(1), hd = D / heads;
    auto h = layerNorm(x, p.at(pre + "ln_1.weight"), p.at(pre + "ln_1.bias"));
    auto W = p.at(pre + "attn.in_proj_weight"), B = p.at(pre + "attn.in_proj_bias");
    auto q = h.matmul(W.slice(0, 0, D).t()) + B.slice(0, 0, D);
    auto k = h.matmul(W.slice(0, D, 2 * D).t()) + B.slice(0, D, 2 * D);
    auto v = h.matmul(W.slice(0, 2 * D, 3 * D).t()) + B.slice(0, 2 * D, 3 * D);
    std::vector<at::Tensor> outs;
    for (int64_t head = 0; head < heads; ++head) {
        auto qh = q.slice(1, head * hd, (head + 1) * hd), kh = k.slice(1, head * hd, (head + 1) * hd),
             vh = v.slice(1, head * hd, (head + 1) * hd);
        auto s = qh.matmul(kh.t()) / std::sqrt(static_cast<double>(hd));
        auto a = torch::zeros_like(s);
        for (int64_t i = 0; i < L; ++i) {
            const int64_t visible = causal ? i + 1 : L;   // causal: position i sees 0..i
            auto row = s[i].slice(0, 0, visible);
            auto e = (row - row.max()).exp();
            a[i].slice(0, 0, visible).copy_(e / e.sum());
        }
        outs.push_back(a.matmul(vh));
    }
    auto attn = torch::cat(outs, 1).matmul(p.at(pre + "attn.out_proj.weight").t()) + p.at(pre + "attn.out_proj.bias");
    auto y = x + attn;
    auto m = layerNorm(y, p.at(pre + "ln_2.weight"), p.at(pre + "ln_2.bias")).matmul(p.at(pre + "mlp.c_fc.weight").t())
             + p.at(pre + "mlp.c_fc.bias");
    m = m / (1 + (-1.702 * m).exp());   // QuickGELU
    return y + m.matmul(p.at(pre + "mlp.c_proj.weight").t()) + p.at(pre + "mlp.c_proj.bias");
}

at::Tensor referenceImage(const at::Tensor &image, const Params &p, const clip::Config &c)
{
    auto patches = at::conv2d(image.unsqueeze(0), p.at("visual.conv1.weight"), {}, c.vision.patchSize);   // [1, D, g, g]
    auto tokens = patches.flatten(2).squeeze(0).t();                                                      // [g², D]
    auto x = torch::cat({p.at("visual.class_embedding").unsqueeze(0), tokens}, 0) + p.at("visual.positional_embedding");
    x = layerNorm(x, p.at("visual.ln_pre.weight"), p.at("visual.ln_pre.bias"));
    for (int64_t l = 0; l < c.vision.layers; ++l)
        x = block(x, p, "visual.transformer.resblocks." + std::to_string(l) + ".", c.vision.heads, false);
    return layerNorm(x[0], p.at("visual.ln_post.weight"), p.at("visual.ln_post.bias")).matmul(p.at("visual.proj"));
}

at::Tensor referenceText(const at::Tensor &ids, const Params &p, const clip::Config &c)
{
    auto x = p.at("text.token_embedding.weight").index_select(0, ids) + p.at("text.positional_embedding");
    for (int64_t l = 0; l < c.text.layers; ++l)
        x = block(x, p, "text.transformer.resblocks." + std::to_string(l) + ".", c.text.heads, true);
    const int64_t eot = ids.argmax().item<int64_t>();
    return layerNorm(x[eot], p.at("text.ln_final.weight"), p.at("text.ln_final.bias")).matmul(p.at("text.text_projection"));
}

int64_t countParameters(torch::nn::Module &m)
{
    int64_t n = 0;
    for (auto &p : m.parameters())
        n += p.numel();
    return n;
}

} // namespace

class TestClipModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void imageTowerMatchesIndependentComputation();
    void textTowerMatchesIndependentComputation();
    void textTruncationIsExact();
    void inputGradientMatchesIndependentComputation();
    void trainingAndInferencePathsAgree();
    void frozenLinearMatchesIndependentComputation();
    void frozenAndTrainableWeightsAgree();
    void freedMemoryIsKeptUntilReleased();
    void clsAttentionProbe();
    void logitsAreScaledCosines();
    void parameterCountsOfVitB16();
    void parameterCountsOfTinyModelMatchConfig();
};

void TestClipModel::imageTowerMatchesIndependentComputation()
{
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 3);
    torch::NoGradGuard noGrad;
    const auto images = test::randomImages(3, config.vision.imageSize, 11);
    const auto got = model->encodeImage(images).to(torch::kDouble);
    const auto p = doubleParams(model);
    for (int64_t i = 0; i < images.size(0); ++i) {
        const auto want = referenceImage(images[i].to(torch::kDouble), p, config);
        const double err = (got[i] - want).abs().max().item<double>();
        QVERIFY2(err < 1e-4, qPrintable(QStringLiteral("image %1: max abs error %2").arg(i).arg(err)));
        QVERIFY(want.abs().max().item<double>() > 1e-2);   // not trivially zero
    }
}

void TestClipModel::textTowerMatchesIndependentComputation()
{
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 4);
    torch::NoGradGuard noGrad;
    // Three sequences of different lengths; the largest id (999) marks EOT as in CLIP.
    auto ids = torch::zeros({3, config.text.contextLength}, torch::kLong);
    const std::vector<std::vector<int64_t>> seqs = {{998, 5, 6, 999}, {998, 17, 999}, {998, 1, 2, 3, 4, 5, 6, 7, 999}};
    for (size_t r = 0; r < seqs.size(); ++r)
        for (size_t j = 0; j < seqs[r].size(); ++j)
            ids[static_cast<int64_t>(r)][static_cast<int64_t>(j)] = seqs[r][j];
    const auto got = model->encodeText(ids).to(torch::kDouble);
    const auto p = doubleParams(model);
    for (int64_t i = 0; i < 3; ++i) {
        const auto want = referenceText(ids[i], p, config);
        const double err = (got[i] - want).abs().max().item<double>();
        QVERIFY2(err < 1e-4, qPrintable(QStringLiteral("text %1: max abs error %2").arg(i).arg(err)));
    }
}

void TestClipModel::textTruncationIsExact()
{
    // A sequence encoded alone (truncated to its own EOT + 1) and beside a longer one (truncated to
    // the longer EOT + 1) must give the same features: positions past EOT are invisible to it.
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 5);
    torch::NoGradGuard noGrad;
    auto shortSeq = torch::zeros({1, config.text.contextLength}, torch::kLong);
    shortSeq[0][0] = 998, shortSeq[0][1] = 40, shortSeq[0][2] = 999;
    auto both = torch::zeros({2, config.text.contextLength}, torch::kLong);
    both[0] = shortSeq[0];
    for (int64_t j = 0; j < config.text.contextLength - 1; ++j)
        both[1][j] = 100 + j;
    both[1][config.text.contextLength - 1] = 999;
    const auto alone = model->encodeText(shortSeq)[0];
    const auto together = model->encodeText(both)[0];
    QVERIFY2((alone - together).abs().max().item<double>() < 1e-5, "truncation changed a sequence's features");
}

void TestClipModel::inputGradientMatchesIndependentComputation()
{
    // Prompt tuning back-propagates through the frozen towers to their inputs. The gradient of a fixed
    // projection of the image features with respect to the pixels, from our float model, against the
    // same gradient taken through the double-precision reference above (its QuickGELU is the direct
    // formula h / (1 + e^(−1.702 h)), its attention written out per head). Tolerance: 1e-4 relative to
    // the largest gradient entry.
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 6);
    for (auto &p : model->parameters())
        p.set_requires_grad(false);
    const auto images = test::randomImages(2, config.vision.imageSize, 12);
    torch::manual_seed(13);
    const auto direction = torch::randn({2, config.embedDim});

    auto pixels = images.clone().requires_grad_(true);
    (model->encodeImage(pixels) * direction).sum().backward();
    const auto got = pixels.grad().to(torch::kDouble);

    const auto p = doubleParams(model);
    auto pixels64 = images.to(torch::kDouble).requires_grad_(true);
    at::Tensor total = torch::zeros({}, torch::kDouble);
    for (int64_t i = 0; i < 2; ++i)
        total = total + (referenceImage(pixels64[i], p, config) * direction[i].to(torch::kDouble)).sum();
    total.backward();
    const auto want = pixels64.grad();
    const double scale = want.abs().max().item<double>();
    QVERIFY(scale > 1e-6);   // the gradient is not trivially zero
    const double err = (got - want).abs().max().item<double>() / scale;
    QVERIFY2(err < 1e-4, qPrintable(QStringLiteral("relative gradient error %1").arg(err)));
}

void TestClipModel::trainingAndInferencePathsAgree()
{
    // Without gradients the MLP activates in place; the values must be the very same. Frozen weights, as
    // in prompt tuning, so both passes take the same product.
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 7);
    for (auto &p : model->parameters())
        p.set_requires_grad(false);
    const auto images = test::randomImages(2, config.vision.imageSize, 14).requires_grad_(true);
    const auto withGrad = model->encodeImage(images).detach();
    torch::NoGradGuard noGrad;
    QVERIFY(torch::equal(withGrad, model->encodeImage(images)));
}

void TestClipModel::frozenLinearMatchesIndependentComputation()
{
    // clip::affine on a frozen weight (the oneDNN route where LibTorch has it) against the formula in
    // double precision: y = β·b + α·x·Wᵀ and, for the loss Σ y⊙g, ∂/∂x = α·g·W. Tolerance 1e-5 relative
    // to the largest entry (float32 products of length 48).
    torch::manual_seed(21);
    const auto x = torch::randn({3, 5, 48}), weight = torch::randn({24, 48}), bias = torch::randn({24});
    const auto g = torch::randn({3, 5, 24});
    const auto x64 = x.to(torch::kDouble), w64 = weight.to(torch::kDouble), b64 = bias.to(torch::kDouble),
               g64 = g.to(torch::kDouble);
    auto relErr = [](const at::Tensor &got, const at::Tensor &want) {
        return (got.to(torch::kDouble) - want).abs().max().item<double>() / want.abs().max().item<double>();
    };
    QCOMPARE(clip::affineUsesOneDnn(x, weight, bias), at::hasMKLDNN());
    for (const auto &[alpha, beta, withBias] : {std::tuple{1.0, 1.0, true}, {1.702, 1.702, true}, {1 / 1.702, 1.0, true},
                                               {0.5, 1.0, false}}) {
        const auto b = withBias ? bias : at::Tensor();
        auto want = alpha * x64.matmul(w64.t());
        if (withBias)
            want = want + beta * b64;
        auto input = x.clone().requires_grad_(true);
        const auto y = clip::affine(input, weight, b, alpha, beta);
        QCOMPARE(y.sizes(), want.sizes());
        const double err = relErr(y.detach(), want);
        QVERIFY2(err < 1e-5, qPrintable(QStringLiteral("alpha %1: forward error %2").arg(alpha).arg(err)));
        (y * g).sum().backward();
        const double gradErr = relErr(input.grad(), alpha * g64.matmul(w64));
        QVERIFY2(gradErr < 1e-5, qPrintable(QStringLiteral("alpha %1: gradient error %2").arg(alpha).arg(gradErr)));
        torch::NoGradGuard noGrad;
        QVERIFY(relErr(clip::affine(x, weight, b, alpha, beta), want) < 1e-5);
    }
}

void TestClipModel::frozenAndTrainableWeightsAgree()
{
    // A weight that trains takes LibTorch's BLAS product and gets its gradient, α·gᵀx; the towers give the
    // same features either way (float rounding apart: 1e-5 on features of order 1).
    torch::manual_seed(22);
    auto weight = torch::randn({24, 48}).requires_grad_(true);
    const auto x = torch::randn({7, 48}), g = torch::randn({7, 24});
    QVERIFY(!clip::affineUsesOneDnn(x, weight, {}));
    (clip::affine(x, weight, {}, 0.5) * g).sum().backward();
    const auto want = 0.5 * g.to(torch::kDouble).t().matmul(x.to(torch::kDouble));
    QVERIFY((weight.grad().to(torch::kDouble) - want).abs().max().item<double>() < 1e-5 * want.abs().max().item<double>());

    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 8);
    const auto images = test::randomImages(2, config.vision.imageSize, 15);
    const auto ids = torch::randint(1, 900, {2, config.text.contextLength}, torch::kLong);
    const auto trainableImage = model->encodeImage(images).detach(), trainableText = model->encodeText(ids).detach();
    for (auto &p : model->parameters())
        p.set_requires_grad(false);
    QVERIFY((model->encodeImage(images) - trainableImage).abs().max().item<double>() < 1e-5);
    QVERIFY((model->encodeText(ids) - trainableText).abs().max().item<double>() < 1e-5);
}

void TestClipModel::freedMemoryIsKeptUntilReleased()
{
    // configureThreads() (the test main calls it) keeps freed memory resident for the next training
    // step, and releaseFreedMemory() gives it back. 256 MB, paged in, then freed.
    for (const char *name : {"MALLOC_ARENA_MAX", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_"})
        if (std::getenv(name))
            QSKIP("glibc's malloc settings come from the environment");
#if defined(__SANITIZE_ADDRESS__)
    QSKIP("AddressSanitizer's allocator replaces glibc's malloc, whose settings this checks");
#endif
    auto residentMb = [] {
        std::ifstream statm("/proc/self/statm");
        double pages = 0, resident = 0;
        statm >> pages >> resident;
        return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
    };
    double during = 0;
    {
        const auto block = torch::ones({64 * 1024 * 1024});
        during = residentMb();
    }
    const double kept = residentMb();
    sep::releaseFreedMemory();
    const double after = residentMb();
    QVERIFY2(kept > during - 32, qPrintable(QStringLiteral("%1 MB resident while allocated, %2 MB after free").arg(during).arg(kept)));
    QVERIFY2(kept - after > 200, qPrintable(QStringLiteral("%1 MB resident before release, %2 MB after").arg(kept).arg(after)));
}

void TestClipModel::clsAttentionProbe()
{
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 6);
    torch::NoGradGuard noGrad;
    std::vector<at::Tensor> attention;
    const auto images = test::randomImages(2, config.vision.imageSize, 12);
    const auto withProbe = model->visual->forward(images, &attention);
    const auto plain = model->visual->forward(images);
    QCOMPARE(static_cast<int64_t>(attention.size()), config.vision.layers);
    QVERIFY(torch::equal(withProbe, plain));   // probing changes nothing
    for (const auto &a : attention) {
        QCOMPARE(a.sizes().vec(), (std::vector<int64_t>{2, config.vision.tokens()}));
        QVERIFY((a.sum(-1) - 1).abs().max().item<double>() < 1e-5);   // a distribution over tokens
        QVERIFY(a.min().item<double>() >= 0);
    }
}

void TestClipModel::logitsAreScaledCosines()
{
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 7);
    torch::NoGradGuard noGrad;
    const auto img = torch::randn({2, config.embedDim}), txt = torch::randn({3, config.embedDim});
    const auto logits = model->logits(img, txt);
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j) {
            const double cos = torch::cosine_similarity(img[i], txt[j], 0).item<double>();
            QVERIFY(std::abs(logits[i][j].item<double>() - 50.0 * cos) < 1e-4);
        }
    QVERIFY(std::abs(model->logitScale() - 50.0) < 1e-4);
}

void TestClipModel::parameterCountsOfVitB16()
{
    // Published totals for OpenAI's ViT-B/16: image 86,192,640; text 63,428,096; all 149,620,737.
    const auto config = clip::Config::vitB16();
    QCOMPARE(config.visionParameterCount(), int64_t(86192640));
    QCOMPARE(config.textParameterCount(), int64_t(63428096));
    QCOMPARE(config.parameterCount(), int64_t(149620737));
    clip::Model model(config);
    QCOMPARE(countParameters(*model->visual), int64_t(86192640));
    QCOMPARE(countParameters(*model->text), int64_t(63428096));
    QCOMPARE(countParameters(*model), int64_t(149620737));
}

void TestClipModel::parameterCountsOfTinyModelMatchConfig()
{
    const auto config = test::tinyConfig(777);
    clip::Model model(config);
    QCOMPARE(countParameters(*model), config.parameterCount());
}

SEP_TEST_MAIN(TestClipModel)
#include "test_clip_model.moc"
