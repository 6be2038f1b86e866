// `sep demo` on a miniature of the demo data: a tiny model that "holds out" three styles, colour
// classes whose three images play the styles. Checks the protocols it builds (base-to-new and
// cross-style data views), the table's rows and figures against the runs' own summaries, reuse of
// finished runs, and the messages for data that cannot make a demo.

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/demo/demo.h"
#include "projects/project_store.h"
#include "tests/support/expect_error.h"
#include "tests/support/fixtures.h"
#include "tests/support/test_main.h"

#include <QtTest>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace sep;
namespace fs = std::filesystem;

namespace {
const std::vector<std::string> kClasses = {"amber", "blue", "coral", "dark_green", "ember", "fern"};
const std::vector<std::string> kStyles = {"style-a", "style-b", "style-c"};
} // namespace

class TestDemo : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void demoRunsEveryMethodAndProtocol();
    void unusableDataIsExplained();
    void commandRecordsAProject();

private:
    demo::DemoOptions options(const std::string &out) const;
    QTemporaryDir m_dir;
    std::string m_model, m_data;
};

void TestDemo::initTestCase()
{
    // The model folder as sep pretrain writes it.
    m_model = m_dir.filePath(QStringLiteral("model")).toStdString();
    fs::create_directories(m_model);
    const auto files = test::writeTinyModelFiles(m_model, 3);
    fs::rename(files.weights, m_model + "/model.safetensors");
    fs::rename(files.vocab, m_model + "/merges.txt");   // the name sep pretrain gives its vocabulary
    std::ofstream(m_model + "/provenance.json") << R"({"options": {"hold_out_styles": "style-a,style-b,style-c"}})";

    // The demo data: emoji/<class>/<i>.png for three "styles", plus one pretraining style that the
    // demo must ignore, described by emoji/manifest.jsonl.
    m_data = m_dir.filePath(QStringLiteral("demo-data")).toStdString();
    test::writeColourFolder(QString::fromStdString(m_data + "/emoji"), kClasses, 4, 5);
    std::ofstream manifest(m_data + "/emoji/manifest.jsonl");
    for (const auto &c : kClasses) {
        for (size_t s = 0; s < kStyles.size(); ++s)
            manifest << nlohmann::json{{"path", c + "/" + std::to_string(s) + ".png"}, {"class", c}, {"style", kStyles[s]},
                                       {"category", c < "c" ? "warm" : "cool"}}
                            .dump()
                     << "\n";
        manifest << nlohmann::json{{"path", c + "/3.png"}, {"class", c}, {"style", "pretraining-style"}}.dump() << "\n";
    }
}

demo::DemoOptions TestDemo::options(const std::string &out) const
{
    auto o = demo::DemoOptions::defaults();
    o.data = m_data;
    o.model = m_model;
    o.out = out;
    o.classes = 6;
    o.shots = 1;
    o.epochs = 2;
    o.batch = 4;
    o.device = "cpu";
    return o;
}

