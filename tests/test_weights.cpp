// Weight importers: every format a user may bring gives the same model, and every broken file gives
// a message naming the file (and the key) instead of a crash.

#include "engine/clip/weights.h"
#include "engine/core/error.h"
#include "engine/core/runtime.h"
#include "engine/io/safetensors.h"
#include "tests/support/fixtures.h"
#include "tests/support/expect_error.h"
#include "tests/support/test_main.h"

#include <torch/torch.h>

#include <QtTest>

#include <cmath>
#include <fstream>

#include <sys/stat.h>

using namespace sep;
using sep::test::expectError;

namespace {

std::string headsJson(const QTemporaryDir &dir, int64_t textHeads, int64_t visionHeads)
{
    const std::string path = dir.filePath(QStringLiteral("heads.json")).toStdString();
    std::ofstream(path) << "{\"text_config\": {\"num_attention_heads\": " << textHeads
                        << "}, \"vision_config\": {\"num_attention_heads\": " << visionHeads << "}}";
    return path;
}

struct Features {
    at::Tensor image, text;
};

Features features(clip::Model &model)
{
    torch::NoGradGuard noGrad;
    const auto &c = model->config();
    auto ids = torch::zeros({2, c.text.contextLength}, torch::kLong);
    ids[0][0] = c.text.vocabSize - 2, ids[0][1] = 320, ids[0][2] = 236, ids[0][3] = c.text.vocabSize - 1;
    ids[1][0] = c.text.vocabSize - 2, ids[1][1] = 112, ids[1][2] = c.text.vocabSize - 1;
    return {model->encodeImage(test::randomImages(2, c.vision.imageSize, 5)), model->encodeText(ids)};
}

void truncateFile(const std::string &path, double fraction)
{
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    in.close();
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(static_cast<double>(bytes.size()) * fraction));
}

clip::LoadOptions noVocab(const std::string &configPath = {})
{
    clip::LoadOptions o;
    o.loadVocabulary = false;
    o.configPath = configPath;
    return o;
}

} // namespace

class TestWeights : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void allFormatsGiveTheSameModel_data();
    void allFormatsGiveTheSameModel();
    void fp16ArchiveLoadsAsFloat32();
    void headsDefaultToWidthOver64();
    void huggingFaceConfigBesideWeights();
    void exportRoundTrip();
    void badFiles_data();
    void badFiles();
    void missingAndMisshapedKeys();
    void resnetIsRefusedClearly();
    void nonFiniteWeightsAreRefused();
    void shapesBeyondTheBytesAreRefused();
    void configFileIsValidated_data();
    void configFileIsValidated();
    void libTorchErrorsLeaveAsOurs();
    void vocabularyFoundBesideOrAskedFor();

private:
    QTemporaryDir m_dir;
};

void TestWeights::allFormatsGiveTheSameModel_data()
{
    QTest::addColumn<QString>("formatName");
    QTest::newRow("openai-archive-fp32") << QStringLiteral("archive");
    QTest::newRow("state-dict") << QStringLiteral("state");
    QTest::newRow("state-dict-nested-module-prefix") << QStringLiteral("nested");
    QTest::newRow("huggingface-safetensors") << QStringLiteral("hf");
}

void TestWeights::allFormatsGiveTheSameModel()
{
    QFETCH(QString, formatName);
    const std::string format = formatName.toStdString();
    const auto config = test::tinyConfig(1000);
    auto original = test::makeTinyModel(config, 21);
    const auto want = features(original);
    QTemporaryDir dir;
    const std::string path = dir.filePath(formatName).toStdString() + (format == "hf" ? ".safetensors" : ".pt");
    std::string configPath = headsJson(dir, config.text.heads, config.vision.heads);
    if (format == "archive")
        test::writeOpenAiArchive(original, path, false);
    else if (format == "state")
        test::writeStateDict(original, path);
    else if (format == "nested")
        test::writeStateDict(original, path, true, "module.");
    else {
        test::writeHuggingFace(original, path, true);
        configPath.clear();   // found beside the weights
    }
    auto loaded = clip::loadClip(path, noVocab(configPath));
    QVERIFY(loaded.config() == config);
    const auto got = features(loaded.model);
    QVERIFY2(torch::equal(got.image, want.image), "image features differ");
    QVERIFY2(torch::equal(got.text, want.text), "text features differ");
    for (const auto &p : loaded.model->parameters())
        QVERIFY(!p.requires_grad());   // the backbone is frozen
}

