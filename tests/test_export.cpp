// Exported bundles: what the predictor computes equals the evaluator bit for bit, the files follow
// the safetensors format (checked by a reader written here), tampered bundles are refused clearly,
// the Python reference's checkpoints land tensor by tensor, and `sep export` / `sep predict` work end
// to end with their explanation pictures.

#include "engine/clip/image.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/sha256.h"
#include "engine/data/batch.h"
#include "engine/export/bundle.h"
#include "engine/export/explain.h"
#include "engine/export/predictor.h"
#include "engine/export/reference_import.h"
#include "engine/export/run_export.h"
#include "engine/io/safetensors.h"
#include "engine/prompt/coop.h"
#include "engine/prompt/sep_method.h"
#include "engine/train/run.h"
#include "tests/support/fixtures.h"
#include "tests/support/expect_error.h"
#include "tests/support/test_main.h"
#include "tests/support/zip_bytes.h"

#include <caffe2/serialize/inline_container.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <QProcess>
#include <QtTest>

#include <cstring>
#include <sys/stat.h>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace sep;
using sep::test::expectError;

namespace {

std::string bytesOf(const std::string &path) { return readFile(path); }

// An independent safetensors reader: the header by hand, values from raw little-endian bytes.
std::map<std::string, std::vector<float>> readRawF32(const std::string &path, std::map<std::string, std::vector<int64_t>> &shapes)
{
    const std::string bytes = bytesOf(path);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
        n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
    const auto header = nlohmann::json::parse(bytes.substr(8, n));
    std::map<std::string, std::vector<float>> out;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__")
            continue;
        if (it.value()["dtype"] != "F32")
            continue;
        shapes[it.key()] = it.value()["shape"].get<std::vector<int64_t>>();
        const auto off = it.value()["data_offsets"].get<std::vector<uint64_t>>();
        std::vector<float> v((off[1] - off[0]) / 4);
        std::memcpy(v.data(), bytes.data() + 8 + n + off[0], off[1] - off[0]);
        out[it.key()] = v;
    }
    return out;
}

} // namespace

class TestExport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void predictorEqualsEvaluator_data();
    void predictorEqualsEvaluator();
    void bundleFilesFollowTheFormat();
    void tamperedBundlesAreRefused();
    void hostileZipEntriesAreRefused();
    void backboneFoundBesideByChecksum();
    void builtinBackboneFoundWithoutBeingIncluded();
    void baseToNewExportKeepsEveryClass();
    void predictorTakesOtherClasses();
    void classifierOfTextOnlyMethods();
    void referenceCheckpointLandsTensorByTensor();
    void referenceCheckpointErrors();
    void explanationPictureMarksTheSelectedPatches();
    void exportAndPredictFromTheCommandLine();

private:
    std::unique_ptr<prompt::SepMethod> trainedSep(clip::LoadedClip &clip);
    clip::LoadedClip loadTinyClip() const;
    PredictorOptions tinyBackbone() const;   // the tiny model given to a predictor explicitly
    // A SEP run of 2 shots on the colour images, trained in `runDir`; returns runDir.
    std::string trainSepRun(const std::string &runDir, bool baseToNew, int64_t epochs);
    QTemporaryDir m_dir;
    test::ModelFiles m_model;
    std::vector<std::string> m_images;
};

void TestExport::initTestCase()
{
    m_model = test::writeTinyModelFiles(m_dir.path().toStdString(), 3);
    const QString data = m_dir.filePath(QStringLiteral("imgs"));
    test::writeColourFolder(data, {"amber", "blue", "coral"}, 3, 4);
    for (const char *c : {"amber", "blue", "coral"})
        for (int i = 0; i < 3; ++i)
            m_images.push_back((data + QStringLiteral("/%1/%2.png").arg(QLatin1String(c)).arg(i)).toStdString());
}

std::unique_ptr<prompt::SepMethod> TestExport::trainedSep(clip::LoadedClip &clip)
{
    torch::manual_seed(5);
    auto sep = std::make_unique<prompt::SepMethod>(clip, prompt::SepOptions::defaults());
    sep->setClasses({"amber", "blue", "coral"});
    // Stand-in for training: move every learned tensor away from its initial value.
    torch::NoGradGuard g;
    for (auto &p : sep->prompts()->parameters())
        p.add_(torch::randn_like(p) * 0.05);
    sep->prompts()->prototypes.set_data(torch::randn({3, clip.config().embedDim}));
    return sep;
}

clip::LoadedClip TestExport::loadTinyClip() const
{
    clip::LoadOptions load;
    load.vocabPath = m_model.vocab;
    return clip::loadClip(m_model.weights, load);
}

PredictorOptions TestExport::tinyBackbone() const
{
    PredictorOptions po;
    po.weights = m_model.weights;
    po.vocab = m_model.vocab;
    return po;
}

