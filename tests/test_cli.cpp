// The `sep` command line end to end, on a tiny model and small generated folders: the files it writes
// hold what the engine computes in-process, and bad inputs give a message naming the file.

#include "engine/clip/weights.h"
#include "engine/data/batch.h"
#include "engine/io/safetensors.h"
#include "tests/support/fixtures.h"
#include "tests/support/test_main.h"

#include <torch/torch.h>

#include <QDirIterator>
#include <QProcess>
#include <QtTest>

#include <fstream>
#include <nlohmann/json.hpp>

using namespace sep;

namespace {

struct Result {
    int code = -1;
    QString out, err;
};

Result runSep(const QStringList &args, const QString &workDir = {})
{
    QProcess p;
    if (!workDir.isEmpty())
        p.setWorkingDirectory(workDir);
    p.start(QStringLiteral(SEP_CLI_PATH), args);
    if (!p.waitForFinished(300000))
        return {};
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

QString describe(const Result &r) { return QStringLiteral("exit %1\nstdout:\n%2\nstderr:\n%3").arg(r.code).arg(r.out, r.err); }

} // namespace

class TestCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void infoDescribesTheModel();
    void encodeWritesWhatTheEngineComputes();
    void zeroshotOnAFolderWithBadFiles();
    void trainWithoutTestImagesSaysSo();
    void badInvocations_data();
    void badInvocations();
    void numbersAreCheckedBeforeUse_data();
    void numbersAreCheckedBeforeUse();
    void errorsUnderJsonAreJson();
    void outputInsideTheDataIsRefused();
    void resumeWithoutItsCheckpointIsRefused();

private:
    QTemporaryDir m_dir;
    QString m_weights, m_heads;
    clip::Config m_config;
};

void TestCli::initTestCase()
{
    if (!test::hasVocab())
        QSKIP("the CLIP vocabulary is not available (set SEP_CLIP_VOCAB)");
    m_config = test::tinyConfig(49408);
    auto model = test::makeTinyModel(m_config, 31);
    m_weights = m_dir.filePath(QStringLiteral("tiny.pt"));
    test::writeOpenAiArchive(model, m_weights.toStdString(), false);
    m_heads = m_dir.filePath(QStringLiteral("heads.json"));
    std::ofstream(m_heads.toStdString()) << R"({"text_config": {"num_attention_heads": 2}, "vision_config": {"num_attention_heads": 2}})";
    QVERIFY(QFile::copy(test::vocabPath(), m_dir.filePath(QStringLiteral("bpe_simple_vocab_16e6.txt.gz"))));
}

void TestCli::infoDescribesTheModel()
{
    const auto r = runSep({QStringLiteral("info"), QStringLiteral("--weights"), m_weights, QStringLiteral("--config"), m_heads,
                           QStringLiteral("--json")});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    const auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["parameters"]["total"].get<int64_t>(), m_config.parameterCount());
    QCOMPARE(j["vision"]["heads"].get<int64_t>(), int64_t(2));
    QCOMPARE(j["text"]["context_length"].get<int64_t>(), m_config.text.contextLength);
    QVERIFY(j["format"].get<std::string>().find("TorchScript") != std::string::npos);
}