void TestWeights::fp16ArchiveLoadsAsFloat32()
{
    const auto config = test::tinyConfig(1000);
    auto original = test::makeTinyModel(config, 22);
    const std::string path = m_dir.filePath(QStringLiteral("half.pt")).toStdString();
    test::writeOpenAiArchive(original, path, true);
    auto loaded = clip::loadClip(path, noVocab(headsJson(m_dir, 2, 2)));
    QVERIFY(loaded.format.find("fp16") != std::string::npos);
    // Every weight equals the original rounded to fp16, held as fp32.
    auto want = original->named_parameters();
    for (auto &p : loaded.model->named_parameters()) {
        QCOMPARE(p.value().scalar_type(), torch::kFloat);
        QVERIFY2(torch::equal(p.value(), want[p.key()].to(torch::kHalf).to(torch::kFloat)), p.key().c_str());
    }
}

void TestWeights::headsDefaultToWidthOver64()
{
    auto config = test::tinyConfig(1000);
    config.vision.width = 128;   // → 2 heads by default
    config.vision.heads = 2;
    config.text.width = 64;      // → 1 head
    config.text.heads = 1;
    config.vision.mlpWidth = 512;
    config.text.mlpWidth = 256;
    auto original = test::makeTinyModel(config, 23);
    const std::string path = m_dir.filePath(QStringLiteral("defaults.pt")).toStdString();
    test::writeStateDict(original, path);
    auto loaded = clip::loadClip(path, noVocab());
    QCOMPARE(loaded.config().vision.heads, int64_t(2));
    QCOMPARE(loaded.config().text.heads, int64_t(1));
    QVERIFY(torch::equal(features(loaded.model).image, features(original).image));
}

void TestWeights::huggingFaceConfigBesideWeights()
{
    // Without config.json, head counts fall back to width/64 (1 here) and features differ from the
    // 2-head original: the file beside the weights is what makes them right.
    const auto config = test::tinyConfig(1000);
    auto original = test::makeTinyModel(config, 24);
    QTemporaryDir dir;
    const std::string path = dir.filePath(QStringLiteral("model.safetensors")).toStdString();
    test::writeHuggingFace(original, path, false);
    auto without = clip::loadClip(path, noVocab());
    QCOMPARE(without.config().vision.heads, int64_t(1));
    QVERIFY(!torch::allclose(features(without.model).image, features(original).image));
    test::writeHuggingFace(original, path, true);
    auto with = clip::loadClip(path, noVocab());
    QCOMPARE(with.config().vision.heads, int64_t(2));
    QVERIFY(torch::equal(features(with.model).image, features(original).image));
}

void TestWeights::exportRoundTrip()
{
    const auto config = test::tinyConfig(1000);
    auto original = test::makeTinyModel(config, 25);
    const std::string path = m_dir.filePath(QStringLiteral("ours.safetensors")).toStdString();
    io::writeSafetensors(path, clip::exportWeights(original));
    auto loaded = clip::loadClip(path, noVocab(headsJson(m_dir, 2, 2)));
    QVERIFY(torch::equal(features(loaded.model).text, features(original).text));
}

void TestWeights::badFiles_data()
{
    QTest::addColumn<QString>("kindName");
    QTest::addColumn<QString>("needle");
    QTest::newRow("zero-byte") << QStringLiteral("empty") << QStringLiteral("empty");
    QTest::newRow("missing") << QStringLiteral("missing") << QStringLiteral("not found");
    QTest::newRow("directory") << QStringLiteral("dir") << QStringLiteral("directory");
    QTest::newRow("truncated-archive") << QStringLiteral("trunc-archive") << QStringLiteral("");
    QTest::newRow("truncated-state-dict") << QStringLiteral("trunc-state") << QStringLiteral("");
    QTest::newRow("truncated-safetensors") << QStringLiteral("trunc-st") << QStringLiteral("truncated");
    QTest::newRow("safetensors-lying-offsets") << QStringLiteral("lying") << QStringLiteral("");
    QTest::newRow("random-bytes") << QStringLiteral("random") << QStringLiteral("not a CLIP weights file");
    QTest::newRow("text-file") << QStringLiteral("text") << QStringLiteral("not a CLIP weights file");
    QTest::newRow("named-pipe") << QStringLiteral("fifo") << QStringLiteral("named pipe");   // would block the open
}

