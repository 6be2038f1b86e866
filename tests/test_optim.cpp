// The optimisation recipe: our Adam against LibTorch's own torch::optim::Adam (a separate
// implementation of the same update), its state surviving a checkpoint bit for bit, the learning-rate
// schedule against the formula computed here, and the training options' JSON table.

#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/train/adam.h"
#include "engine/train/trainer.h"
#include "tests/support/expect_error.h"
#include "tests/support/test_main.h"

#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <set>

using namespace sep;
using sep::test::expectError;
using namespace sep::train;

namespace {

// The recipe's optimiser settings.
constexpr double kLr = 0.0025, kWarmupLr = 1e-5, kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-3, kDecay = 5e-4;

AdamOptions recipeAdam() { return {kBeta1, kBeta2, kEps, kDecay}; }

// Largest elementwise difference relative to the largest magnitude of `expected` (parameters are
// O(1), so this is a relative error without blowing up on entries near zero).
double relativeError(const at::Tensor &actual, const at::Tensor &expected)
{
    const double scale = std::max(expected.abs().max().item<double>(), 1e-30);
    return (actual - expected).abs().max().item<double>() / scale;
}

#define COMPARE_CLOSE(actual, expected, tol, what)                                                                     \
    do {                                                                                                               \
        const double err_ = relativeError((actual), (expected));                                                      \
        QVERIFY2(err_ <= (tol), qPrintable(QStringLiteral("%1: relative error %2 > %3").arg(what).arg(err_).arg(tol))); \
    } while (0)

// One step's gradients for the two parameters; an undefined tensor means "no gradient this step".
struct Grads {
    at::Tensor a, b;
};

// Gradients spanning several orders of magnitude, so that both regimes of the large eps (1e-3) are
// exercised: |g| ≪ eps, where eps dominates the denominator, and |g| ≫ eps.
std::vector<Grads> makeGradients(int steps, torch::Dtype dtype, uint64_t seed, const std::set<int> &skipA,
                                 const std::set<int> &skipB)
{
    torch::manual_seed(seed);
    auto draw = [&](std::vector<int64_t> shape) {
        auto scale = torch::pow(10.0, torch::rand(shape, torch::kDouble) * 4 - 4);   // 1e-4 … 1
        return (torch::randn(shape, torch::kDouble) * scale).to(dtype);
    };
    std::vector<Grads> out;
    for (int i = 0; i < steps; ++i) {
        Grads g{draw({3, 4}), draw({5})};
        if (skipA.count(i))
            g.a = at::Tensor();
        if (skipB.count(i))
            g.b = at::Tensor();
        out.push_back(g);
    }
    return out;
}

void setGrad(at::Tensor &p, const at::Tensor &g) { p.mutable_grad() = g.defined() ? g.clone() : at::Tensor(); }

// Warm-up then full rate, as the schedule does at an epoch boundary.
double lrAt(int step) { return step < 5 ? kWarmupLr : kLr; }

const torch::optim::AdamParamState &torchState(torch::optim::Adam &opt, const at::Tensor &p)
{
    // LibTorch keys its per-parameter state by the address of the tensor's implementation.
    return static_cast<const torch::optim::AdamParamState &>(
        *opt.state().at(c10::guts::to_string(p.unsafeGetTensorImpl())));
}

struct Params {
    at::Tensor a, b;
};

Params initialParams(torch::Dtype dtype, uint64_t seed)
{
    torch::manual_seed(seed);
    return {torch::randn({3, 4}, torch::kDouble).to(dtype), torch::randn({5}, torch::kDouble).to(dtype)};
}

Params trainable(const Params &p)
{
    return {p.a.detach().clone().requires_grad_(true), p.b.detach().clone().requires_grad_(true)};
}

void runSteps(Adam &adam, Params &p, const std::vector<Grads> &grads, size_t from, size_t to)
{
    for (size_t i = from; i < to; ++i) {
        setGrad(p.a, grads[i].a);
        setGrad(p.b, grads[i].b);
        adam.step(lrAt(static_cast<int>(i)));
        adam.zeroGrad();
    }
}

} // namespace

