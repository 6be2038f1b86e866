// SEP's numerics: the Token Fusion Module against an independent computation and finite differences,
// the four loss terms against a hand computation, gradients of every term against finite
// differences on a tiny model, and the batch (in)dependence of the two fusion modes.
// Tolerances: double-precision comparisons 1e-9 absolute; finite differences (central, h = 1e-6)
// agree with autograd to 1e-6 relative (plus 1e-8 absolute).

#include "engine/prompt/coop.h"
#include "engine/prompt/kgcoop.h"
#include "engine/prompt/prograd.h"
#include "engine/prompt/sep_method.h"
#include "engine/prompt/token_fusion.h"
#include "engine/prompt/zeroshot.h"
#include "tests/support/fixtures.h"
#include "tests/support/test_main.h"

#include <torch/torch.h>

#include <QtTest>

#include <cmath>

using namespace sep;

namespace {

int64_t countParameters(torch::nn::Module &m)
{
    int64_t n = 0;
    for (auto &p : m.parameters())
        n += p.numel();
    return n;
}

// The TFM written out: per sample, per head, per query, with explicit softmax and LayerNorm.
at::Tensor referenceFusion(prompt::TokenFusionImpl &m, const at::Tensor &q, const at::Tensor &s, bool acrossBatch)
{
    auto ln = [](const at::Tensor &x, const at::Tensor &w, const at::Tensor &b) {
        auto mean = x.mean(-1, true);
        auto var = (x - mean).pow(2).mean(-1, true);
        return (x - mean) / (var + 1e-5).sqrt() * w + b;
    };
    const int64_t B = q.size(0), n = q.size(1), K = s.size(1), d = q.size(2), H = m.heads, hd = d / H;
    auto qn = ln(q, m.ln1->weight, m.ln1->bias), sn = ln(s, m.ln1->weight, m.ln1->bias);
    auto W = m.in_proj_weight, bias = m.in_proj_bias;
    auto proj = [&](const at::Tensor &x, int which) {
        return x.matmul(W.slice(0, which * d, (which + 1) * d).t()) + bias.slice(0, which * d, (which + 1) * d);
    };
    auto Q = proj(qn, 0), Kp = proj(sn, 1), V = proj(sn, 2);   // [B, n, d], [B, K, d]
    auto A = torch::zeros({B, n, d}, q.options());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < n; ++i)
            for (int64_t h = 0; h < H; ++h) {
                auto qi = Q[b][i].slice(0, h * hd, (h + 1) * hd);
                // Keys: the K tokens of this sample, or (across the batch) slot i of every sample.
                const int64_t count = acrossBatch ? B : K;
                std::vector<double> logits(static_cast<size_t>(count));
                for (int64_t j = 0; j < count; ++j) {
                    auto kj = acrossBatch ? Kp[j][i] : Kp[b][j];
                    logits[static_cast<size_t>(j)] = (qi * kj.slice(0, h * hd, (h + 1) * hd)).sum().item<double>() / std::sqrt(double(hd));
                }
                const double mx = *std::max_element(logits.begin(), logits.end());
                double sum = 0;
                for (auto &l : logits)
                    sum += (l = std::exp(l - mx));
                auto out = torch::zeros({hd}, q.options());
                for (int64_t j = 0; j < count; ++j) {
                    auto vj = acrossBatch ? V[j][i] : V[b][j];
                    out += logits[static_cast<size_t>(j)] / sum * vj.slice(0, h * hd, (h + 1) * hd);
                }
                A[b][i].slice(0, h * hd, (h + 1) * hd).copy_(out);
            }
    A = A.matmul(m.out_proj->weight.t()) + m.out_proj->bias;
    auto s1 = m.scale1.item<double>(), s2 = m.scale2.item<double>();
    auto Z = s1 * s.slice(1, 0, n) + (1 - s1) * A;
    auto h = ln(Z, m.ln2->weight, m.ln2->bias).matmul(m.fc1->weight.t());
    h = h / (1 + (-1.702 * h).exp());
    return s2 * Z + (1 - s2) * h.matmul(m.fc2->weight.t());
}

