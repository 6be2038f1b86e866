// The trainer and run folders on a tiny model and a small generated folder: training learns, resume
// equals an uninterrupted run bit for bit, cancel stops within one step leaving a loadable checkpoint,
// the backbone never changes, and bad input (unreadable images, a vanishing class folder, a NaN loss)
// gives clear messages without losing the last good state.

#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/prompt/registry.h"
#include "engine/prompt/sep_method.h"
#include "engine/train/evaluator.h"
#include "engine/train/run.h"
#include "tests/support/expect_error.h"
#include "tests/support/fixtures.h"
#include "tests/support/test_main.h"

#include <torch/torch.h>

#include <QtTest>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

using namespace sep;

namespace {

const std::vector<std::string> kClasses = {"amber", "blue", "coral", "dark_green"};

struct Capture {
    std::vector<std::string> warnings, infos;
    int64_t steps = 0;
    Hooks hooks()
    {
        Hooks h;
        h.log = [this](LogLevel level, const std::string &m) { (level == LogLevel::Warning ? warnings : infos).push_back(m); };
        return h;
    }
    int count(const std::string &needle) const
    {
        int n = 0;
        for (const auto &w : warnings)
            n += w.find(needle) != std::string::npos;
        return n;
    }
};

nlohmann::json readJson(const QString &path)
{
    std::ifstream in(path.toStdString());
    return nlohmann::json::parse(in);
}

} // namespace

class TestTraining : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void trainingLearnsAndBeatsZeroShot_data();
    void trainingLearnsAndBeatsZeroShot();
    void resumeEqualsUninterrupted();
    void cancelStopsWithinOneStep();
    void backboneNeverChanges();
    void trueClassRankAgreesWithEveryLogit();
    void datasetSmallerThanTheBatchTrains();
    void unreadableImageIsReportedOnce();
    void vanishingClassFolder();
    void nanLossStopsAndKeepsTheLastGoodCheckpoint();
    void existingRunIsNotOverwritten();
    void everyRegisteredMethodIsWhatItsEntrySays();
    void classNamesTravelWithTheRun();

private:
    train::RunSpec spec(const std::string &method, int64_t epochs) const;
    QTemporaryDir m_dir;
    QString m_data;
    test::ModelFiles m_model;
};

void TestTraining::initTestCase()
{
    m_model = test::writeTinyModelFiles(m_dir.path().toStdString(), 2);
    m_data = m_dir.filePath(QStringLiteral("colours"));
    test::writeColourFolder(m_data, kClasses, 8, 3);
}

train::RunSpec TestTraining::spec(const std::string &method, int64_t epochs) const
{
    train::RunSpec s;
    s.data = m_data.toStdString();
    s.weights = m_model.weights;
    s.vocab = m_model.vocab;
    s.config = m_model.config;
    s.device = "cpu";
    s.method = method;
    s.shots = 4;
    s.seed = 1;
    s.baseToNew = true;
    s.train.epochs = epochs;
    s.train.batchSize = 4;
    s.train.lr = 0.01;
    s.evalBatch = 16;
    return s;
}

void TestTraining::trainingLearnsAndBeatsZeroShot_data()
{
    // ProGrad only promises not to go against zero-shot's prediction: at least as good, not better.
    QTest::addColumn<QString>("method");
    QTest::addColumn<bool>("mustBeatZeroShot");
    QTest::newRow("coop") << QStringLiteral("coop") << true;
    QTest::newRow("kgcoop") << QStringLiteral("kgcoop") << true;
    QTest::newRow("prograd") << QStringLiteral("prograd") << false;
    QTest::newRow("sep") << QStringLiteral("sep") << true;
}