std::string TestExport::trainSepRun(const std::string &runDir, bool baseToNew, int64_t epochs)
{
    train::RunSpec spec;
    spec.data = m_dir.filePath(QStringLiteral("imgs")).toStdString();
    spec.weights = m_model.weights;
    spec.vocab = m_model.vocab;
    spec.device = "cpu";
    spec.method = "sep";
    spec.shots = 2;
    spec.baseToNew = baseToNew;
    spec.train.epochs = epochs;
    spec.train.batchSize = 4;
    train::trainRun(spec, runDir, false, {});
    return runDir;
}

void TestExport::predictorEqualsEvaluator_data()
{
    QTest::addColumn<bool>("zip");
    QTest::addColumn<bool>("include");
    QTest::newRow("directory, backbone included") << false << true;
    QTest::newRow("zip, backbone included") << true << true;
    QTest::newRow("directory, backbone by --weights") << false << false;
}

void TestExport::predictorEqualsEvaluator()
{
    QFETCH(bool, zip);
    QFETCH(bool, include);
    auto clip = loadTinyClip();
    auto sep = trainedSep(clip);
    QTemporaryDir out;
    const std::string path = out.filePath(QStringLiteral("m.sepmodel")).toStdString();
    exporting::ExportOptions o;
    o.zip = zip;
    o.includeBackbone = include;
    exporting::writeBundle(path, *sep, clip, {{"accuracy", 0.5}}, o);

    // The evaluator's path: batch loading, then the method's score, 4 images at a time.
    const auto batch = data::loadBatch(m_images, clip.config().vision.imageSize);
    const auto want = sep->score(batch.pixels).logits;

    const PredictorOptions po = include ? PredictorOptions() : tinyBackbone();
    Predictor predictor(path, po);
    QCOMPARE(predictor.classNames(), sep->classes());
    std::vector<cv::Mat> images;
    for (const auto &p : m_images)
        images.push_back(clip::decodeImage(p));
    const auto got = predictor.classify(images, 2, true);
    for (size_t i = 0; i < got.size(); ++i) {
        const auto row = want[static_cast<int64_t>(i)];
        QVERIFY2(std::equal(got[i].logits.begin(), got[i].logits.end(), row.data_ptr<float>()),
                 qPrintable(QStringLiteral("image %1: logits differ").arg(i)));
        QCOMPARE(got[i].top.size(), size_t(2));
        QCOMPARE(got[i].top[0].index, row.argmax().item<int64_t>());
        QCOMPARE(got[i].selection.layers.size(), size_t(clip.config().vision.layers - 1));
    }
    QCOMPARE(predictor.manifest().metrics["accuracy"].get<double>(), 0.5);
    QCOMPARE(predictor.manifest().method, std::string("sep"));
}

void TestExport::bundleFilesFollowTheFormat()
{
    auto clip = loadTinyClip();
    auto sep = trainedSep(clip);
    QTemporaryDir out;
    const std::string path = out.filePath(QStringLiteral("m.sepmodel")).toStdString();
    exporting::writeBundle(path, *sep, clip, {}, {});
    std::map<std::string, std::vector<int64_t>> shapes;
    const auto raw = readRawF32(path + "/prompt.safetensors", shapes);
    const auto state = sep->state();
    QCOMPARE(raw.size(), state.size());
    for (const auto &[name, t] : state) {
        QVERIFY2(raw.count(name), name.c_str());
        QCOMPARE(shapes.at(name), t.sizes().vec());
        const auto flat = t.contiguous().view({-1});
        QVERIFY2(std::equal(raw.at(name).begin(), raw.at(name).end(), flat.data_ptr<float>()), name.c_str());
    }
    const auto manifest = nlohmann::json::parse(readFile(path + "/manifest.json"));
    QCOMPARE(manifest["format_version"].get<int>(), exporting::kBundleFormat);
    QCOMPARE(manifest["class_names"].get<std::vector<std::string>>(), sep->classes());
    QCOMPARE(manifest["options"]["n_ctx"].get<int>(), 6);
    QCOMPARE(manifest["fusion"].get<std::string>(), std::string("per-sample"));
    QCOMPARE(manifest["backbone"]["sha256"].get<std::string>().size(), size_t(64));
    QVERIFY(!QFileInfo::exists(QString::fromStdString(path + "/backbone")));
    // A bundle is never written over an existing one.
    expectError([&] { exporting::writeBundle(path, *sep, clip, {}, {}); }, {"already exists"});
}