// Central finite difference of f at one coordinate of t (modified in place and restored).
double finiteDifference(at::Tensor t, int64_t flatIndex, const std::function<double()> &f, double h = 1e-6)
{
    torch::NoGradGuard noGrad;
    auto flat = t.view({-1});
    const double original = flat[flatIndex].item<double>();
    flat[flatIndex] = original + h;
    const double plus = f();
    flat[flatIndex] = original - h;
    const double minus = f();
    flat[flatIndex] = original;
    return (plus - minus) / (2 * h);
}

void compareGradient(const std::string &name, const at::Tensor &param, const at::Tensor &grad,
                     const std::function<double()> &f, int samples = 4)
{
    QVERIFY2(grad.defined(), (name + " received no gradient").c_str());
    std::mt19937 rng(static_cast<unsigned>(param.numel()));
    for (int k = 0; k < samples; ++k) {
        const int64_t i = static_cast<int64_t>(rng() % static_cast<unsigned>(param.numel()));
        const double analytic = grad.reshape({-1})[i].item<double>();
        const double numeric = finiteDifference(param, i, f);
        const double tol = 1e-6 * std::max(std::abs(numeric), std::abs(analytic)) + 1e-8;
        QVERIFY2(std::abs(analytic - numeric) <= tol,
                 qPrintable(QStringLiteral("%1[%2]: autograd %3, finite difference %4")
                                .arg(QString::fromStdString(name)).arg(i).arg(analytic, 0, 'g', 12).arg(numeric, 0, 'g', 12)));
    }
}

double softmaxCrossEntropy(const std::vector<double> &logits, size_t label)
{
    const double mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (double l : logits)
        sum += std::exp(l - mx);
    return -(logits[label] - mx - std::log(sum));
}

std::vector<double> unit(std::vector<double> v)
{
    double n = 0;
    for (double x : v)
        n += x * x;
    for (double &x : v)
        x /= std::sqrt(n);
    return v;
}

double dot(const std::vector<double> &a, const std::vector<double> &b)
{
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i)
        s += a[i] * b[i];
    return s;
}

std::vector<double> row(const at::Tensor &t, int64_t i)
{
    auto r = t[i].contiguous();
    return {r.data_ptr<double>(), r.data_ptr<double>() + r.numel()};
}

} // namespace

class TestSep : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void fusionMatchesIndependentComputation_data();
    void fusionMatchesIndependentComputation();
    void fusionGradientsMatchFiniteDifferences();
    void fusionParameterCountsAtVitB16Widths();
    void fusionModulesStartIdentical();
    void lossTermsMatchHandComputation();
    void lossGradientsMatchFiniteDifferences_data();
    void lossGradientsMatchFiniteDifferences();
    void coopGradientMatchesFiniteDifferences();
    void kgcoopLossMatchesHandComputation();
    void kgcoopGradientMatchesFiniteDifferences();
    void contextStartsFromTheGivenWords();
    void progradProjectsOnlyAConflictingGradient_data();
    void progradProjectsOnlyAConflictingGradient();
    void perSampleIsBatchIndependent();
    void referenceModeDependsOnTheBatch();
    void selectionsAreConsistent();

private:
    QTemporaryDir m_dir;
};

void TestSep::initTestCase() { QVERIFY(m_dir.isValid()); }

void TestSep::fusionMatchesIndependentComputation_data()
{
    QTest::addColumn<bool>("acrossBatch");
    QTest::addColumn<int>("K");
    QTest::newRow("per-sample K=n") << false << 3;
    QTest::newRow("per-sample K>n") << false << 5;
    QTest::newRow("across the batch") << true << 3;
}

void TestSep::fusionMatchesIndependentComputation()
{
    QFETCH(bool, acrossBatch);
    QFETCH(int, K);
    torch::manual_seed(3);
    prompt::TokenFusion m(128, 16);   // 2 heads
    m->to(torch::kDouble);
    {
        torch::NoGradGuard g;
        for (auto &p : m->parameters())
            p.add_(torch::randn_like(p) * 0.1);   // move off the identity-like initial values
    }
    auto q = torch::randn({4, 3, 128}, torch::kDouble), s = torch::randn({4, K, 128}, torch::kDouble);
    torch::NoGradGuard g;
    const auto got = m->forward(q, s, acrossBatch);
    const auto want = referenceFusion(*m, q, s, acrossBatch);
    const double err = (got - want).abs().max().item<double>();
    QVERIFY2(err < 1e-9, qPrintable(QStringLiteral("max abs error %1").arg(err)));
}