void TestCli::encodeWritesWhatTheEngineComputes()
{
    QTemporaryDir dir;
    const QString images = dir.filePath(QStringLiteral("imgs"));
    QDir().mkpath(images);
    test::writePng(images + QStringLiteral("/b.png"), 40, 30, 200, 10, 10);
    test::writePng(images + QStringLiteral("/a.png"), 20, 50, 10, 200, 10);
    test::writePng(images + QStringLiteral("/ü-c.png"), 33, 33, 10, 10, 200);
    std::ofstream((images + QStringLiteral("/notes.txt")).toStdString()) << "not an image";
    std::ofstream((images + QStringLiteral("/broken.png")).toStdString()) << "\x89PNG\r\n\x1a\n garbage";
    const QString texts = dir.filePath(QStringLiteral("texts.txt"));
    std::ofstream(texts.toStdString()) << "a photo of a cat.\na photo of a dog.\n";
    const QString out = dir.filePath(QStringLiteral("features.safetensors"));

    const auto r = runSep({QStringLiteral("encode"), QStringLiteral("--weights"), m_weights, QStringLiteral("--config"), m_heads,
                           QStringLiteral("--images"), images, QStringLiteral("--texts"), texts, QStringLiteral("--out"), out});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QVERIFY2(r.err.contains(QStringLiteral("broken.png")) && r.err.contains(QStringLiteral("notes.txt")), qPrintable(r.err));

    std::map<std::string, std::string> meta;
    auto t = io::readSafetensors(out.toStdString(), &meta);
    const auto encoded = nlohmann::json::parse(meta.at("images"));
    QCOMPARE(encoded.size(), size_t(3));   // a.png, b.png, ü-c.png in name order
    QVERIFY(encoded[0].get<std::string>().find("a.png") != std::string::npos);
    QVERIFY(encoded[2].get<std::string>().find("ü-c.png") != std::string::npos);
    QCOMPARE(nlohmann::json::parse(meta.at("skipped")).size(), size_t(2));

    // The same computation in this process.
    clip::LoadOptions opt;
    opt.configPath = m_heads.toStdString();
    auto clip = clip::loadClip(m_weights.toStdString(), opt);
    torch::NoGradGuard noGrad;
    std::vector<std::string> paths;
    for (const auto &p : encoded)
        paths.push_back(p.get<std::string>());
    const auto pixels = data::loadBatch(paths, m_config.vision.imageSize).pixels;
    const auto wantImage = clip.model->encodeImage(pixels);
    QVERIFY2(torch::allclose(t.at("image_features"), wantImage, 1e-5, 1e-6), "image features differ");

    auto ids = torch::zeros({2, m_config.text.contextLength}, torch::kLong);
    for (int i = 0; i < 2; ++i) {
        const auto tok = clip.tokenizer->encode(i ? "a photo of a dog." : "a photo of a cat.", m_config.text.contextLength);
        std::copy(tok.begin(), tok.end(), ids[i].data_ptr<int64_t>());
    }
    QVERIFY(torch::equal(t.at("text_tokens"), ids));
    const auto wantText = clip.model->encodeText(ids);
    QVERIFY2(torch::allclose(t.at("text_features"), wantText, 1e-5, 1e-6), "text features differ");
    // logits_per_image: exp(logit_scale) times cosine similarity, checked entry by entry.
    const auto logits = t.at("logits_per_image");
    QCOMPARE(logits.sizes().vec(), (std::vector<int64_t>{3, 2}));
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 2; ++j) {
            const double cos = torch::cosine_similarity(wantImage[i], wantText[j], 0).item<double>();
            QVERIFY(std::abs(logits[i][j].item<double>() - clip.model->logitScale() * cos) < 1e-3);
        }
}