void TestExport::tamperedBundlesAreRefused()
{
    auto clip = loadTinyClip();
    auto sep = trainedSep(clip);
    QTemporaryDir out;
    auto fresh = [&](const char *name, bool include) {
        const std::string p = out.filePath(QLatin1String(name)).toStdString();
        exporting::ExportOptions o;
        o.includeBackbone = include;
        exporting::writeBundle(p, *sep, clip, {}, o);
        return p;
    };
    // Truncated learned tensors.
    {
        const auto p = fresh("truncated.sepmodel", true);
        const auto bytes = readFile(p + "/prompt.safetensors");
        writeFileAtomic(p + "/prompt.safetensors", bytes.substr(0, bytes.size() / 2));
        expectError([&] { Predictor x(p); }, {"prompt.safetensors"});
    }
    // A changed included backbone: its checksum no longer matches.
    {
        const auto p = fresh("checksum.sepmodel", true);
        const std::string weights = p + "/backbone/tiny.safetensors";
        auto t = io::readSafetensors(weights);
        t.begin()->second.add_(1);
        std::remove(weights.c_str());
        io::writeSafetensors(weights, t);
        expectError([&] { Predictor x(p); }, {"checksum", "damaged"});
    }
    // Learned tensors written again with a manifest that vouches for them: what a buggy exporter
    // could produce, so the checks behind the checksum are reached.
    auto rewritePrompt = [](const std::string &p, const TensorMap &t) {
        std::remove((p + "/prompt.safetensors").c_str());
        io::writeSafetensors(p + "/prompt.safetensors", t);
        auto j = nlohmann::json::parse(readFile(p + "/manifest.json"));
        j["files"]["prompt.safetensors"] = sha256File(p + "/prompt.safetensors");
        writeFileAtomic(p + "/manifest.json", j.dump());
    };
    // Learned tensors swapped in from another bundle (same method and shapes): the checksum differs.
    {
        const auto p = fresh("swapped.sepmodel", true);
        const auto other = fresh("donor.sepmodel", true);
        auto t = io::readSafetensors(other + "/prompt.safetensors");
        t.at("ctx").add_(0.5);
        std::remove((other + "/prompt.safetensors").c_str());
        io::writeSafetensors(other + "/prompt.safetensors", t);
        writeFileAtomic(p + "/prompt.safetensors", readFile(other + "/prompt.safetensors"));
        expectError([&] { Predictor x(p); }, {"swapped.sepmodel", "prompt.safetensors", "checksum", "swapped in"});
    }
    // NaN in a learned tensor, and a prompt with no rows at all.
    {
        const auto p = fresh("nan.sepmodel", true);
        auto t = io::readSafetensors(p + "/prompt.safetensors");
        t.at("ctx")[0][0] = std::nan("");
        rewritePrompt(p, t);
        expectError([&] { Predictor x(p); }, {"nan.sepmodel", "'ctx'", "NaN"});
        t.at("ctx") = torch::zeros({0, t.at("ctx").size(1)});
        rewritePrompt(p, t);
        expectError([&] { Predictor x(p); }, {"nan.sepmodel", "'ctx'", "empty"});
    }
    // A renamed tensor.
    {
        const auto p = fresh("renamed.sepmodel", true);
        auto t = io::readSafetensors(p + "/prompt.safetensors");
        t["context"] = t.at("ctx");
        t.erase("ctx");
        rewritePrompt(p, t);
        expectError([&] { Predictor x(p); }, {"'ctx'"});
    }
    // A future format version.
    {
        const auto p = fresh("future.sepmodel", true);
        auto j = nlohmann::json::parse(readFile(p + "/manifest.json"));
        j["format_version"] = 99;
        writeFileAtomic(p + "/manifest.json", j.dump());
        expectError([&] { Predictor x(p); }, {"newer", "99"});
        j["format_version"] = 1e30;   // not to be shown as -2147483648
        writeFileAtomic(p + "/manifest.json", j.dump());
        expectError([&] { Predictor x(p); }, {"format_version", "1e+30", "not a whole number"});
    }
    // Wrong shapes (a bundle of another backbone's width).
    {
        const auto p = fresh("shape.sepmodel", true);
        auto t = io::readSafetensors(p + "/prompt.safetensors");
        t["ctx_visual"] = torch::zeros({4, 7});
        rewritePrompt(p, t);
        expectError([&] { Predictor x(p); }, {"ctx_visual", "shape"});
    }
    // Without its backbone, nowhere to be found; then with weights of the wrong checksum.
    {
        const auto p = fresh("alone.sepmodel", false);
        expectError([&] { Predictor x(p); }, {"needs its backbone", "--weights"});
        const auto other = test::writeTinyModelFiles(out.path().toStdString() + "/..", 99);
        PredictorOptions po;
        po.weights = other.weights;
        po.vocab = other.vocab;
        expectError([&] { Predictor x(p, po); }, {"checksum", "--trust-weights"});
    }
    // A zip cut in half, and an empty one.
    {
        const std::string p = out.filePath(QStringLiteral("cut.sepmodel")).toStdString();
        exporting::ExportOptions o;
        o.zip = true;
        exporting::writeBundle(p, *sep, clip, {}, o);
        const auto bytes = readFile(p);
        writeFileAtomic(p, bytes.substr(0, bytes.size() / 2));
        expectError([&] { Predictor x(p); }, {"cut.sepmodel"});
        writeFileAtomic(p, "");
        expectError([&] { Predictor x(p); }, {"empty"});
        std::remove(p.c_str());
        QCOMPARE(::mkfifo(p.c_str(), 0600), 0);   // would block the checksum's read forever
        expectError([&] { Predictor x(p); }, {"cut.sepmodel", "named pipe"});
    }
}