void TestSep::fusionGradientsMatchFiniteDifferences()
{
    torch::manual_seed(4);
    prompt::TokenFusion m(64, 8);
    m->to(torch::kDouble);
    {
        torch::NoGradGuard g;
        for (auto &p : m->parameters())
            p.add_(torch::randn_like(p) * 0.1);
    }
    auto q = torch::randn({2, 3, 64}, torch::kDouble).requires_grad_(), s = torch::randn({2, 4, 64}, torch::kDouble).requires_grad_();
    const auto weights = torch::randn({2, 3, 64}, torch::kDouble);
    auto f = [&] { return (m->forward(q, s) * weights).sum(); };
    f().backward();
    auto value = [&] { return f().item<double>(); };
    compareGradient("q", q, q.grad(), value);
    compareGradient("s", s, s.grad(), value);
    for (auto &p : m->named_parameters())
        compareGradient(p.key(), p.value(), p.value().grad(), value, 3);
}

void TestSep::fusionParameterCountsAtVitB16Widths()
{
    // The spec counts 1,315,842 (text) and 2,760,194 (image) per module including a LayerNorm the
    // released code stores but never uses (2·d parameters), which the engine does not create.
    prompt::TokenFusion text(512, 256), image(768, 256);
    QCOMPARE(countParameters(*text), int64_t(1315842 - 2 * 512));
    QCOMPARE(countParameters(*image), int64_t(2760194 - 2 * 768));
    QCOMPARE(text->heads, int64_t(8));
    QCOMPARE(image->heads, int64_t(12));
}

void TestSep::fusionModulesStartIdentical()
{
    auto clip = test::tinyClip(m_dir.path().toStdString());
    auto config = clip.config();
    config.text.layers = config.vision.layers = 4;   // three fused blocks per tower
    prompt::SepPrompts prompts(config, prompt::SepOptions::defaults());
    QCOMPARE(prompts->textFusions.size(), size_t(3));
    QCOMPARE(prompts->imageFusions.size(), size_t(3));
    for (auto *list : {&prompts->textFusions, &prompts->imageFusions}) {
        auto first = (*list)[0]->named_parameters();
        for (size_t i = 1; i < list->size(); ++i)
            for (auto &p : (*list)[i]->named_parameters())
                QVERIFY2(torch::equal(p.value(), first[p.key()]), p.key().c_str());
    }
    QCOMPARE(prompts->textFusions[0]->scale1.item<double>(), 0.75);
    QCOMPARE(prompts->textFusions[0]->out_proj->bias.abs().sum().item<double>(), 0.0);
}