class TestOptim : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void adamMatchesLibTorch_data();
    void adamMatchesLibTorch();
    void adamUsesOnlyTrainableTensors();
    void adamStateRoundTrip();
    void adamLoadStateNamesWhatIsWrong();

    void learningRateFollowsTheRecipe();
    void learningRateWithoutWarmup();
    void learningRateWithLongerWarmup();

    void trainOptionsDefaults();
    void trainOptionsRoundTrip();
    void trainOptionsRejectBadJson_data();
    void trainOptionsRejectBadJson();
};

// --------------------------------------------------------------------------------------------- Adam

void TestOptim::adamMatchesLibTorch_data()
{
    QTest::addColumn<bool>("doublePrecision");
    QTest::addColumn<double>("tolerance");
    QTest::newRow("float32") << false << 1e-6;
    QTest::newRow("float64") << true << 1e-12;
}

void TestOptim::adamMatchesLibTorch()
{
    QFETCH(bool, doublePrecision);
    QFETCH(double, tolerance);
    const auto dtype = doublePrecision ? torch::kDouble : torch::kFloat;
    const int steps = 20;
    // b has no gradient on the first step and on step 7, a none on step 12: such a tensor must be left
    // alone and its step count (hence its bias correction) must not advance, as in LibTorch.
    const auto grads = makeGradients(steps, dtype, 11, {12}, {0, 7});
    const auto init = initialParams(dtype, 5);

    Params ours = trainable(init), ref = trainable(init);
    Adam adam({{"a", ours.a}, {"b", ours.b}}, recipeAdam());
    torch::optim::Adam torchAdam({ref.a, ref.b},
                                 torch::optim::AdamOptions(kLr).betas({kBeta1, kBeta2}).eps(kEps).weight_decay(kDecay));

    for (int i = 0; i < steps; ++i) {
        static_cast<torch::optim::AdamOptions &>(torchAdam.param_groups()[0].options()).lr(lrAt(i));
        setGrad(ours.a, grads[size_t(i)].a);
        setGrad(ours.b, grads[size_t(i)].b);
        setGrad(ref.a, grads[size_t(i)].a);
        setGrad(ref.b, grads[size_t(i)].b);
        adam.step(lrAt(i));
        torchAdam.step();
        const QString at = QStringLiteral("step %1").arg(i);
        COMPARE_CLOSE(ours.a, ref.a, tolerance, at + QStringLiteral(" a"));
        COMPARE_CLOSE(ours.b, ref.b, tolerance, at + QStringLiteral(" b"));
        if (i == 0)
            QVERIFY(torch::equal(ours.b, init.b));   // no gradient yet: untouched, not decayed
    }
    QVERIFY(ours.a.scalar_type() == dtype && ours.b.scalar_type() == dtype);
    QVERIFY(!torch::equal(ours.a, init.a));

    // The moments and step counts agree too, not only their effect on the parameters.
    const auto state = adam.state();
    QCOMPARE(state.at("adam.step.a").item<int64_t>(), int64_t(steps - 1));
    QCOMPARE(state.at("adam.step.b").item<int64_t>(), int64_t(steps - 2));
    QCOMPARE(state.at("adam.step.a").item<int64_t>(), torchState(torchAdam, ref.a).step());
    QCOMPARE(state.at("adam.step.b").item<int64_t>(), torchState(torchAdam, ref.b).step());
    COMPARE_CLOSE(state.at("adam.exp_avg.a"), torchState(torchAdam, ref.a).exp_avg(), tolerance, QStringLiteral("m(a)"));
    COMPARE_CLOSE(state.at("adam.exp_avg_sq.b"), torchState(torchAdam, ref.b).exp_avg_sq(), tolerance,
                  QStringLiteral("v(b)"));

    // zeroGrad leaves no gradient behind, so a later step without backward() changes nothing.
    adam.zeroGrad();
    QVERIFY(!ours.a.grad().defined() && !ours.b.grad().defined());
    const auto before = ours.a.detach().clone();
    adam.step(kLr);
    QVERIFY(torch::equal(ours.a, before));
}