void TestExport::hostileZipEntriesAreRefused()
{
    QTemporaryDir out, cache;
    qputenv("XDG_CACHE_HOME", cache.path().toUtf8());
    const std::string victim = out.filePath(QStringLiteral("victim.txt")).toStdString();
    const QString bundles = cache.filePath(QStringLiteral("sep-studio/bundles"));
    // The zip writer puts every entry under "<stem>/" and the reader strips that again, so an entry
    // written as "/abs/path" reads back as the absolute path, as in a crafted archive.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {victim, "an absolute path"},
        {"../../victim.txt", "'..'"},
        {"prompt/../../../victim.txt", "'..'"},
        {"a\\..\\..\\victim.txt", "backslash"},
    };
    for (const auto &[entry, why] : cases) {
        const std::string p = out.filePath(QStringLiteral("hostile.sepmodel")).toStdString();
        {
            caffe2::serialize::PyTorchStreamWriter writer(p);
            const std::string manifest = "{}", payload = "overwritten";
            writer.writeRecord("manifest.json", manifest.data(), manifest.size());
            writer.writeRecord(entry, payload.data(), payload.size());
            writer.writeEndOfFile();
        }
        expectError([&] { exporting::readBundle(p); }, {"hostile.sepmodel", why, "refused"});
        QVERIFY2(!QFileInfo::exists(QString::fromStdString(victim)), entry.c_str());
        QVERIFY2(!QFileInfo::exists(out.filePath(QStringLiteral("../victim.txt"))), entry.c_str());
        // Nothing half-unpacked is left in the cache.
        const QStringList left = QDir(bundles).entryList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::Hidden);
        QVERIFY2(left.isEmpty(), qPrintable(left.join(QLatin1Char(' '))));
    }
    // An entry that declares 4 GB in a small file is refused before anything is allocated or written.
    {
        const std::string p = out.filePath(QStringLiteral("declares.sepmodel")).toStdString();
        {
            caffe2::serialize::PyTorchStreamWriter writer(p);
            const std::string manifest = "{}";
            writer.writeRecord("manifest.json", manifest.data(), manifest.size());
            writer.writeEndOfFile();
        }
        std::string bytes = readFile(p);
        QVERIFY(test::setDeclaredSize(bytes, "declares/manifest.json", 0xFFFFFFFF));
        writeFileAtomic(p, bytes);
        expectError([&] { exporting::readBundle(p); }, {"declares.sepmodel", "'declares/manifest.json'", "4294967295"});
        QVERIFY(!QFileInfo::exists(bundles) || QDir(bundles).isEmpty());
    }
    qunsetenv("XDG_CACHE_HOME");
}

void TestExport::backboneFoundBesideByChecksum()
{
    QTemporaryDir out;
    const auto files = test::writeTinyModelFiles(out.path().toStdString(), 3);   // same weights, other folder
    clip::LoadOptions load;
    load.vocabPath = files.vocab;
    auto clip = clip::loadClip(files.weights, load);
    auto sep = trainedSep(clip);
    const std::string path = out.filePath(QStringLiteral("m.sepmodel")).toStdString();
    exporting::writeBundle(path, *sep, clip, {}, {});
    // Renamed, the backbone is still found by its checksum.
    QVERIFY(QFile::rename(QString::fromStdString(files.weights), out.filePath(QStringLiteral("renamed.safetensors"))));
    const auto bundle = exporting::readBundle(path);
    QCOMPARE(QFileInfo(QString::fromStdString(exporting::resolveBackbone(bundle, {}))).fileName(), QStringLiteral("renamed.safetensors"));
}

void TestExport::builtinBackboneFoundWithoutBeingIncluded()
{
    // A bundle tuned on the built-in model runs with nothing beside it: the suggested command works.
    QTemporaryDir builtin, out;
    QVERIFY(QFile::copy(QString::fromStdString(m_model.weights), builtin.filePath(QStringLiteral("model.safetensors"))));
    QVERIFY(QFile::copy(QString::fromStdString(m_model.vocab), builtin.filePath(QStringLiteral("merges.txt"))));
    clip::LoadOptions load;
    load.vocabPath = builtin.filePath(QStringLiteral("merges.txt")).toStdString();
    auto clip = clip::loadClip(builtin.filePath(QStringLiteral("model.safetensors")).toStdString(), load);
    auto sep = trainedSep(clip);
    const std::string path = out.filePath(QStringLiteral("m.sepmodel")).toStdString();
    exporting::writeBundle(path, *sep, clip, {}, {});
    qputenv("SEP_BUILTIN_MODEL", builtin.path().toUtf8());
    const auto bundle = exporting::readBundle(path);
    QCOMPARE(QString::fromStdString(exporting::resolveBackbone(bundle, {})), builtin.filePath(QStringLiteral("model.safetensors")));
    Predictor predictor(path);
    QCOMPARE(predictor.classNames(), sep->classes());
    // Another built-in model (retrained since) is not taken for it.
    qputenv("SEP_BUILTIN_MODEL", m_dir.path().toUtf8() + "/nowhere");
    expectError([&] { exporting::resolveBackbone(bundle, {}); }, {"needs its backbone"});
    qunsetenv("SEP_BUILTIN_MODEL");
}