void TestSep::lossTermsMatchHandComputation()
{
    // 2 images, 3 classes, 3-dimensional features.
    auto t = [](std::vector<double> v, int64_t r, int64_t c) { return torch::tensor(v, torch::kDouble).view({r, c}); };
    const auto vP = t({1, 2, 0.5, -1, 0.3, 2}, 2, 3);
    const auto vF = torch::nn::functional::normalize(t({0.9, 1.5, 1, -0.5, 0.2, 1.8}, 2, 3),
                                                     torch::nn::functional::NormalizeFuncOptions().dim(-1));
    const auto tP = t({1, 0, 0, 0, 1, 0.2, 0.3, 0.3, 1}, 3, 3);
    const auto tHc = torch::nn::functional::normalize(t({0.8, 0.1, 0.1, 0.2, 1, 0, 0.1, 0.5, 1}, 3, 3),
                                                      torch::nn::functional::NormalizeFuncOptions().dim(-1));
    const auto protos = t({2, 1, 0, 0, 3, 1, 1, 1, 4}, 3, 3);
    const auto labels = torch::tensor(std::vector<int64_t>{0, 2});
    const double scale = 20;
    prompt::SepOptions o;
    const auto terms = prompt::SepMethod::lossFromFeatures(vP, vF, tP, tHc, protos, labels,
                                                           torch::full({}, scale, torch::kDouble), o);

    // By hand: fused features, then each term from its definition.
    std::vector<std::vector<double>> vHat, tHat, W;
    for (int64_t b = 0; b < 2; ++b) {
        auto a = unit(row(vP, b)), f = row(vF, b);
        vHat.push_back(unit({a[0] + f[0], a[1] + f[1], a[2] + f[2]}));
    }
    for (int64_t c = 0; c < 3; ++c) {
        auto a = unit(row(tP, c)), h = row(tHc, c);
        tHat.push_back(unit({a[0] + h[0], a[1] + h[1], a[2] + h[2]}));
        W.push_back(unit(row(protos, c)));
    }
    const size_t y[2] = {0, 2};
    double ce = 0, proto = 0, imageCos = 0, textCos = 0;
    for (int b = 0; b < 2; ++b) {
        std::vector<double> logits, p1, p2;
        for (int c = 0; c < 3; ++c) {
            logits.push_back(scale * dot(vHat[b], tHat[c]));
            p1.push_back(10 * dot(vHat[b], W[c]));
            p2.push_back(10 * dot(row(vF, b), W[c]));
        }
        ce += softmaxCrossEntropy(logits, y[b]) / 2;
        proto += (softmaxCrossEntropy(p1, y[b]) + softmaxCrossEntropy(p2, y[b])) / 2;
        imageCos += dot(row(vF, b), vHat[b]) / 2;
    }
    for (int c = 0; c < 3; ++c)
        textCos += dot(tHat[c], row(tHc, c)) / 3;
    const double total = ce + 8 * (1 - textCos) + 6 * (1 - imageCos) + 0.5 * proto;

    QVERIFY(std::abs(terms.parts.at("cross_entropy") - ce) < 1e-9);
    QVERIFY(std::abs(terms.parts.at("text_consistency") - (1 - textCos)) < 1e-9);
    QVERIFY(std::abs(terms.parts.at("image_consistency") - (1 - imageCos)) < 1e-9);
    QVERIFY(std::abs(terms.parts.at("prototype") - proto) < 1e-9);
    QVERIFY(std::abs(terms.total.item<double>() - total) < 1e-9);
    QVERIFY(total > 1);   // the case is not degenerate
}

void TestSep::lossGradientsMatchFiniteDifferences_data()
{
    QTest::addColumn<double>("wText");
    QTest::addColumn<double>("wImage");
    QTest::addColumn<double>("wProto");
    QTest::newRow("cross-entropy") << 0.0 << 0.0 << 0.0;
    QTest::newRow("+ text consistency") << 8.0 << 0.0 << 0.0;
    QTest::newRow("+ image consistency") << 0.0 << 6.0 << 0.0;
    QTest::newRow("+ prototype head") << 0.0 << 0.0 << 0.5;
    QTest::newRow("all four") << 8.0 << 6.0 << 0.5;
}

void TestSep::lossGradientsMatchFiniteDifferences()
{
    QFETCH(double, wText);
    QFETCH(double, wImage);
    QFETCH(double, wProto);
    auto clip = test::tinyClip(m_dir.path().toStdString(), 5);
    clip.model->to(torch::kDouble);
    prompt::SepOptions o;
    o.wText = wText, o.wImage = wImage, o.wProto = wProto;
    o.nCtx = 2, o.kText = 3, o.nCtxVisual = 2, o.kImage = 3;
    torch::manual_seed(6);
    prompt::SepMethod sep(clip, o);
    sep.prompts()->to(torch::kDouble);
    {
        torch::NoGradGuard g;
        for (auto &p : sep.prompts()->parameters())
            p.add_(torch::randn_like(p) * 0.05);
    }
    sep.setClasses({"red", "green", "blue"});
    prompt::Batch batch{test::randomImages(3, 32, 7).to(torch::kDouble), torch::tensor(std::vector<int64_t>{0, 2, 1}), {}, true};
    sep.prepareTraining([&](int64_t) { return batch; }, 1);
    auto terms = sep.loss(batch);
    terms.total.backward();
    auto value = [&] { return sep.loss(batch).total.item<double>(); };
    auto &p = *sep.prompts();
    compareGradient("ctx", p.ctx, p.ctx.grad(), value);
    compareGradient("ctx_visual", p.ctx_visual, p.ctx_visual.grad(), value);
    compareGradient("text fusion in_proj", p.textFusions[0]->in_proj_weight, p.textFusions[0]->in_proj_weight.grad(), value);
    compareGradient("image fusion fc2", p.imageFusions[0]->fc2->weight, p.imageFusions[0]->fc2->weight.grad(), value);
    compareGradient("image fusion scale1", p.imageFusions[0]->scale1, p.imageFusions[0]->scale1.grad(), value, 1);
    if (wProto > 0)
        compareGradient("prototypes", p.prototypes, p.prototypes.grad(), value);
    // The backbone is frozen: no gradient reaches it.
    for (auto &w : clip.model->parameters())
        QVERIFY(!w.grad().defined());
}