void TestCli::zeroshotOnAFolderWithBadFiles()
{
    QTemporaryDir dir;
    const QString data = dir.filePath(QStringLiteral("données"));
    for (const char *cls : {"red_square", "grüne Fläche", "blue", "empty_class"})
        QDir().mkpath(data + QLatin1Char('/') + QString::fromUtf8(cls));
    for (int i = 0; i < 3; ++i) {
        test::writePng(data + QStringLiteral("/red_square/%1.png").arg(i), 40 + i, 40, 250, 0, 0);
        test::writePng(data + QStringLiteral("/grüne Fläche/%1.png").arg(i), 40, 40 + i, 0, 250, 0);
        test::writePng(data + QStringLiteral("/blue/%1.png").arg(i), 40, 40, 0, 0, 250);
    }
    std::ofstream((data + QStringLiteral("/blue/readme.txt")).toStdString()) << "hello";
    std::ofstream((data + QStringLiteral("/blue/cut.png")).toStdString()) << "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const QString out = dir.filePath(QStringLiteral("zs"));
    const auto r = runSep({QStringLiteral("zeroshot"), QStringLiteral("--weights"), m_weights, QStringLiteral("--config"), m_heads,
                           QStringLiteral("--data"), data, QStringLiteral("--out"), out, QStringLiteral("--json")});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QVERIFY2(r.err.contains(QStringLiteral("cut.png")), qPrintable(r.err));
    QVERIFY2(r.err.contains(QStringLiteral("readme.txt")), qPrintable(r.err));
    QVERIFY2(r.err.contains(QStringLiteral("empty_class")) && r.err.contains(QStringLiteral("no images")), qPrintable(r.err));
    const auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["total"].get<int64_t>(), int64_t(9));
    QCOMPARE(j["per_class"].size(), size_t(4));
    QCOMPARE(j["per_class"][1]["class"].get<std::string>(), std::string("empty class"));
    QCOMPARE(j["unreadable"].size(), size_t(1));
    const double acc = j["accuracy"].get<double>();
    QCOMPARE(acc, static_cast<double>(j["correct"].get<int64_t>()) / 9.0);
    for (const char *file : {"summary.json", "confusion.csv", "per_class.csv", "predictions.csv"})
        QVERIFY2(QFile::exists(out + QLatin1Char('/') + QLatin1String(file)), file);
    QFile confusion(out + QStringLiteral("/confusion.csv"));
    QVERIFY(confusion.open(QIODevice::ReadOnly));
    QCOMPARE(confusion.readAll().count('\n'), 5);   // header + 4 classes
}

void TestCli::trainWithoutTestImagesSaysSo()
{
    // Fewer images than shots: all of them train and no test image is left. The output says so
    // instead of printing empty accuracy lines.
    QTemporaryDir dir;
    const QString data = dir.filePath(QStringLiteral("few"));
    for (int i = 0; i < 2; ++i) {
        QDir().mkpath(data + QStringLiteral("/red"));
        QDir().mkpath(data + QStringLiteral("/blue"));
        test::writePng(data + QStringLiteral("/red/%1.png").arg(i), 40 + i, 40, 250, 0, 0);
        test::writePng(data + QStringLiteral("/blue/%1.png").arg(i), 40, 40 + i, 0, 0, 250);
    }
    const auto r = runSep({QStringLiteral("train"), QStringLiteral("--weights"), m_weights, QStringLiteral("--config"), m_heads,
                           QStringLiteral("--data"), data, QStringLiteral("--method"), QStringLiteral("coop"),
                           QStringLiteral("--n-ctx"), QStringLiteral("4"), QStringLiteral("--epochs"), QStringLiteral("1"), QStringLiteral("--out"), dir.filePath(QStringLiteral("run"))});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QVERIFY2(r.out.contains(QStringLiteral("no test images")), qPrintable(describe(r)));
    QVERIFY2(!(r.out + r.err).contains(QStringLiteral("test accuracy: \n")), qPrintable(describe(r)));
}

void TestCli::badInvocations_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("needle");
    QTest::newRow("missing weights") << QStringList{QStringLiteral("info"), QStringLiteral("--weights"), QStringLiteral("/nonexistent/w.pt")}
                                     << QStringLiteral("/nonexistent/w.pt");
    QTest::newRow("missing data folder") << QStringList{QStringLiteral("zeroshot"), QStringLiteral("--weights"), QStringLiteral("WEIGHTS"),
                                                        QStringLiteral("--data"), QStringLiteral("/nonexistent/folder")}
                                         << QStringLiteral("/nonexistent/folder");
    QTest::newRow("unknown device") << QStringList{QStringLiteral("info"), QStringLiteral("--weights"), QStringLiteral("WEIGHTS"),
                                                   QStringLiteral("--device"), QStringLiteral("tpu")}
                                    << QStringLiteral("tpu");
    QTest::newRow("nothing to encode") << QStringList{QStringLiteral("encode"), QStringLiteral("--weights"), QStringLiteral("WEIGHTS"),
                                                      QStringLiteral("--out"), QStringLiteral("x.safetensors")}
                                       << QStringLiteral("nothing to encode");
}