void TestTraining::trainingLearnsAndBeatsZeroShot()
{
    QFETCH(QString, method);
    QFETCH(bool, mustBeatZeroShot);
    QTemporaryDir runs;
    Capture c;
    auto s = spec(method.toStdString(), 8);
    if (method == QStringLiteral("coop"))
        s.methodOptions = {{"n_ctx", 4}};
    else if (method != QStringLiteral("sep"))   // CoOp's variants: 4 random vectors (the tiny vocabulary
        s.methodOptions = {{"n_ctx", 4}, {"ctx_init", ""}};   // has no 4-token "a photo of a")
    const auto tuned = train::trainRun(s, runs.filePath(QStringLiteral("tuned")).toStdString(), false, c.hooks());
    const auto zero = train::trainRun(spec("zeroshot", 1), runs.filePath(QStringLiteral("zero")).toStdString(), false, c.hooks());

    const auto history = readJson(runs.filePath(QStringLiteral("tuned/metrics.json")));
    QCOMPARE(history.size(), size_t(8));
    const double first = history.front()["loss"].get<double>(), last = history.back()["loss"].get<double>();
    QVERIFY2(last < first, qPrintable(QStringLiteral("loss %1 → %2").arg(first).arg(last)));
    const double tunedBase = tuned.accuracy.at("base"), zeroBase = zero.accuracy.at("base");
    QVERIFY2(mustBeatZeroShot ? tunedBase > zeroBase : tunedBase >= zeroBase,
             qPrintable(QStringLiteral("base accuracy: tuned %1, zero-shot %2").arg(tuned.accuracy.at("base")).arg(zero.accuracy.at("base"))));
    QVERIFY(history.back()["eval"].contains("base") && history.back()["eval"].contains("new"));
    const auto summary = readJson(runs.filePath(QStringLiteral("tuned/summary.json")));
    QVERIFY(std::abs(summary["harmonic_mean"].get<double>() - tuned.harmonicMean) < 1e-12);
    for (const char *f : {"run.json", "log.txt", "metrics.csv", "checkpoints/last.safetensors", "eval-base/selections.jsonl",
                          "eval-new/confusion.csv", "eval-new/classes.json"})
        QVERIFY2(QFile::exists(runs.filePath(QStringLiteral("tuned/") + QLatin1String(f))), f);
    QCOMPARE(readJson(runs.filePath(QStringLiteral("tuned/run.json")))["status"].get<std::string>(), std::string("finished"));
}

void TestTraining::resumeEqualsUninterrupted()
{
    QTemporaryDir runs;
    const auto s = spec("sep", 4);
    Capture c;
    const std::string straight = runs.filePath(QStringLiteral("straight")).toStdString();
    train::trainRun(s, straight, false, c.hooks());

    // The same run, cancelled after two epochs (4 training images, batch 4: one step per epoch), then resumed.
    const std::string interrupted = runs.filePath(QStringLiteral("interrupted")).toStdString();
    std::atomic<bool> cancel{false};
    Hooks hooks = c.hooks();
    hooks.cancel = &cancel;
    hooks.progress = [&](const ProgressEvent &e) {
        if (e.what.rfind("epoch 2/", 0) == 0 && e.done == e.total / 2)
            cancel = true;
    };
    QVERIFY_THROWS_EXCEPTION(Cancelled, train::trainRun(s, interrupted, false, hooks));
    QCOMPARE(train::Trainer::checkpointEpoch(interrupted + "/checkpoints"), int64_t(2));
    QCOMPARE(readJson(QString::fromStdString(interrupted + "/run.json"))["status"].get<std::string>(), std::string("cancelled"));
    train::trainRun(s, interrupted, true, c.hooks());

    const auto a = io::readSafetensors(straight + "/checkpoints/last.safetensors");
    const auto b = io::readSafetensors(interrupted + "/checkpoints/last.safetensors");
    QCOMPARE(a.size(), b.size());
    for (const auto &[name, t] : a)
        QVERIFY2(torch::equal(t, b.at(name)), name.c_str());
    QCOMPARE(readJson(QString::fromStdString(interrupted + "/metrics.json")).size(), size_t(4));
    QCOMPARE(readJson(QString::fromStdString(straight + "/summary.json"))["accuracy"],
             readJson(QString::fromStdString(interrupted + "/summary.json"))["accuracy"]);
}

void TestTraining::cancelStopsWithinOneStep()
{
    QTemporaryDir runs;
    auto s = spec("sep", 3);
    s.train.batchSize = 2;   // 8 training images: 4 steps per epoch
    std::atomic<bool> cancel{false};
    int64_t stepsAfterCancel = -1;
    Capture c;
    Hooks hooks = c.hooks();
    hooks.cancel = &cancel;
    hooks.progress = [&](const ProgressEvent &e) {
        if (cancel)
            ++stepsAfterCancel;
        if (e.done == 6) {   // in the middle of the second epoch
            cancel = true;
            stepsAfterCancel = 0;
        }
    };
    const std::string dir = runs.filePath(QStringLiteral("run")).toStdString();
    QVERIFY_THROWS_EXCEPTION(Cancelled, train::trainRun(s, dir, false, hooks));
    QVERIFY2(stepsAfterCancel <= 1, qPrintable(QStringLiteral("%1 steps ran after the cancel").arg(stepsAfterCancel)));
    // The checkpoint of the last finished epoch loads into a fresh method.
    QCOMPARE(train::Trainer::checkpointEpoch(dir + "/checkpoints"), int64_t(1));
    auto clip = test::tinyClip(m_dir.path().toStdString(), 2);
    prompt::SepMethod fresh(clip, prompt::SepOptions::defaults());
    fresh.loadState(io::readSafetensors(dir + "/checkpoints/last.safetensors"), "checkpoint");
    QCOMPARE(fresh.prompts()->prototypes.size(0), int64_t(2));
}