void TestSep::coopGradientMatchesFiniteDifferences()
{
    auto clip = test::tinyClip(m_dir.path().toStdString(), 8);
    clip.model->to(torch::kDouble);
    prompt::CoOpOptions o;
    o.nCtx = 4;
    prompt::CoOp coop(clip, o);
    auto ctx = coop.namedParameters().front().second;
    {
        torch::NoGradGuard g;
        ctx.set_data(ctx.to(torch::kDouble));
    }
    coop.setClasses({"red", "green", "blue"});
    prompt::Batch batch{test::randomImages(3, 32, 9).to(torch::kDouble), torch::tensor(std::vector<int64_t>{1, 0, 2}), {}, true};
    coop.loss(batch).total.backward();
    compareGradient("ctx", ctx, ctx.grad(), [&] { return coop.loss(batch).total.item<double>(); });
}

namespace {

// KgCoOp on the tiny model in double precision, its context random (the tiny vocabulary is
// byte-level, so "a photo of a" is not 4 tokens there).
std::unique_ptr<prompt::KgCoOp> doubleKgCoOp(clip::LoadedClip &clip, double weight)
{
    clip.model->to(torch::kDouble);
    prompt::KgCoOpOptions o;
    o.ctxInit.clear();
    o.nCtx = 4;
    o.weight = weight;
    auto kg = std::make_unique<prompt::KgCoOp>(clip, o);
    auto ctx = kg->namedParameters().front().second;
    {
        torch::NoGradGuard g;
        ctx.set_data(ctx.to(torch::kDouble) * 20);   // far enough from the template for a clear term
    }
    kg->setClasses({"red", "green", "blue"});
    return kg;
}

} // namespace

void TestSep::kgcoopLossMatchesHandComputation()
{
    // loss = CE + λ · mean_c ‖w_c − h_c‖², recomputed here from the method's logits and from the two
    // sets of class features by another formula: for unit vectors ‖w − h‖² = 2 − 2 w·h.
    auto clip = test::tinyClip(m_dir.path().toStdString(), 12);
    const double weight = 8;
    auto kg = doubleKgCoOp(clip, weight);
    const std::vector<int64_t> labels{1, 0, 2, 2};
    prompt::Batch batch{test::randomImages(4, 32, 13).to(torch::kDouble), torch::tensor(labels), {}, true};
    const auto terms = kg->loss(batch);

    double ce = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
        const auto r = row(terms.logits, static_cast<int64_t>(i));
        ce += softmaxCrossEntropy(r, static_cast<size_t>(labels[i])) / static_cast<double>(labels.size());
    }
    prompt::ZeroShotOptions zo;
    zo.templ = "a photo of a {}.";
    prompt::ZeroShot zeroShot(clip, zo);
    zeroShot.setClasses(kg->classes());
    const auto learned = kg->textClassifier(), hand = zeroShot.textClassifier();
    double knowledge = 0;
    for (int64_t c = 0; c < 3; ++c)
        knowledge += (2 - 2 * dot(unit(row(learned, c)), unit(row(hand, c)))) / 3;

    QVERIFY2(knowledge > 1e-3, qPrintable(QString::number(knowledge)));   // a term that can be wrong
    QVERIFY2(std::abs(terms.parts.at("cross_entropy") - ce) < 1e-9, qPrintable(QString::number(terms.parts.at("cross_entropy") - ce)));
    QVERIFY2(std::abs(terms.parts.at("knowledge") - knowledge) < 1e-9, qPrintable(QString::number(terms.parts.at("knowledge") - knowledge)));
    QVERIFY(std::abs(terms.total.item<double>() - (ce + weight * knowledge)) < 1e-9);
}