void TestExport::baseToNewExportKeepsEveryClass()
{
    // A base-to-new run tunes on amber and blue; coral is new. Its bundle must know coral too.
    QTemporaryDir out;
    const std::string run = trainSepRun(out.filePath(QStringLiteral("run")).toStdString(), true, 1);
    const std::vector<std::string> base = {"amber", "blue"}, all = {"amber", "blue", "coral"};
    QCOMPARE(exporting::runClasses(run).trained, base);

    const std::string allPath = out.filePath(QStringLiteral("all.sepmodel")).toStdString();
    const auto written = exporting::exportRun(run, allPath, {});
    QCOMPARE(written.classes, all);
    QCOMPARE(written.added, std::vector<std::string>{"coral"});
    const auto manifest = exporting::readBundle(allPath).manifest;
    QCOMPARE(manifest.classNames, all);
    QCOMPARE(manifest.trainedClasses, base);
    QCOMPARE(manifest.addedClasses(), std::vector<std::string>{"coral"});

    exporting::RunExportOptions baseOnly;
    baseOnly.trainedClassesOnly = true;
    const std::string basePath = out.filePath(QStringLiteral("base.sepmodel")).toStdString();
    QCOMPARE(exporting::exportRun(run, basePath, baseOnly).classes, base);

    // Per-sample fusion scores each class on its own: the base columns of the all-class bundle equal
    // the base-only bundle's logits, class by class.
    const PredictorOptions po = tinyBackbone();
    Predictor withAll(allPath, po), withBase(basePath, po);
    for (const auto &image : {m_images[0], m_images[4], m_images[8]}) {
        const auto a = withAll.classifyFile(image, 3), b = withBase.classifyFile(image, 2);
        QCOMPARE(a.logits.size(), size_t(3));
        for (size_t k = 0; k < 2; ++k)
            QVERIFY2(std::abs(a.logits[k] - b.logits[k]) <= 1e-5f * std::max(1.0f, std::abs(b.logits[k])), image.c_str());
    }

    // Extra classes from a file; a list with a name twice is refused by line.
    const QString extra = out.filePath(QStringLiteral("extra.txt"));
    QFile f(extra);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("  dandelion \n\ncoral\n");
    f.close();
    exporting::RunExportOptions more;
    more.extraClasses = exporting::readClassNames(extra.toStdString());
    const auto grown = exporting::exportRun(run, out.filePath(QStringLiteral("more.sepmodel")).toStdString(), more);
    QCOMPARE(grown.classes, (std::vector<std::string>{"amber", "blue", "coral", "dandelion"}));
    QCOMPARE(grown.added, (std::vector<std::string>{"coral", "dandelion"}));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("dandelion\ncoral\ndandelion\n");
    f.close();
    expectError([&] { exporting::readClassNames(extra.toStdString()); }, {"class 3 ('dandelion') appears twice"});
}

void TestExport::predictorTakesOtherClasses()
{
    auto clip = loadTinyClip();
    auto sep = trainedSep(clip);
    QTemporaryDir out;
    const std::string path = out.filePath(QStringLiteral("m.sepmodel")).toStdString();
    exporting::writeBundle(path, *sep, clip, {}, {});
    const PredictorOptions po = tinyBackbone();
    Predictor predictor(path, po);
    const auto before = predictor.classifyFile(m_images[0], 3);
    // Reordered and one replaced: the kept classes keep their logits, wherever they now stand.
    predictor.setClasses({"coral", "dandelion", "amber"});
    QCOMPARE(predictor.classNames(), (std::vector<std::string>{"coral", "dandelion", "amber"}));
    const auto after = predictor.classifyFile(m_images[0], 3);
    QCOMPARE(after.logits.size(), size_t(3));
    QVERIFY(std::abs(after.logits[0] - before.logits[2]) < 1e-5f);
    QVERIFY(std::abs(after.logits[2] - before.logits[0]) < 1e-5f);
    QCOMPARE(after.top.front().name, predictor.classNames()[static_cast<size_t>(after.top.front().index)]);
    expectError([&] { predictor.setClasses({}); }, {"holds no class names"});
    expectError([&] { predictor.setClasses({"amber", " "}); }, {"class 2 has an empty name"});
    expectError([&] { predictor.setClasses({"amber", "amber"}); }, {"appears twice"});
    QCOMPARE(predictor.classNames().size(), size_t(3));   // a refused list changes nothing
}