void TestTraining::backboneNeverChanges()
{
    auto clip = test::tinyClip(m_dir.path().toStdString(), 4);
    std::map<std::string, at::Tensor> before;
    for (auto &p : clip.model->named_parameters())
        before[p.key()] = p.value().clone();
    torch::manual_seed(1);
    prompt::SepMethod sep(clip, prompt::SepOptions::defaults());
    const auto initial = sep.state();
    sep.setClasses({"amber", "blue"});
    std::vector<data::ImageRecord> images;
    for (int i = 0; i < 4; ++i) {
        images.push_back({(m_data + QStringLiteral("/amber/%1.png").arg(i)).toStdString(), 0});
        images.push_back({(m_data + QStringLiteral("/blue/%1.png").arg(i)).toStdString(), 1});
    }
    train::TrainOptions o;
    o.epochs = 2;
    o.batchSize = 4;
    QTemporaryDir ck;
    train::Trainer trainer(sep, images, 32, o, 1, ck.path().toStdString());
    trainer.run(false, {});
    for (auto &p : clip.model->named_parameters())
        QVERIFY2(torch::equal(p.value(), before[p.key()]), p.key().c_str());
    const auto after = sep.state();
    int changed = 0;
    for (const auto &[name, t] : after)
        changed += initial.at(name).sizes() == t.sizes() && !torch::equal(initial.at(name), t);
    QVERIFY2(changed >= static_cast<int>(after.size()) - 1, "some learnable tensors did not change");   // all but maybe a scale
    QVERIFY(!torch::equal(initial.at("ctx"), after.at("ctx")));
    QVERIFY(!torch::equal(initial.at("ctx_visual"), after.at("ctx_visual")));
}

void TestTraining::trueClassRankAgreesWithEveryLogit()
{
    auto clip = test::tinyClip(m_dir.path().toStdString(), 4);
    torch::manual_seed(3);
    prompt::SepMethod sep(clip, prompt::SepOptions::defaults());
    sep.setClasses(kClasses);
    std::vector<data::ImageRecord> images;
    for (int i = 0; i < 3; ++i)
        for (int64_t c = 0; c < static_cast<int64_t>(kClasses.size()); ++c)
            images.push_back({(m_data + QStringLiteral("/%1/%2.png").arg(QString::fromStdString(kClasses[c])).arg(i)).toStdString(), c});
    train::EvalOptions o;
    o.topK = 1;   // the true class is often outside the kept top list
    o.keepLogits = true;
    const auto result = train::evaluate(images, sep, 32, o, {});
    QCOMPARE(result.predictions.size(), images.size());
    int outsideTop = 0;
    for (const auto &p : result.predictions) {
        // Independently: the place of the label when every class is sorted by its logit, and the
        // softmax in double precision.
        std::vector<size_t> order(p.logits.size());
        std::iota(order.begin(), order.end(), size_t(0));
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p.logits[a] > p.logits[b]; });
        const auto rank = std::find(order.begin(), order.end(), static_cast<size_t>(p.label)) - order.begin() + 1;
        const double top = *std::max_element(p.logits.begin(), p.logits.end());
        double sum = 0;
        for (float l : p.logits)
            sum += std::exp(double(l) - top);
        const double prob = std::exp(double(p.logits[static_cast<size_t>(p.label)]) - top) / sum;
        QCOMPARE(p.trueRank, int64_t(rank));
        QVERIFY2(std::abs(p.trueProb - prob) < 1e-6, std::to_string(p.trueProb - prob).c_str());
        outsideTop += p.top.front() != p.label;
    }
    QVERIFY2(outsideTop > 0, "every image was right: the case this test is for never happened");
}

void TestTraining::datasetSmallerThanTheBatchTrains()
{
    QTemporaryDir runs;
    auto s = spec("sep", 2);
    s.shots = 2;
    s.train.batchSize = 32;   // 4 training images
    Capture c;
    const auto summary = train::trainRun(s, runs.filePath(QStringLiteral("r")).toStdString(), false, c.hooks());
    const auto history = readJson(runs.filePath(QStringLiteral("r/metrics.json")));
    QCOMPARE(history.size(), size_t(2));
    for (const auto &r : history)
        QVERIFY(std::isfinite(r["loss"].get<double>()) && r["loss"].get<double>() > 0);
    QVERIFY(summary.accuracy.count("base"));
}

