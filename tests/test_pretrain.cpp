// The built-in model's making: the BPE learner on hand-worked corpora, the captions, and a short
// contrastive pretraining run that lowers its loss and writes a model folder every command loads.

#include "engine/clip/bpe_learner.h"
#include "engine/clip/tokenizer.h"
#include "engine/clip/weights.h"
#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/pretrain/pairs.h"
#include "engine/pretrain/pretrain.h"
#include "tests/support/expect_error.h"
#include "tests/support/fixtures.h"
#include "tests/support/test_main.h"

#include <torch/torch.h>

#include <QtTest>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace sep;

class TestPretrain : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void bpeMergesTheMostFrequentPair();
    void bpeBreaksTiesByText();
    void learnedMergesTokenizeAsLearned();
    void captionsHoldTheDownstreamTemplate();
    void heldOutStylesAreNeverRead();
    void shortRunLowersTheLossAndWritesAModel();
};

void TestPretrain::bpeMergesTheMostFrequentPair()
{
    // "ab" ×3 and "abc": pairs (a, b</w>) 3, (a, b) 1, (b, c</w>) 1. Only the first occurs twice.
    clip::BpeLearner learner;
    learner.add("ab ab ab abc");
    const auto merges = learner.learn(10);
    QCOMPARE(merges.size(), size_t(1));
    QCOMPARE(merges[0].first, std::string("a"));
    QCOMPARE(merges[0].second, std::string("b</w>"));
}

void TestPretrain::bpeBreaksTiesByText()
{
    // (z, w</w>) and (x, y</w>) both occur twice: the pair whose text sorts first merges first.
    clip::BpeLearner learner;
    learner.add("zw xy zw xy");
    const auto merges = learner.learn(10);
    QCOMPARE(merges.size(), size_t(2));
    QCOMPARE(merges[0].first + " " + merges[0].second, std::string("x y</w>"));
    QCOMPARE(merges[1].first + " " + merges[1].second, std::string("z w</w>"));
}

void TestPretrain::learnedMergesTokenizeAsLearned()
{
    // "low" ×4, "lower" ×2: (l, o) 6 → "lo"; (lo, w</w>) 4 → "low</w>"; then (lo, w), (w, e) and
    // (e, r</w>) all occur twice: "e r</w>" sorts first; then (lo, w) and (w, er</w>) tie: "lo w".
    clip::BpeLearner learner;
    learner.add("low low low low lower lower");
    const auto merges = learner.learn(4);
    QCOMPARE(merges.size(), size_t(4));
    QCOMPARE(merges[0].first + " " + merges[0].second, std::string("l o"));
    QCOMPARE(merges[1].first + " " + merges[1].second, std::string("lo w</w>"));
    QCOMPARE(merges[2].first + " " + merges[2].second, std::string("e r</w>"));
    QCOMPARE(merges[3].first + " " + merges[3].second, std::string("lo w"));
    QTemporaryDir dir;
    const std::string path = dir.filePath(QStringLiteral("merges.txt")).toStdString();
    clip::writeMergesFile(path, merges);
    const auto tok = clip::Tokenizer::fromMergesFile(path, 514 + 4);
    // Ids: 0–511 bytes (with and without </w>), then the merges in order: lo 512, low</w> 513, er</w> 514, low 515.
    QCOMPARE(tok.encodeIds("low"), (std::vector<int64_t>{513}));
    QCOMPARE(tok.encodeIds("lower"), (std::vector<int64_t>{515, 514}));
    QCOMPARE(tok.sotId(), int64_t(516));
    QCOMPARE(tok.eotId(), int64_t(517));
}

void TestPretrain::captionsHoldTheDownstreamTemplate()
{
    const auto c = pretrain::emojiCaptions("red apple", "food & drink", "food-fruit", {"apple", "fruit", "red"});
    QVERIFY(std::find(c.begin(), c.end(), "a photo of a red apple.") != c.end());
    QVERIFY(std::find(c.begin(), c.end(), "red apple, food fruit") != c.end());
    QVERIFY(std::find(c.begin(), c.end(), "red apple, apple, fruit, red") != c.end());
    for (const auto &caption : c)
        QVERIFY2(caption.find("red apple") != std::string::npos, caption.c_str());
}