void TestSep::kgcoopGradientMatchesFiniteDifferences()
{
    auto clip = test::tinyClip(m_dir.path().toStdString(), 14);
    auto kg = doubleKgCoOp(clip, 8);
    auto ctx = kg->namedParameters().front().second;
    prompt::Batch batch{test::randomImages(3, 32, 15).to(torch::kDouble), torch::tensor(std::vector<int64_t>{2, 1, 0}), {}, true};
    kg->loss(batch).total.backward();
    compareGradient("ctx", ctx, ctx.grad(), [&] { return kg->loss(batch).total.item<double>(); });
}

void TestSep::contextStartsFromTheGivenWords()
{
    // ctx_init: the context's rows are the token embeddings of the words, looked up here directly.
    auto clip = test::tinyClip(m_dir.path().toStdString(), 16);
    const std::string words = "a photo";
    const auto ids = clip.tokenizer->encode(words, clip.config().text.contextLength);
    std::vector<int64_t> wordIds;   // between [SOT] and [EOT]
    for (size_t i = 1; i < ids.size() && ids[i] != ids[0] && ids[i] != 0; ++i)
        wordIds.push_back(ids[i]);
    wordIds.pop_back();             // [EOT]
    QVERIFY(!wordIds.empty());
    prompt::CoOpOptions o;
    o.nCtx = static_cast<int64_t>(wordIds.size());
    o.ctxInit = words;
    prompt::CoOp coop(clip, o);
    const auto ctx = coop.namedParameters().front().second;
    const auto table = clip.model->text->token_embedding->weight;
    for (size_t i = 0; i < wordIds.size(); ++i)
        QVERIFY(torch::equal(ctx[static_cast<int64_t>(i)], table[wordIds[i]]));
    QVERIFY(ctx.requires_grad());
    // n_ctx 0: as many vectors as the words are tokens; without words, refused.
    o.nCtx = 0;
    QCOMPARE(prompt::CoOp(clip, o).namedParameters().front().second.size(0), static_cast<int64_t>(wordIds.size()));
    o.ctxInit.clear();
    QVERIFY_THROWS_EXCEPTION(Error, prompt::CoOp(clip, o));
    // A count that does not match is refused, naming the words' count.
    o.ctxInit = words;
    o.nCtx = static_cast<int64_t>(wordIds.size()) + 1;
    try {
        prompt::CoOp wrong(clip, o);
        QFAIL("a context of the wrong length was accepted");
    } catch (const Error &e) {
        QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("is %1 tokens").arg(wordIds.size())), e.what());
    }
}

void TestSep::progradProjectsOnlyAConflictingGradient_data()
{
    // Labels that zero-shot CLIP ranks last make the cross-entropy pull against its prediction
    // (a conflict: projected); the labels it ranks first agree with it (kept as they are).
    QTest::addColumn<bool>("againstZeroShot");
    QTest::newRow("conflicting") << true;
    QTest::newRow("agreeing") << false;
}