void TestOptim::adamUsesOnlyTrainableTensors()
{
    auto trained = torch::ones({2}).requires_grad_(true);
    auto frozen = torch::ones({2});
    Adam adam({{"trained", trained}, {"frozen", frozen}}, recipeAdam());
    const auto state = adam.state();
    QCOMPARE(state.size(), size_t(3));
    QVERIFY(state.count("adam.exp_avg.trained") && state.count("adam.exp_avg_sq.trained") && state.count("adam.step.trained"));
    QCOMPARE(state.at("adam.step.trained").item<int64_t>(), int64_t(0));

    trained.mutable_grad() = torch::full({2}, 0.5);
    adam.step(kLr);
    // First step of Adam: m̂ = g', v̂ = g'², so the update is lr · g' / (|g'| + eps) with g' = g + wd·p.
    const double g = 0.5 + kDecay * 1.0;
    const double expected = 1.0 - kLr * g / (g + kEps);
    QVERIFY2(std::abs(trained[0].item<double>() - expected) < 1e-7,
             qPrintable(QStringLiteral("%1 vs %2").arg(trained[0].item<double>(), 0, 'g', 10).arg(expected, 0, 'g', 10)));
    QVERIFY(torch::equal(frozen, torch::ones({2})));
}

void TestOptim::adamStateRoundTrip()
{
    const auto grads = makeGradients(16, torch::kFloat, 21, {}, {3, 11});
    const auto init = initialParams(torch::kFloat, 8);
    Params original = trainable(init);
    Adam adam({{"a", original.a}, {"b", original.b}}, recipeAdam());
    runSteps(adam, original, grads, 0, 8);

    // Through a checkpoint file, as a resumed run reads it.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = dir.filePath(QStringLiteral("optimizer.safetensors")).toStdString();
    io::writeSafetensors(path, adam.state());
    const TensorMap loaded = io::readSafetensors(path);

    // A fresh optimiser over other tensors holding the checkpointed parameter values.
    Params resumed = trainable(original);
    Adam resumedAdam({{"a", resumed.a}, {"b", resumed.b}}, recipeAdam());
    resumedAdam.loadState(loaded, path);
    // Control: the same restart without the state, so the comparison below can tell state from none.
    Params restarted = trainable(original);
    Adam restartedAdam({{"a", restarted.a}, {"b", restarted.b}}, recipeAdam());

    runSteps(adam, original, grads, 8, 16);
    runSteps(resumedAdam, resumed, grads, 8, 16);
    runSteps(restartedAdam, restarted, grads, 8, 16);

    QVERIFY(torch::equal(resumed.a, original.a));
    QVERIFY(torch::equal(resumed.b, original.b));
    QVERIFY(!torch::equal(restarted.a, original.a));
    const auto s1 = adam.state(), s2 = resumedAdam.state();
    QCOMPARE(s1.size(), s2.size());
    for (const auto &[key, value] : s1)
        QVERIFY2(torch::equal(value, s2.at(key)), key.c_str());
    QCOMPARE(s1.at("adam.step.b").item<int64_t>(), int64_t(14));

    // state() is a copy: later steps do not change a state already taken.
    const auto snapshot = adam.state();
    setGrad(original.a, grads[0].a);
    adam.step(kLr);
    QVERIFY(torch::equal(snapshot.at("adam.exp_avg.a"), s1.at("adam.exp_avg.a")));
}