void TestExport::classifierOfTextOnlyMethods()
{
    auto clip = test::tinyClip(m_dir.path().toStdString(), 6);
    torch::manual_seed(2);
    prompt::CoOp coop(clip, {4, 0.02, ""});
    coop.setClasses({"amber", "blue", "coral"});
    QTemporaryDir out;
    exporting::writeClassifier(out.path().toStdString(), coop);
    const auto t = io::readSafetensors(out.filePath(QStringLiteral("classifier.safetensors")).toStdString());
    const auto w = t.at("classifier");
    QCOMPARE(w.sizes().vec(), (std::vector<int64_t>{3, clip.config().embedDim}));
    // Any image feature of the same backbone, against these rows, gives CoOp's logits.
    const auto images = test::randomImages(2, 32, 8);
    torch::NoGradGuard g;
    auto f = clip.model->encodeImage(images);
    f = f / f.norm(2, -1, true);
    const auto logits = clip.model->logit_scale.exp() * torch::matmul(f, w.t());
    QVERIFY(torch::allclose(logits, coop.score(images).logits, 1e-5, 1e-5));
    QCOMPARE(readFile(out.filePath(QStringLiteral("classes.txt")).toStdString()), std::string("amber\nblue\ncoral\n"));
    auto sep = trainedSep(clip);
    expectError([&] { exporting::writeClassifier(out.path().toStdString(), *sep); }, {"sep", "bundle"});
}

void TestExport::referenceCheckpointLandsTensorByTensor()
{
    auto clip = test::tinyClip(m_dir.path().toStdString(), 7);
    const auto &c = clip.config();
    // A checkpoint as the released code saves it: reference key names, fp16 here and there, the
    // unused modules and caches beside, under "state_dict" with "module." prefixes.
    torch::manual_seed(9);
    std::map<std::string, at::Tensor> ref;
    ref["ctx"] = torch::randn({6, c.text.width});
    ref["ctx_visual"] = torch::randn({4, c.vision.width}).to(torch::kHalf);
    auto fusion = [&](const std::string &prefix, int64_t d, int64_t count) {
        for (int64_t i = 0; i < count; ++i) {
            const std::string p = prefix + std::to_string(i) + ".";
            ref[p + "scale1"] = torch::rand({1});
            ref[p + "scale2"] = torch::rand({1});
            for (const char *ln : {"ln_pa_1_visual", "ln_pa_2_visual", "ln_pa_1_token"}) {
                ref[p + ln + ".weight"] = torch::randn({d});
                ref[p + ln + ".bias"] = torch::randn({d});
            }
            ref[p + "promt_attention_visual.in_proj_weight"] = torch::randn({3 * d, d});
            ref[p + "promt_attention_visual.in_proj_bias"] = torch::randn({3 * d});
            ref[p + "promt_attention_visual.out_proj.weight"] = torch::randn({d, d});
            ref[p + "promt_attention_visual.out_proj.bias"] = torch::randn({d});
            ref[p + "mlp_pa_visual.c_fc1.weight"] = torch::randn({256, d});
            ref[p + "mlp_pa_visual.c_proj.weight"] = torch::randn({d, 256});
        }
    };
    fusion("prompt_projections.", c.text.width, c.text.layers);   // the last one is stored but unused
    fusion("visual_prompts.", c.vision.width, c.vision.layers);
    ref["VPT_fc.weight"] = torch::randn({3, c.embedDim});
    ref["token_prefix"] = torch::randn({3, 1, c.text.width});
    ref["meta_net_.linear1.weight"] = torch::randn({8, 8});
    c10::Dict<std::string, at::Tensor> dict;
    for (const auto &[k, v] : ref)
        dict.insert("module." + k, v);
    c10::impl::GenericDict outer(c10::StringType::get(), c10::AnyType::get());
    outer.insert("state_dict", dict);
    outer.insert("epoch", 50);
    QTemporaryDir out;
    const std::string path = out.filePath(QStringLiteral("model.pth.tar-50")).toStdString();
    const auto bytes = torch::pickle_save(outer);
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

    auto sep = exporting::importReference(path, clip, {"amber", "blue", "coral"}, "a photo of a {}.");
    QCOMPARE(sep->sepOptions().fusion, prompt::Fusion::Reference);
    QCOMPARE(sep->sepOptions().nCtx, int64_t(6));
    const auto state = sep->state();
    auto same = [&](const std::string &engine, const std::string &reference) {
        QVERIFY2(torch::equal(state.at(engine), ref.at(reference).to(torch::kFloat).reshape(state.at(engine).sizes())),
                 (engine + " ≠ " + reference).c_str());
    };
    same("ctx", "ctx");
    same("ctx_visual", "ctx_visual");
    same("prototypes", "VPT_fc.weight");
    const std::vector<std::pair<std::string, std::string>> parts = {
        {"scale1", "scale1"}, {"scale2", "scale2"}, {"ln1.weight", "ln_pa_1_visual.weight"}, {"ln1.bias", "ln_pa_1_visual.bias"},
        {"ln2.weight", "ln_pa_2_visual.weight"}, {"ln2.bias", "ln_pa_2_visual.bias"},
        {"in_proj_weight", "promt_attention_visual.in_proj_weight"}, {"in_proj_bias", "promt_attention_visual.in_proj_bias"},
        {"out_proj.weight", "promt_attention_visual.out_proj.weight"}, {"out_proj.bias", "promt_attention_visual.out_proj.bias"},
        {"fc1.weight", "mlp_pa_visual.c_fc1.weight"}, {"fc2.weight", "mlp_pa_visual.c_proj.weight"}};
    for (int64_t i = 0; i + 1 < c.text.layers; ++i)
        for (const auto &[e, r] : parts)
            same("text_fusion." + std::to_string(i) + "." + e, "prompt_projections." + std::to_string(i) + "." + r);
    for (int64_t i = 0; i + 1 < c.vision.layers; ++i)
        for (const auto &[e, r] : parts)
            same("image_fusion." + std::to_string(i) + "." + e, "visual_prompts." + std::to_string(i) + "." + r);
}