void TestCli::badInvocations()
{
    QFETCH(QStringList, args);
    QFETCH(QString, needle);
    args.replaceInStrings(QStringLiteral("WEIGHTS"), m_weights);
    const auto r = runSep(args, m_dir.path());
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(QStringLiteral("sep: error:")) && r.err.contains(needle), qPrintable(describe(r)));
}

void TestCli::numbersAreCheckedBeforeUse_data()
{
    QTest::addColumn<QStringList>("args");   // after "train --weights W --config H --data D --out O"
    QTest::addColumn<QString>("needle");
    QTest::newRow("zero shots") << QStringList{QStringLiteral("--shots"), QStringLiteral("0")}
                                << QStringLiteral("--shots: must be a whole number ≥ 1, got 0");
    QTest::newRow("fractional shots") << QStringList{QStringLiteral("--shots"), QStringLiteral("2.5")}
                                      << QStringLiteral("--shots: must be a whole number ≥ 1, got '2.5'");
    QTest::newRow("negative seed") << QStringList{QStringLiteral("--seed"), QStringLiteral("-5")}
                                   << QStringLiteral("--seed: must be a whole number ≥ 0, got -5");
    QTest::newRow("zero evaluation batch") << QStringList{QStringLiteral("--eval-batch"), QStringLiteral("0")}
                                           << QStringLiteral("--eval-batch: must be a whole number ≥ 1");
    QTest::newRow("NaN learning rate") << QStringList{QStringLiteral("--lr"), QStringLiteral("nan")}
                                       << QStringLiteral("--lr: must be a finite number");
    QTest::newRow("infinite learning rate") << QStringList{QStringLiteral("--lr"), QStringLiteral("inf")}
                                            << QStringLiteral("--lr: must be a finite number");
    QTest::newRow("learning rate out of range") << QStringList{QStringLiteral("--lr"), QStringLiteral("50")}
                                                << QStringLiteral("'lr' must be a finite number from 0 to 10, got 50");
    QTest::newRow("template without {}") << QStringList{QStringLiteral("--method"), QStringLiteral("zeroshot"),
                                                        QStringLiteral("--template"), QStringLiteral("a photo")}
                                         << QStringLiteral("must contain {} exactly once");
    QTest::newRow("template with two {}") << QStringList{QStringLiteral("--method"), QStringLiteral("zeroshot"),
                                                         QStringLiteral("--template"), QStringLiteral("a {} or a {}")}
                                          << QStringLiteral("must contain {} exactly once");
}

void TestCli::numbersAreCheckedBeforeUse()
{
    QFETCH(QStringList, args);
    QFETCH(QString, needle);
    QTemporaryDir dir;
    const QString data = dir.filePath(QStringLiteral("data"));
    test::writeColourFolder(data, {"red", "blue"}, 3, 20);
    const QString run = dir.filePath(QStringLiteral("run"));
    const auto r = runSep(QStringList{QStringLiteral("train"), QStringLiteral("--weights"), m_weights, QStringLiteral("--config"), m_heads,
                                      QStringLiteral("--data"), data, QStringLiteral("--epochs"), QStringLiteral("1"),
                                      QStringLiteral("--out"), run}
                          + args);
    QVERIFY2(r.code != 0 && r.err.contains(needle), qPrintable(describe(r)));
    // No 309-digit bounds, and nothing was started.
    QVERIFY2(!r.err.contains(QStringLiteral("179769")), qPrintable(describe(r)));
    QVERIFY2(!QFileInfo::exists(run + QStringLiteral("/run.json")), qPrintable(describe(r)));
}