void TestOptim::adamLoadStateNamesWhatIsWrong()
{
    const auto init = initialParams(torch::kFloat, 9);
    Params p = trainable(init);
    Adam adam({{"a", p.a}, {"b", p.b}}, recipeAdam());
    const TensorMap good = adam.state();

    for (const std::string key : {"adam.exp_avg_sq.b", "adam.exp_avg.a", "adam.step.b"}) {
        TensorMap missing = good;
        missing.erase(key);
        Params q = trainable(init);
        Adam other({{"a", q.a}, {"b", q.b}}, recipeAdam());
        expectError([&] { other.loadState(missing, "epoch7.safetensors"); }, {"epoch7.safetensors", "'" + key + "'"});
    }

    TensorMap wrongShape = good;
    wrongShape["adam.exp_avg.a"] = torch::zeros({4, 3});   // same element count, other shape
    Params q = trainable(init);
    Adam other({{"a", q.a}, {"b", q.b}}, recipeAdam());
    expectError([&] { other.loadState(wrongShape, "ckpt"); }, {"ckpt", "'a'", "shape"});
    wrongShape = good;
    wrongShape["adam.exp_avg_sq.b"] = torch::zeros({6});
    expectError([&] { other.loadState(wrongShape, "ckpt"); }, {"ckpt", "'b'", "shape"});
}

// ------------------------------------------------------------------------------------ learningRate

void TestOptim::learningRateFollowsTheRecipe()
{
    TrainOptions o;
    o.epochs = 10;
    const double pi = std::acos(-1.0);
    QCOMPARE(learningRate(o, 0), 1e-5);
    QCOMPARE(learningRate(o, 1), 0.0025);   // cos(0) = 1: exactly the peak
    for (int64_t e = 1; e < o.epochs; ++e) {
        const double expected = 0.0025 * 0.5 * (1 + std::cos(pi * double(e - 1) / 10.0));
        const double got = learningRate(o, e);
        QVERIFY2(std::abs(got - expected) <= 1e-15 * expected,
                 qPrintable(QStringLiteral("epoch %1: %2 vs %3").arg(e).arg(got, 0, 'g', 17).arg(expected, 0, 'g', 17)));
        if (e > 1)
            QVERIFY(got < learningRate(o, e - 1));   // decreasing after the warm-up
    }
    const double last = learningRate(o, 9);
    QVERIFY2(last > 0 && last < 0.0025, qPrintable(QString::number(last)));
    QVERIFY(std::abs(last - 0.0025 * 0.5 * (1 + std::cos(0.8 * pi))) < 1e-18);   // ≈ 2.4e-4, not 0
}

void TestOptim::learningRateWithoutWarmup()
{
    TrainOptions o;
    o.epochs = 10;
    o.warmupEpochs = 0;
    QCOMPARE(learningRate(o, 0), 0.0025);
    const double pi = std::acos(-1.0);
    QVERIFY(std::abs(learningRate(o, 5) - 0.0025 * 0.5 * (1 + std::cos(pi * 0.5))) < 1e-18);
}

void TestOptim::learningRateWithLongerWarmup()
{
    TrainOptions o;
    o.epochs = 10;
    o.warmupEpochs = 2;
    o.warmupLr = 3e-4;
    QCOMPARE(learningRate(o, 0), 3e-4);
    QCOMPARE(learningRate(o, 1), 3e-4);
    QCOMPARE(learningRate(o, 2), 0.0025);
}

// ------------------------------------------------------------------------------------ TrainOptions