void TestExport::referenceCheckpointErrors()
{
    auto clip = test::tinyClip(m_dir.path().toStdString(), 7);
    QTemporaryDir out;
    const std::string path = out.filePath(QStringLiteral("bad.pth.tar-1")).toStdString();
    auto save = [&](const std::map<std::string, at::Tensor> &m) {
        c10::Dict<std::string, at::Tensor> dict;
        for (const auto &[k, v] : m)
            dict.insert(k, v);
        const auto bytes = torch::pickle_save(dict);
        std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    };
    save({{"ctx", torch::zeros({6, 32})}});
    expectError([&] { exporting::importReference(path, clip, {"a"}, "{}"); }, {"bad.pth.tar-1", "ctx_visual", "missing"});
    save({{"ctx", torch::zeros({6, 512})}, {"ctx_visual", torch::zeros({4, 64})}});
    expectError([&] { exporting::importReference(path, clip, {"a"}, "{}"); }, {"prompt_projections.0"});
}

void TestExport::explanationPictureMarksTheSelectedPatches()
{
    cv::Mat rgb(64, 64, CV_8UC3, cv::Scalar(128, 128, 128));
    prompt::ImageSelection sel;
    prompt::ImageLayerSelection layer;
    layer.block = 1;
    layer.tokens = {1 + 2 * 4 + 3, 0};   // patch (row 2, column 3) first, then [CLS]
    layer.scores = {2.0f, 1.0f};
    sel.layers = {layer, layer};
    const cv::Mat pic = exporting::explainPicture(rgb, sel, 32, 4, "test", 96);
    QVERIFY(pic.cols > 2 * 96 && pic.rows > 96);
    // The tile of the first block starts at (6, 30 + 22); the rank-1 outline is red (BGR 40, 40, 255)
    // on the top edge of the patch at column 3, row 2 (each patch 24 px).
    const cv::Vec3b edge = pic.at<cv::Vec3b>(30 + 22 + 2 * 24, 6 + 3 * 24 + 12);
    QVERIFY2(edge[2] > 200 && edge[1] < 80 && edge[0] < 80, "the best patch is not outlined in red");
    const cv::Vec3b inside = pic.at<cv::Vec3b>(30 + 22 + 24 + 12, 6 + 12);   // an unselected patch keeps the dimmed grey
    QVERIFY(std::abs(int(inside[0]) - int(inside[2])) < 10);
    // [CLS] (rank 2) is a labelled badge in the tile's corner, in rank 2's orange, not a frame.
    const cv::Vec3b badge = pic.at<cv::Vec3b>(30 + 22 + 4, 6 + 4);
    QVERIFY2(badge[2] > 200 && badge[1] > 100 && badge[0] < 60, "no [CLS] badge in the corner");
    const cv::Vec3b side = pic.at<cv::Vec3b>(30 + 22 + 60, 6 + 1);   // the tile's left edge, low down: no frame
    QVERIFY(std::abs(int(side[0]) - int(side[2])) < 10);
    // The legend under the grid shows the rank-1 colour (a red swatch) in its last rows.
    bool redSwatch = false;
    for (int y = pic.rows - 40; y < pic.rows; ++y)
        for (int x = 0; x < pic.cols; ++x) {
            const cv::Vec3b c = pic.at<cv::Vec3b>(y, x);
            redSwatch |= c[2] > 230 && c[1] < 70 && c[0] < 70;
        }
    QVERIFY2(redSwatch, "no legend of the selection ranks");

    // The heat map lies over the image in grey: at opacity 0, a coloured image comes out grey.
    cv::Mat coloured(32, 32, CV_8UC3, cv::Scalar(200, 30, 30));
    std::vector<float> weights(16, 0.5f);
    const cv::Mat plain = exporting::attentionTile(coloured, weights, 4, 64, 0.0);
    const cv::Vec3b p = plain.at<cv::Vec3b>(10, 10);
    QVERIFY(p[0] == p[1] && p[1] == p[2]);
    const cv::Mat full = exporting::attentionTile(coloured, weights, 4, 64, 1.0);
    const cv::Mat bar = exporting::attentionColourBar(256, 1);
    QCOMPARE(full.at<cv::Vec3b>(10, 10), bar.at<cv::Vec3b>(0, 255));   // every weight is the maximum: the hottest colour
}