void TestTraining::unreadableImageIsReportedOnce()
{
    QTemporaryDir dir;
    const QString data = dir.filePath(QStringLiteral("d"));
    test::writeColourFolder(data, {"amber", "blue"}, 7, 5);
    std::ofstream((data + QStringLiteral("/amber/broken.png")).toStdString()) << "\x89PNG\r\n\x1a\n not really";
    test::writePng(data + QStringLiteral("/blue/extra1.png"), 40, 40, 30, 60, 200);
    test::writePng(data + QStringLiteral("/blue/extra2.png"), 40, 40, 40, 70, 210);
    auto s = spec("sep", 3);
    s.data = data.toStdString();
    s.shots = 8;   // every amber image, the broken one included, is a training image; one blue image is left to test
    s.baseToNew = false;
    Capture c;
    const auto summary = train::trainRun(s, dir.filePath(QStringLiteral("r")).toStdString(), false, c.hooks());
    QCOMPARE(c.count("broken.png"), 1);
    QVERIFY(summary.accuracy.count("all"));
}

void TestTraining::vanishingClassFolder()
{
    QTemporaryDir dir;
    const QString data = dir.filePath(QStringLiteral("d"));
    test::writeColourFolder(data, {"amber", "blue", "coral"}, 5, 6);
    auto s = spec("coop", 3);
    s.data = data.toStdString();
    s.baseToNew = false;
    s.methodOptions = {{"n_ctx", 4}};
    Capture c;
    Hooks hooks = c.hooks();
    bool removed = false;
    hooks.progress = [&](const ProgressEvent &e) {
        if (!removed && e.what.rfind("epoch 2/", 0) == 0) {
            QDir(data + QStringLiteral("/coral")).removeRecursively();
            removed = true;
        }
    };
    const auto summary = train::trainRun(s, dir.filePath(QStringLiteral("r")).toStdString(), false, hooks);
    QVERIFY(removed);
    QVERIFY2(c.count("coral") > 0, "the vanished images were not reported");
    QVERIFY(summary.accuracy.count("all"));
    const auto eval = readJson(dir.filePath(QStringLiteral("r/eval-all/summary.json")));
    QVERIFY(!eval["unreadable"].empty());
}

void TestTraining::nanLossStopsAndKeepsTheLastGoodCheckpoint()
{
    auto clip = test::tinyClip(m_dir.path().toStdString(), 7);
    torch::manual_seed(1);
    prompt::SepMethod sep(clip, prompt::SepOptions::defaults());
    sep.setClasses({"amber", "blue"});
    std::vector<data::ImageRecord> images;
    for (int i = 0; i < 4; ++i)
        images.push_back({(m_data + QStringLiteral("/%1/%2.png").arg(i % 2 ? QStringLiteral("blue") : QStringLiteral("amber")).arg(i)).toStdString(), i % 2});
    train::TrainOptions o;
    o.epochs = 3;
    o.batchSize = 4;
    QTemporaryDir ck;
    train::Trainer trainer(sep, images, 32, o, 1, ck.path().toStdString());
    train::TrainCallbacks callbacks;
    callbacks.epochDone = [&](const train::EpochRecord &r) {
        if (r.epoch == 1) {
            torch::NoGradGuard g;
            sep.prompts()->ctx.fill_(std::numeric_limits<float>::quiet_NaN());
        }
    };
    try {
        trainer.run(false, {}, callbacks);
        QFAIL("a NaN loss did not stop training");
    } catch (const Error &e) {
        const std::string m = e.what();
        QVERIFY2(m.find("epoch 2") != std::string::npos && m.find("NaN") != std::string::npos, e.what());
        QVERIFY2(m.find("last.safetensors") != std::string::npos, e.what());
    }
    QCOMPARE(train::Trainer::checkpointEpoch(ck.path().toStdString()), int64_t(1));
    const auto saved = io::readSafetensors(train::Trainer::checkpointPath(ck.path().toStdString()));
    QVERIFY(torch::isfinite(saved.at("ctx")).all().item<bool>());
}