void TestOptim::trainOptionsDefaults()
{
    const auto j = TrainOptions::table().toJson(TrainOptions::defaults());
    // Every documented key, and nothing else: a key lost from the table would silently stop being
    // saved with runs.
    std::set<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it)
        keys.insert(it.key());
    const std::set<std::string> expectedKeys{"epochs", "batch",  "lr",    "warmup_lr", "warmup_epochs", "weight_decay",
                                             "beta1",  "beta2",  "eps",   "augment",   "bf16",          "eval_every"};
    QCOMPARE(keys, expectedKeys);

    QVERIFY(j.at("epochs").is_number_integer());
    QCOMPARE(j.at("epochs").get<int64_t>(), int64_t(50));
    QCOMPARE(j.at("batch").get<int64_t>(), int64_t(32));
    QCOMPARE(j.at("lr").get<double>(), 0.0025);
    QCOMPARE(j.at("warmup_lr").get<double>(), 1e-5);
    QCOMPARE(j.at("warmup_epochs").get<int64_t>(), int64_t(1));
    QCOMPARE(j.at("weight_decay").get<double>(), 5e-4);
    QCOMPARE(j.at("beta1").get<double>(), 0.9);
    QCOMPARE(j.at("beta2").get<double>(), 0.999);
    QCOMPARE(j.at("eps").get<double>(), 1e-3);
    QVERIFY(j.at("augment").is_boolean() && j.at("augment").get<bool>());
    QVERIFY(j.at("bf16").is_boolean() && !j.at("bf16").get<bool>());

    // The specs carry the same defaults (the GUI shows them).
    for (const auto &spec : TrainOptions::table().specs())
        QVERIFY2(spec.defaultValue == j.at(spec.key), spec.key.c_str());
}

void TestOptim::trainOptionsRoundTrip()
{
    const auto &table = TrainOptions::table();
    // Keys not given keep their defaults.
    const auto partial = table.fromJson(nlohmann::json::parse(R"({"epochs": 10, "lr": 0.001, "augment": false})"));
    QCOMPARE(partial.epochs, int64_t(10));
    QCOMPARE(partial.lr, 0.001);
    QCOMPARE(partial.augment, false);
    QCOMPARE(partial.batchSize, int64_t(32));
    QCOMPARE(partial.eps, 1e-3);
    QCOMPARE(table.fromJson(nlohmann::json::object()).epochs, int64_t(50));

    TrainOptions o;
    o.epochs = 3, o.batchSize = 128, o.lr = 0.01, o.warmupLr = 2e-5, o.warmupEpochs = 0, o.weightDecay = 0;
    o.beta1 = 0.8, o.beta2 = 0.99, o.eps = 1e-8, o.augment = false, o.bf16 = true, o.evalEvery = 0;
    const auto back = table.fromJson(table.toJson(o));
    QCOMPARE(table.toJson(back), table.toJson(o));
    QCOMPARE(back.batchSize, int64_t(128));
    QCOMPARE(back.eps, 1e-8);
    QCOMPARE(back.bf16, true);
}

void TestOptim::trainOptionsRejectBadJson_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("needle");
    QTest::newRow("unknown key") << QStringLiteral(R"({"epoch": 10})") << QStringLiteral("'epoch'");
    QTest::newRow("text for int") << QStringLiteral(R"({"epochs": "ten"})") << QStringLiteral("'epochs'");
    QTest::newRow("epochs 0") << QStringLiteral(R"({"epochs": 0})") << QStringLiteral("'epochs'");
    QTest::newRow("fraction for int") << QStringLiteral(R"({"batch": 2.5})") << QStringLiteral("'batch'");
    QTest::newRow("negative lr") << QStringLiteral(R"({"lr": -0.1})") << QStringLiteral("'lr'");
    QTest::newRow("beta1 above 1") << QStringLiteral(R"({"beta1": 1.5})") << QStringLiteral("'beta1'");
    QTest::newRow("number for bool") << QStringLiteral(R"({"augment": 1})") << QStringLiteral("'augment'");
    QTest::newRow("text for real") << QStringLiteral(R"({"eps": "1e-3"})") << QStringLiteral("'eps'");
    QTest::newRow("not an object") << QStringLiteral(R"([1, 2])") << QStringLiteral("object");
}

void TestOptim::trainOptionsRejectBadJson()
{
    QFETCH(QString, json);
    QFETCH(QString, needle);
    const auto j = nlohmann::json::parse(json.toStdString());
    expectError([&] { TrainOptions::table().fromJson(j, "run.json"); }, {"run.json", needle.toStdString()});
}

SEP_TEST_MAIN(TestOptim)
#include "test_optim.moc"