void TestSep::progradProjectsOnlyAConflictingGradient()
{
    // The expected step is the paper's formula applied to g_ce and g_kl taken by finite differences
    // of the two loss terms, not from the method's own autograd code.
    QFETCH(bool, againstZeroShot);
    auto clip = test::tinyClip(m_dir.path().toStdString(), 17);
    clip.model->to(torch::kDouble);
    prompt::ProGradOptions o;
    o.ctxInit.clear();
    o.nCtx = 2;
    prompt::ProGrad pg(clip, o);
    auto ctx = pg.namedParameters().front().second;
    {
        torch::NoGradGuard g;
        ctx.set_data(ctx.to(torch::kDouble) * 20);
    }
    const std::vector<std::string> classes{"red", "green", "blue", "grey"};
    pg.setClasses(classes);
    const auto images = test::randomImages(4, 32, 19).to(torch::kDouble);
    prompt::ZeroShotOptions zo;
    zo.templ = o.templ;
    prompt::ZeroShot zeroShot(clip, zo);
    zeroShot.setClasses(classes);
    const auto zsLogits = zeroShot.score(images).logits;
    const prompt::Batch batch{images, againstZeroShot ? zsLogits.argmin(-1) : zsLogits.argmax(-1), {}, true};

    const int64_t n = ctx.numel();
    std::vector<double> gce(static_cast<size_t>(n)), gkl(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        gce[static_cast<size_t>(i)] = finiteDifference(ctx, i, [&] { return pg.loss(batch).parts.at("cross_entropy"); });
        gkl[static_cast<size_t>(i)] = finiteDifference(ctx, i, [&] { return pg.loss(batch).parts.at("kl"); });
    }
    const double conflict = dot(gce, gkl), klNorm2 = dot(gkl, gkl);
    QVERIFY2((conflict < 0) == againstZeroShot, qPrintable(QStringLiteral("g_ce · g_kl = %1").arg(conflict)));
    std::vector<double> expected = gce;
    if (conflict < 0)
        for (size_t i = 0; i < expected.size(); ++i)
            expected[i] -= conflict / klNorm2 * gkl[i];

    const auto terms = pg.loss(batch);
    QVERIFY(std::abs(terms.total.item<double>() - terms.parts.at("cross_entropy")) < 1e-12);   // the step descends the CE
    pg.backward(terms);
    QVERIFY(ctx.grad().defined());
    const auto got = ctx.grad().reshape({-1});
    double scale = 0;
    for (double v : expected)
        scale = std::max(scale, std::abs(v));
    for (int64_t i = 0; i < n; ++i) {
        const double a = got[i].item<double>(), e = expected[static_cast<size_t>(i)];
        QVERIFY2(std::abs(a - e) <= 1e-6 * scale + 1e-9,
                 qPrintable(QStringLiteral("ctx[%1]: step %2, formula %3").arg(i).arg(a, 0, 'g', 12).arg(e, 0, 'g', 12)));
    }
    // With λ = 1 a projected step is orthogonal to the zero-shot direction: it no longer opposes it.
    std::vector<double> step(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        step[static_cast<size_t>(i)] = got[i].item<double>();
    if (againstZeroShot)
        QVERIFY2(std::abs(dot(step, gkl)) <= 1e-6 * std::sqrt(dot(step, step) * klNorm2),
                 qPrintable(QString::number(dot(step, gkl))));
}

void TestSep::perSampleIsBatchIndependent()
{
    // Per-sample fusion: an image's scores and selected tokens do not depend on the other images in its
    // batch. Batches are computed together, so scores agree within float32 rounding (1e-4 on logits of
    // scale 50); the selected tokens are the same.
    auto clip = test::tinyClip(m_dir.path().toStdString(), 10);
    torch::manual_seed(11);
    prompt::SepMethod sep(clip, prompt::SepOptions::defaults());
    sep.setClasses({"red", "green", "blue", "cyan"});
    const auto images = test::randomImages(7, 32, 12);
    const auto alone = sep.score(images.slice(0, 4, 5), {true, false});
    for (int64_t size : {3, 7}) {
        // The image sits at a different position in each batch.
        auto batch = images.slice(0, 0, size).clone();
        const int64_t at = size - 2;
        batch[at] = images[4];
        const auto inside = sep.score(batch, {true, false});
        const double diff = (inside.logits[at] - alone.logits[0]).abs().max().item<double>();
        QVERIFY2(diff < 1e-4, qPrintable(QStringLiteral("batch of %1: logits differ by %2").arg(size).arg(diff)));
        for (size_t layer = 0; layer < alone.images[0].layers.size(); ++layer)
            QCOMPARE(inside.images[static_cast<size_t>(at)].layers[layer].tokens, alone.images[0].layers[layer].tokens);
    }
}

void TestSep::referenceModeDependsOnTheBatch()
{
    auto clip = test::tinyClip(m_dir.path().toStdString(), 10);
    torch::manual_seed(11);
    auto o = prompt::SepOptions::defaults();
    o.fusion = prompt::Fusion::Reference;
    prompt::SepMethod sep(clip, o);
    sep.setClasses({"red", "green", "blue", "cyan"});
    const auto images = test::randomImages(7, 32, 12);
    const auto alone = sep.score(images.slice(0, 4, 5));
    const auto inside = sep.score(images);
    const double diff = (inside.logits[4] - alone.logits[0]).abs().max().item<double>();
    QVERIFY2(diff > 1e-4, qPrintable(QStringLiteral("reference mode should depend on the batch; max difference %1").arg(diff)));
    // One index set serves the whole batch.
    const auto scored = sep.score(images, {true, false});
    for (const auto &img : scored.images)
        QCOMPARE(img.layers[0].tokens, scored.images[0].layers[0].tokens);
}

void TestSep::selectionsAreConsistent()
{
    auto clip = test::tinyClip(m_dir.path().toStdString(), 13);
    torch::manual_seed(14);
    prompt::SepMethod sep(clip, prompt::SepOptions::defaults());
    sep.setClasses({"red", "green"});
    const auto images = test::randomImages(2, 32, 15);
    const auto out = sep.score(images, {true, true});
    const auto &v = clip.config().vision;
    QCOMPARE(out.images.size(), size_t(2));
    for (const auto &img : out.images) {
        QCOMPARE(static_cast<int64_t>(img.layers.size()), v.layers - 1);
        QCOMPARE(static_cast<int64_t>(img.clsAttention.size()), v.layers);
        QCOMPARE(static_cast<int64_t>(img.clsAttention[0].size()), v.gridSize() * v.gridSize());
        for (const auto &l : img.layers) {
            QCOMPARE(l.tokens.size(), size_t(4));
            for (size_t k = 0; k < l.tokens.size(); ++k) {
                QVERIFY(l.tokens[k] >= 0 && l.tokens[k] < v.tokens());
                if (k)
                    QVERIFY(l.scores[k - 1] >= l.scores[k]);   // highest score first
            }
            QCOMPARE(l.attention.size(), size_t(4 * 4));
            for (int i = 0; i < 4; ++i) {
                double sum = 0;
                for (int k = 0; k < 4; ++k)
                    sum += l.attention[static_cast<size_t>(i * 4 + k)];
                QVERIFY(std::abs(sum - 1) < 1e-5);
            }
        }
    }
    // Scores are the mean squared activation of the selected tokens at that block's input: recompute
    // layer 1's from the tower's own pieces.
    {
        torch::NoGradGuard g;
        auto &tower = *clip.model->visual;
        auto x = tower.embed(images);
        x = torch::cat({x, sep.prompts()->ctx_visual.unsqueeze(0).expand({2, 4, x.size(2)})}, 1);
        x = tower.block(0)->forward(tower.ln_pre->forward(x));
        const auto score = x.slice(1, 0, v.tokens()).pow(2).mean(-1);
        const auto [values, index] = score.topk(4, -1);
        for (int64_t b = 0; b < 2; ++b)
            for (int64_t k = 0; k < 4; ++k)
                QCOMPARE(out.images[static_cast<size_t>(b)].layers[0].tokens[static_cast<size_t>(k)], index[b][k].item<int64_t>());
    }
    // Text side: the six positions after the context hold "red." with the byte-level vocabulary.
    const auto classes = sep.classSelections();
    QCOMPARE(classes.size(), size_t(2));
    QCOMPARE(classes[0].className, std::string("red"));
    const std::vector<std::string> pieces = {"r", "e", "d ", ". ", "<|endoftext|>", ""};
    QCOMPARE(classes[0].pieces, pieces);
    QCOMPARE(classes[0].layers.front().positions, (std::vector<int64_t>{7, 8, 9, 10, 11, 12}));
}

SEP_TEST_MAIN(TestSep)
#include "test_sep.moc"