void TestDemo::demoRunsEveryMethodAndProtocol()
{
    const std::string out = m_dir.filePath(QStringLiteral("demo-run")).toStdString();
    const auto result = demo::runDemo(options(out), {});

    // Every default method × two protocols, in order.
    const std::vector<std::string> methods = {"zeroshot", "coop", "kgcoop", "prograd", "sep"};
    QCOMPARE(result.rows.size(), 2 * methods.size());
    for (size_t i = 0; i < result.rows.size(); ++i) {
        const auto &row = result.rows[i];
        QCOMPARE(row.method, methods[i % methods.size()]);
        const bool b2n = i < methods.size();
        QCOMPARE(row.protocol, b2n ? std::string("base-to-new") : std::string("cross-style (test: style-c)"));
        // The table's figures are the run's own summary.
        const std::string runDir = out + "/runs/" + (b2n ? "base-to-new/" : "cross-style/") + row.method + "-seed1";
        const auto summary = nlohmann::json::parse(readFile(runDir + "/summary.json"));
        if (b2n) {
            QCOMPARE(row.values.at("base").front(), summary["accuracy"]["base"].get<double>());
            QCOMPARE(row.values.at("new").front(), summary["accuracy"]["new"].get<double>());
            const double b = row.values.at("base").front(), n = row.values.at("new").front();
            QCOMPARE(row.values.at("hm").front(), b + n > 0 ? 2 * b * n / (b + n) : 0.0);
        } else {
            QCOMPARE(row.values.at("all").front(), summary["accuracy"]["all"].get<double>());
        }
    }

    // Base-to-new sees the three held-out styles of every class, never the pretraining one;
    // cross-style trains on two and tests on the third.
    for (const auto &c : kClasses) {
        for (const auto &s : kStyles)
            QVERIFY(fs::exists(out + "/data/base-to-new/" + c + "/" + s + ".png"));
        QVERIFY(!fs::exists(out + "/data/base-to-new/" + c + "/pretraining-style.png"));
        QVERIFY(fs::exists(out + "/data/cross-style-style-c/test/" + c + "/style-c.png"));
        QVERIFY(!fs::exists(out + "/data/cross-style-style-c/train/" + c + "/style-c.png"));
        QVERIFY(fs::exists(out + "/data/cross-style-style-c/train/" + c + "/style-a.png"));
    }
    QVERIFY(readFile(out + "/table.txt").find("base-to-new") != std::string::npos);
    QCOMPARE(nlohmann::json::parse(readFile(out + "/summary.json"))["rows"].size(), 2 * methods.size());

    // Run again: finished runs are reused, not retrained, and give the same table.
    const auto before = fs::last_write_time(out + "/runs/base-to-new/sep-seed1/summary.json");
    const auto again = demo::runDemo(options(out), {});
    QCOMPARE(again.table(), result.table());
    QVERIFY(fs::last_write_time(out + "/runs/base-to-new/sep-seed1/summary.json") == before);
}

void TestDemo::unusableDataIsExplained()
{
    auto o = options(m_dir.filePath(QStringLiteral("bad")).toStdString());
    o.classes = 7;
    test::expectError([&] { demo::runDemo(o, {}); }, {"only 6 classes have all held-out styles"});
    o = options(m_dir.filePath(QStringLiteral("bad")).toStdString());
    o.data = m_dir.filePath(QStringLiteral("nowhere")).toStdString();
    test::expectError([&] { demo::runDemo(o, {}); }, {"build the demo data with packaging/build-demo-data.sh"});
}

void TestDemo::commandRecordsAProject()
{
    // `sep demo` records its runs in OUT/demo.sepproj; run again, it reuses them.
    const QString out = m_dir.filePath(QStringLiteral("cli-demo"));
    const QStringList args = {QStringLiteral("demo"),      QStringLiteral("--data"),    QString::fromStdString(m_data),
                              QStringLiteral("--model"),   QString::fromStdString(m_model), QStringLiteral("--out"), out,
                              QStringLiteral("--classes"), QStringLiteral("6"),        QStringLiteral("--shots"),
                              QStringLiteral("1"),         QStringLiteral("--epochs"), QStringLiteral("2"),
                              QStringLiteral("--batch"),   QStringLiteral("4"),        QStringLiteral("--device"),
                              QStringLiteral("cpu"),       QStringLiteral("--json")};
    std::vector<nlohmann::json> outputs;
    for (int pass = 0; pass < 2; ++pass) {
        QProcess p;
        p.start(QStringLiteral(SEP_CLI_PATH), args);
        QVERIFY(p.waitForFinished(300000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        outputs.push_back(nlohmann::json::parse(p.readAllStandardOutput().toStdString()));
    }
    QCOMPARE(outputs[0]["rows"], outputs[1]["rows"]);
    const std::string project = (out + QStringLiteral("/demo.sepproj")).toStdString();
    QVERIFY(QFile::exists(QString::fromStdString(project)));
    QVERIFY(QString::fromStdString(outputs[0]["project"].get<std::string>()).endsWith(QStringLiteral("demo.sepproj")));

    projects::OpenOptions ro;
    ro.readOnly = true;
    auto store = projects::ProjectStore::open(project, ro);
    const auto runs = store.runs();
    QCOMPARE(runs.size(), size_t(10));   // 5 methods × 2 protocols: the second pass added none
    QCOMPARE(store.datasets().size(), size_t(2));
    for (const auto &r : runs) {
        QCOMPARE(r.status, std::string("finished"));
        QVERIFY(!r.accuracy.empty());
        QVERIFY(!store.evaluations(r.id).empty());
    }
}

SEP_TEST_MAIN(TestDemo)
#include "test_demo.moc"