void TestWeights::badFiles()
{
    QFETCH(QString, kindName);
    QFETCH(QString, needle);
    const std::string kind = kindName.toStdString();
    QTemporaryDir dir;
    const std::string path = dir.filePath(QStringLiteral("bad-") + kindName + QStringLiteral(".pt")).toStdString();
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 26);
    if (kind == "empty")
        std::ofstream(path, std::ios::binary);
    else if (kind == "dir")
        QVERIFY(QDir().mkpath(QString::fromStdString(path)));
    else if (kind == "trunc-archive") {
        test::writeOpenAiArchive(model, path, true);
        truncateFile(path, 0.5);
    } else if (kind == "trunc-state") {
        test::writeStateDict(model, path);
        truncateFile(path, 0.7);
    } else if (kind == "trunc-st") {
        test::writeHuggingFace(model, path, false);
        truncateFile(path, 0.9);
    } else if (kind == "lying") {
        // A valid header whose last tensor claims bytes past the end of the file.
        io::writeSafetensors(path, {{"visual.proj", torch::zeros({4, 4})}});
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(f)), {});
        const auto pos = bytes.find("[0,64]");
        QVERIFY(pos != std::string::npos);
        f.seekp(static_cast<std::streamoff>(pos));
        f.write("[0,99]", 6);
    } else if (kind == "random") {
        std::ofstream out(path, std::ios::binary);
        std::mt19937 rng(7);
        for (int i = 0; i < 4096; ++i)
            out.put(static_cast<char>(rng() & 0xff));
    } else if (kind == "fifo") {
        QCOMPARE(::mkfifo(path.c_str(), 0600), 0);
    } else if (kind == "text") {
        std::ofstream(path) << "<html><body>404 Not Found</body></html>\n";
    }
    const std::string fileName = QFileInfo(QString::fromStdString(path)).fileName().toStdString();
    std::vector<std::string> needles = {fileName};
    if (!needle.isEmpty())
        needles.push_back(needle.toStdString());
    expectError([&] { clip::loadClip(path, noVocab()); }, needles);
}

void TestWeights::missingAndMisshapedKeys()
{
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 27);
    auto weights = clip::exportWeights(model);
    const std::string path = m_dir.filePath(QStringLiteral("keys.safetensors")).toStdString();

    auto missing = weights;
    missing.erase("visual.ln_post.weight");
    io::writeSafetensors(path, missing);
    expectError([&] { clip::loadClip(path, noVocab()); }, {"keys.safetensors", "visual.ln_post.weight", "missing"});

    auto misshaped = weights;
    misshaped["text_projection"] = torch::zeros({config.text.width, config.embedDim + 1});
    io::writeSafetensors(path, misshaped);
    expectError([&] { clip::loadClip(path, noVocab()); }, {"keys.safetensors", "text_projection"});

    auto wrongBlock = weights;
    wrongBlock["transformer.resblocks.1.mlp.c_fc.weight"] = torch::zeros({7, config.text.width});
    io::writeSafetensors(path, wrongBlock);
    expectError([&] { clip::loadClip(path, noVocab()); },
                {"keys.safetensors", "transformer.resblocks.1.mlp.c_fc.weight", "[7, 32]"});

    auto integer = weights;
    integer["visual.class_embedding"] = torch::zeros({config.vision.width}, torch::kLong);
    io::writeSafetensors(path, integer);
    expectError([&] { clip::loadClip(path, noVocab()); }, {"visual.class_embedding", "floating point"});
}

void TestWeights::resnetIsRefusedClearly()
{
    const std::string path = m_dir.filePath(QStringLiteral("rn50.safetensors")).toStdString();
    io::writeSafetensors(path, {{"visual.layer1.0.conv1.weight", torch::zeros({64, 64, 1, 1})},
                                {"token_embedding.weight", torch::zeros({10, 8})}});
    expectError([&] { clip::loadClip(path, noVocab()); }, {"rn50.safetensors", "ResNet"});
}

void TestWeights::nonFiniteWeightsAreRefused()
{
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 29);
    auto weights = clip::exportWeights(model);
    const std::string path = m_dir.filePath(QStringLiteral("nan.safetensors")).toStdString();
    for (const double bad : {std::nan(""), double(INFINITY), -double(INFINITY)}) {
        auto broken = weights;
        broken["visual.ln_post.weight"] = broken["visual.ln_post.weight"].clone();
        broken["visual.ln_post.weight"][3] = bad;
        io::writeSafetensors(path, broken);
        expectError([&] { clip::loadClip(path, noVocab(headsJson(m_dir, 2, 2))); },
                    {"nan.safetensors", "visual.ln_post.weight", "1 NaN or infinite value(s)"});
    }
}

void TestWeights::shapesBeyondTheBytesAreRefused()
{
    // An empty tensor may declare any width; built as declared, the model would need terabytes.
    const auto config = test::tinyConfig(1000);
    auto model = test::makeTinyModel(config, 30);
    auto weights = clip::exportWeights(model);
    weights["token_embedding.weight"] = torch::zeros({0, 1000000});
    const std::string path = m_dir.filePath(QStringLiteral("huge.safetensors")).toStdString();
    io::writeSafetensors(path, weights);
    expectError([&] { clip::loadClip(path, noVocab()); }, {"huge.safetensors", "parameters but the file holds"});
}