namespace {

// A miniature of the demo data: colour "emoji" in three styles, and a manifest line per image.
void writeMiniDemoData(const QString &root, int classes)
{
    QDir().mkpath(root + QStringLiteral("/emoji"));
    std::ofstream out((root + QStringLiteral("/emoji/manifest.jsonl")).toStdString());
    const char *styles[] = {"flat", "glossy", "outline"};
    const char *names[] = {"red circle", "green square", "blue star", "yellow moon", "purple heart", "orange fish",
                           "black cat", "white cloud"};
    for (int c = 0; c < classes; ++c)
        for (int s = 0; s < 3; ++s) {
            const QString dir = root + QStringLiteral("/emoji/") + QString::fromUtf8(names[c]);
            QDir().mkpath(dir);
            const QString file = dir + QLatin1Char('/') + QLatin1String(styles[s]) + QStringLiteral(".png");
            test::writePng(file, 40, 40, (c * 90 + s * 20) % 256, (c * 50 + 30) % 256, (c * 130 + s * 40) % 256);
            nlohmann::json j = {{"path", std::string(names[c]) + "/" + styles[s] + ".png"},
                                {"class", names[c]},
                                {"style", styles[s]},
                                {"category", "test"},
                                {"subcategory", "colours"},
                                {"keywords", {std::string(names[c]).substr(0, std::string(names[c]).find(' '))}}};
            out << j.dump() << "\n";
        }
}

} // namespace

void TestPretrain::heldOutStylesAreNeverRead()
{
    QTemporaryDir dir;
    writeMiniDemoData(dir.path(), 4);
    const auto set = pretrain::readPairs(dir.path().toStdString(), {"outline"}, false);
    QCOMPARE(set.pairs.size(), size_t(8));
    QCOMPARE(set.styles, (std::set<std::string>{"flat", "glossy"}));
    for (const auto &p : set.pairs)
        QVERIFY2(p.path.find("outline") == std::string::npos, p.path.c_str());
    QCOMPARE(pretrain::readStyle(dir.path().toStdString(), "outline").size(), size_t(4));
    QVERIFY_THROWS_EXCEPTION(Error, pretrain::readPairs(dir.filePath(QStringLiteral("nothing")).toStdString(), {}, true));
}

void TestPretrain::shortRunLowersTheLossAndWritesAModel()
{
    QTemporaryDir dir;
    writeMiniDemoData(dir.path(), 8);
    pretrain::PretrainOptions o;
    o.data = dir.path().toStdString();
    o.out = dir.filePath(QStringLiteral("model")).toStdString();
    o.holdOutStyles = "outline";
    o.evalStyle = "outline";
    o.imageSize = 32;
    o.visionWidth = 64;
    o.visionLayers = 2;
    o.textWidth = 64;
    o.textLayers = 2;
    o.embedDim = 32;
    o.contextLength = 16;
    o.merges = 40;
    o.epochs = 12;
    o.batchSize = 8;
    o.warmupSteps = 4;
    o.lr = 3e-3;
    const auto result = pretrain::pretrain(o, false, {});
    std::ifstream metrics(o.out + "/metrics.csv");
    std::string line;
    std::getline(metrics, line);   // header
    std::vector<double> losses;
    while (std::getline(metrics, line))
        losses.push_back(std::stod(line.substr(line.find(',', line.find(',') + 1) + 1)));
    QCOMPARE(losses.size(), size_t(12));
    QVERIFY2(losses.back() < 0.8 * losses.front(),
             qPrintable(QStringLiteral("loss %1 → %2").arg(losses.front()).arg(losses.back())));
    QCOMPARE(result.epochs, int64_t(12));

    // The folder loads like any CLIP weights, vocabulary and heads found beside them.
    const auto clip = clip::loadClip(o.out + "/model.safetensors");
    QCOMPARE(clip.config().vision.imageSize, int64_t(32));
    QCOMPARE(clip.config().text.vocabSize, clip.tokenizer->vocabSize());
    QVERIFY(clip.format.find("fp16") != std::string::npos);
    QVERIFY(QFile::exists(QString::fromStdString(o.out + "/provenance.json")));

    // A finished folder is not overwritten without --resume.
    QVERIFY_THROWS_EXCEPTION(Error, pretrain::pretrain(o, false, {}));

    // A checkpoint without its epoch, or with a NaN weight, is refused by name on resume.
    const std::string checkpoint = o.out + "/checkpoint.safetensors";
    auto state = io::readSafetensors(checkpoint);
    io::writeSafetensors(checkpoint, state, {{"epoch", "twelve"}});
    sep::test::expectError([&] { pretrain::pretrain(o, true, {}); }, {"checkpoint.safetensors", "'epoch'"});
    state.at("logit_scale").fill_(std::nan(""));
    io::writeSafetensors(checkpoint, state, {{"epoch", "12"}});
    sep::test::expectError([&] { pretrain::pretrain(o, true, {}); }, {"checkpoint.safetensors", "logit_scale", "NaN"});
}

SEP_TEST_MAIN(TestPretrain)
#include "test_pretrain.moc"