void TestExport::exportAndPredictFromTheCommandLine()
{
    QTemporaryDir out;
    const std::string run = trainSepRun(out.filePath(QStringLiteral("run")).toStdString(), false, 2);
    const QString bundle = out.filePath(QStringLiteral("x.sepmodel")), explain = out.filePath(QStringLiteral("why"));
    QProcess p;
    p.start(QStringLiteral(SEP_CLI_PATH), {QStringLiteral("export"), QStringLiteral("--run"), QString::fromStdString(run),
                                           QStringLiteral("--out"), bundle, QStringLiteral("--include-backbone")});
    QVERIFY(p.waitForFinished(120000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    p.start(QStringLiteral(SEP_CLI_PATH), {QStringLiteral("predict"), QStringLiteral("--model"), bundle,
                                           QString::fromStdString(m_images[0]), QString::fromStdString(m_images[4]),
                                           QStringLiteral("--json"), QStringLiteral("--explain"), explain,
                                           QStringLiteral("--cls-attention")});
    QVERIFY(p.waitForFinished(120000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
    QCOMPARE(j["results"].size(), size_t(2));
    QCOMPARE(j["results"][0]["logits"].size(), size_t(3));
    const std::string picture = j["results"][1]["explanation"].get<std::string>();
    const cv::Mat png = cv::imread(picture);
    QVERIFY2(!png.empty() && png.cols > 200, picture.c_str());
    QCOMPARE(QFileInfo(QString::fromStdString(picture)).fileName(), QStringLiteral("1-explained.png"));

    // Again into the same folder, with other classes: no explanation is overwritten, and the
    // logits of the classes kept are the same.
    const QString classes = out.filePath(QStringLiteral("classes.txt"));
    QFile f(classes);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("coral\nsilver\n");
    f.close();
    p.start(QStringLiteral(SEP_CLI_PATH), {QStringLiteral("predict"), QStringLiteral("--model"), bundle,
                                           QString::fromStdString(m_images[4]), QStringLiteral("--classes"), classes,
                                           QStringLiteral("--json"), QStringLiteral("--explain"), explain});
    QVERIFY(p.waitForFinished(120000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    const auto other = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
    QCOMPARE(other["classes"], nlohmann::json({"coral", "silver"}));
    QCOMPARE(other["results"][0]["logits"].size(), size_t(2));
    QVERIFY(std::abs(other["results"][0]["logits"][0].get<float>() - j["results"][1]["logits"][2].get<float>()) < 1e-5f);
    QCOMPARE(QFileInfo(QString::fromStdString(other["results"][0]["explanation"].get<std::string>())).fileName(),
             QStringLiteral("1-explained-2.png"));
    QVERIFY(QFileInfo::exists(QString::fromStdString(picture)));
    // The same images through the run's own evaluation give the same logits.
    Predictor predictor(bundle.toStdString());
    const auto again = predictor.classifyFile(m_images[0], 3);
    for (size_t k = 0; k < 3; ++k)
        QCOMPARE(again.logits[k], j["results"][0]["logits"][k].get<float>());

    // The example program (engine only) names the same top class with the same probability.
    p.start(QStringLiteral(SEP_EXAMPLE_CLASSIFY), {bundle, QString::fromStdString(m_images[0])});
    QVERIFY(p.waitForFinished(120000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    const QString printed = QString::fromUtf8(p.readAllStandardOutput());
    const auto &top = j["results"][0]["top"][0];
    const QString expected = QStringLiteral("%1%  %2").arg(100.0 * top["probability"].get<double>(), 5, 'f', 1)
                                 .arg(QString::fromStdString(top["class"].get<std::string>()));
    QVERIFY2(printed.contains(expected), qPrintable(printed + QStringLiteral(" lacks ") + expected));
}

SEP_TEST_MAIN(TestExport)
#include "test_export.moc"