void TestCli::errorsUnderJsonAreJson()
{
    // An engine error, and a command-line error, each as one JSON object on stdout.
    auto r = runSep({QStringLiteral("info"), QStringLiteral("--weights"), QStringLiteral("/nonexistent/w.pt"), QStringLiteral("--json")});
    QCOMPARE(r.code, 1);
    auto j = nlohmann::json::parse(r.out.toStdString());
    QVERIFY2(j["error"].get<std::string>().find("/nonexistent/w.pt") != std::string::npos, qPrintable(describe(r)));
    QCOMPARE(j["exit_code"].get<int>(), 1);
    r = runSep({QStringLiteral("train"), QStringLiteral("--shots"), QStringLiteral("0"), QStringLiteral("--json")});
    QVERIFY(r.code != 0);
    j = nlohmann::json::parse(r.out.toStdString());
    QVERIFY2(j["error"].get<std::string>().find("--shots") != std::string::npos, qPrintable(describe(r)));
    QCOMPARE(j["exit_code"].get<int>(), r.code);
}

void TestCli::outputInsideTheDataIsRefused()
{
    QTemporaryDir dir;
    const QString data = dir.filePath(QStringLiteral("data"));
    test::writeColourFolder(data, {"red", "blue"}, 3, 20);
    auto listing = [&] {
        QStringList all;
        QDirIterator it(data, QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden, QDirIterator::Subdirectories);
        while (it.hasNext())
            all << it.next();
        all.sort();
        return all;
    };
    const QStringList before = listing();
    const QStringList model{QStringLiteral("--weights"), m_weights, QStringLiteral("--config"), m_heads, QStringLiteral("--data"), data};
    for (const QString &out : {data, data + QStringLiteral("/red"), data + QStringLiteral("/red/run")}) {
        auto r = runSep(QStringList{QStringLiteral("zeroshot")} + model + QStringList{QStringLiteral("--out"), out});
        QVERIFY2(r.code == 1 && r.err.contains(QStringLiteral("inside the dataset folder")), qPrintable(describe(r)));
        r = runSep(QStringList{QStringLiteral("train"), QStringLiteral("--method"), QStringLiteral("zeroshot")} + model
                   + QStringList{QStringLiteral("--out"), out});
        QVERIFY2(r.code == 1 && r.err.contains(QStringLiteral("inside the dataset folder")), qPrintable(describe(r)));
    }
    QCOMPARE(listing(), before);
}

void TestCli::resumeWithoutItsCheckpointIsRefused()
{
    QTemporaryDir dir;
    const QString data = dir.filePath(QStringLiteral("data"));
    test::writeColourFolder(data, {"red", "blue"}, 4, 20);
    const QString run = dir.filePath(QStringLiteral("run"));
    const QStringList args{QStringLiteral("train"), QStringLiteral("--weights"), m_weights, QStringLiteral("--config"), m_heads,
                           QStringLiteral("--data"), data, QStringLiteral("--method"), QStringLiteral("coop"),
                           QStringLiteral("--n-ctx"), QStringLiteral("4"), QStringLiteral("--shots"), QStringLiteral("2"),
                           QStringLiteral("--epochs"), QStringLiteral("1"), QStringLiteral("--out"), run};
    auto r = runSep(args);
    QVERIFY2(r.code == 0, qPrintable(describe(r)));

    // Evaluating on a folder whose every image the run's shot rule takes for training: nothing to
    // test is said, not printed as 0 of 0.
    const QString small = dir.filePath(QStringLiteral("small"));
    test::writeColourFolder(small, {"cat", "dog", "owl"}, 2, 20);
    r = runSep({QStringLiteral("eval"), QStringLiteral("--run"), run, QStringLiteral("--data"), small});
    QVERIFY2(r.code == 1 && r.err.contains(QStringLiteral("no test images")) && r.err.contains(small), qPrintable(describe(r)));

    QVERIFY(QFile::remove(run + QStringLiteral("/checkpoints/last.safetensors")));
    r = runSep(args + QStringList{QStringLiteral("--resume")});
    QVERIFY2(r.code == 1 && r.err.contains(QStringLiteral("cannot resume")) && r.err.contains(QStringLiteral("last.safetensors")),
             qPrintable(describe(r)));
    // Nothing was trained again: no new checkpoint appeared.
    QVERIFY(!QFileInfo::exists(run + QStringLiteral("/checkpoints/last.safetensors")));
}

SEP_TEST_MAIN(TestCli)
#include "test_cli.moc"