void TestWeights::configFileIsValidated_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("expected");
    const QString heads = QStringLiteral(R"("num_attention_heads": 2)");
    auto both = [&](const QString &text, const QString &vision) {
        return QStringLiteral(R"({"text_config": {%1}, "vision_config": {%2}})").arg(text, vision);
    };
    QTest::newRow("vision heads missing") << both(heads, QString()) << "'vision_config.num_attention_heads' is missing";
    QTest::newRow("text section missing") << QStringLiteral(R"({"vision_config": {"num_attention_heads": 2}})")
                                          << "has no 'text_config'";
    QTest::newRow("heads as text") << both(QStringLiteral(R"("num_attention_heads": "2")"), heads) << "whole number";
    QTest::newRow("heads zero") << both(heads, QStringLiteral(R"("num_attention_heads": 0)")) << "whole number";
    QTest::newRow("heads do not divide") << both(heads, QStringLiteral(R"("num_attention_heads": 3)")) << "do not divide";
    QTest::newRow("negative eps") << both(heads + QStringLiteral(R"(, "layer_norm_eps": -1e-5)"), heads) << "layer_norm_eps";
    QTest::newRow("eps as text") << both(heads + QStringLiteral(R"(, "layer_norm_eps": "1e-5")"), heads) << "layer_norm_eps";
    QTest::newRow("another model's width") << both(heads + QStringLiteral(R"(, "hidden_size": 512)"), heads)
                                           << "'text_config.hidden_size' is 512 but the weights have 32";
    QTest::newRow("another model's projection") << QStringLiteral(R"({"projection_dim": 512, "text_config": {%1}, "vision_config": {%1}})").arg(heads)
                                                << "'projection_dim' is 512";
    QTest::newRow("unknown activation") << both(heads + QStringLiteral(R"(, "hidden_act": "relu")"), heads) << "relu";
    QTest::newRow("not an object") << QStringLiteral("[1, 2]") << "expected a JSON object";
}

void TestWeights::configFileIsValidated()
{
    QFETCH(QString, json);
    QFETCH(QString, expected);
    const auto config = test::tinyConfig(1000);
    QTemporaryDir dir;
    const std::string weights = dir.filePath(QStringLiteral("model.safetensors")).toStdString();
    auto model = test::makeTinyModel(config, 31);
    io::writeSafetensors(weights, clip::exportWeights(model));
    const std::string configPath = dir.filePath(QStringLiteral("config.json")).toStdString();
    std::ofstream(configPath) << json.toStdString();
    // Given explicitly and found beside the weights alike.
    expectError([&] { clip::loadClip(weights, noVocab(configPath)); }, {"config.json", expected.toStdString()});
    expectError([&] { clip::loadClip(weights, noVocab()); }, {"config.json", expected.toStdString()});
}

void TestWeights::libTorchErrorsLeaveAsOurs()
{
    // A LibTorch error past an entry point: one line naming the file, no C++ backtrace.
    try {
        asEntryPoint("model.pt", [] { return torch::zeros({2, 3}).view({4}); });
        QFAIL("no error");
    } catch (const Error &e) {
        const std::string m = e.what();
        QVERIFY2(m.rfind("model.pt: shape '[4]' is invalid", 0) == 0, m.c_str());
        QVERIFY2(m.find('\n') == std::string::npos && m.find("Exception raised from") == std::string::npos, m.c_str());
    }
    expectError([] { asEntryPoint("run-a", []() -> int { throw std::bad_alloc(); }); }, {"run-a: out of memory", "smaller batch"});
    expectError([] { asEntryPoint("x", []() -> int { throw Error("ours, as it was"); }); }, {"ours, as it was"});
}

void TestWeights::vocabularyFoundBesideOrAskedFor()
{
    QTemporaryDir dir;
    const auto config = test::tinyConfig(49408);
    auto model = test::makeTinyModel(config, 28);
    const std::string path = dir.filePath(QStringLiteral("m.pt")).toStdString();
    test::writeStateDict(model, path);
    clip::LoadOptions opt;
    expectError([&] { clip::loadClip(path, opt); }, {"m.pt", "--vocab"});
    if (!test::hasVocab())
        QSKIP("the CLIP vocabulary is not available (set SEP_CLIP_VOCAB)");
    opt.vocabPath = test::vocabPath().toStdString();
    auto given = clip::loadClip(path, opt);
    QVERIFY(given.tokenizer.has_value());
    QCOMPARE(given.tokenizer->encode("a photo of a", 77)[1], int64_t(320));
    QVERIFY(QFile::copy(test::vocabPath(), dir.filePath(QStringLiteral("bpe_simple_vocab_16e6.txt.gz"))));
    auto beside = clip::loadClip(path, {});
    QVERIFY(beside.vocabPath.find("bpe_simple_vocab_16e6.txt.gz") != std::string::npos);
}

SEP_TEST_MAIN(TestWeights)
#include "test_weights.moc"