void TestTraining::existingRunIsNotOverwritten()
{
    QTemporaryDir runs;
    const std::string dir = runs.filePath(QStringLiteral("r")).toStdString();
    Capture c;
    train::trainRun(spec("zeroshot", 1), dir, false, c.hooks());
    const auto before = readJson(QString::fromStdString(dir + "/summary.json"));
    try {
        train::trainRun(spec("sep", 1), dir, false, c.hooks());
        QFAIL("an existing run was overwritten");
    } catch (const Error &e) {
        QVERIFY(std::string(e.what()).find("--resume") != std::string::npos);
    }
    QCOMPARE(readJson(QString::fromStdString(dir + "/summary.json")), before);
}

void TestTraining::everyRegisteredMethodIsWhatItsEntrySays()
{
    // The registry is the one list of methods: each entry makes a method of its own name, that trains
    // as the entry says, whose options are exactly the entry's and pass its own check.
    auto clip = test::tinyClip(m_dir.path().toStdString(), 9);
    std::set<std::string> names;
    for (const auto &e : prompt::methodRegistry()) {
        QVERIFY2(names.insert(e.name).second, e.name.c_str());
        QVERIFY(!e.title.empty() && !e.description.empty() && !e.presets.empty());
        auto method = e.make(clip, nlohmann::json::object());
        QCOMPARE(method->name(), e.name);
        QCOMPARE(method->trainable(), e.trains);
        const auto options = method->options();
        QCOMPARE(options.size(), e.options.size());
        for (const auto &spec : e.options)
            QVERIFY2(options.contains(spec.key), spec.key.c_str());
        e.checkOptions(options);
        test::expectError([&] { e.checkOptions({{"no_such_option", 1}}); }, {"no_such_option"});
        QCOMPARE(&prompt::methodEntry(e.name), &e);
        for (const auto &p : e.presets) {   // every preset is a valid patch of a run spec
            auto j = spec(e.name, 1).toJson();
            j.merge_patch(p.patch);
            train::RunSpec::fromJson(j, p.title);
        }
    }
    std::vector<std::string> inOrder;
    for (const auto &e : prompt::methodRegistry())
        inOrder.push_back(e.name);
    QCOMPARE(prompt::methodNames(), inOrder);
    test::expectError([] { prompt::methodEntry("cocoop-typo"); }, {"unknown method 'cocoop-typo'", "zeroshot, coop, kgcoop, prograd, sep"});
    QVERIFY(prompt::findMethod("cocoop-typo") == nullptr);
}

void TestTraining::classNamesTravelWithTheRun()
{
    // Through JSON: kept when given, absent (as in every older run.json) when not.
    auto s = spec("zeroshot", 1);
    QVERIFY(!s.toJson().contains("class_names"));
    QVERIFY(train::RunSpec::fromJson(s.toJson(), "test").classNames.empty());
    s.classNames = {{"blue", "sky blue"}, {"dark_green", "forest"}};
    QCOMPARE(train::RunSpec::fromJson(s.toJson(), "test").classNames, s.classNames);
    auto bad = s.toJson();
    bad["class_names"] = nlohmann::json::array({"sky blue"});
    try {
        train::RunSpec::fromJson(bad, "bad.json");
        QFAIL("class names that are not a folder → name object were accepted");
    } catch (const Error &e) {
        QVERIFY2(std::string(e.what()).find("bad.json") != std::string::npos, e.what());
    }

    // A run names its classes with them: plan, evaluations, and evaluating it again.
    QTemporaryDir runs;
    const std::string dir = runs.filePath(QStringLiteral("named")).toStdString();
    Capture c;
    train::trainRun(s, dir, false, c.hooks());
    const auto run = readJson(QString::fromStdString(dir + "/run.json"));
    QCOMPARE(run["plan"]["train_classes"], nlohmann::json({"amber", "sky blue"}));
    QCOMPARE(run["plan"]["test_classes"]["new"], nlohmann::json({"coral", "forest"}));
    QCOMPARE(train::readRunSpec(dir).classNames, s.classNames);
    auto perClass = [&] {
        QStringList names;
        const auto summary = readJson(QString::fromStdString(dir + "/eval-base/summary.json"));
        for (const auto &row : summary["per_class"])
            names << QString::fromStdString(row["class"].get<std::string>());
        return names;
    };
    const QStringList base{QStringLiteral("amber"), QStringLiteral("sky blue")};
    QCOMPARE(perClass(), base);
    QFile::remove(QString::fromStdString(dir + "/eval-base/summary.json"));
    train::evaluateRun(dir, "", "base", 0, c.hooks());
    QCOMPARE(perClass(), base);
    QVERIFY(!QFile::exists(m_data + QStringLiteral("/classnames.txt")));
}

SEP_TEST_MAIN(TestTraining)
#include "test_training.moc"
