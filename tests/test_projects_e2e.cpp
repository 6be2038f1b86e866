// `sep train --project` killed with SIGKILL at chosen points (during an epoch, inside the transaction
// recording a checkpoint, inside the one recording an epoch's metrics): the project passes
// PRAGMA integrity_check, the run is found interrupted and resumable, `sep project resume` completes it,
// and at most the epoch in progress was lost. Plus the `sep project` commands end to end.
//
// The kill points come from the test hook SEP_TEST_PAUSE_AT (projects/test_hooks.h): the process
// writes a marker file there and sleeps until it is killed.

#include "engine/core/error.h"
#include "projects/project_store.h"
#include "projects/sqlite.h"
#include "tests/support/fixtures.h"
#include "tests/support/test_main.h"

#include <sqlite3.h>

#include <QCryptographicHash>
#include <QProcess>
#include <QtTest>

#include <nlohmann/json.hpp>

using namespace sep;
using projects::ProjectStore;

namespace {

struct Result {
    int code = -1;
    QString out, err;
};

QString describe(const Result &r) { return QStringLiteral("exit %1\nstdout:\n%2\nstderr:\n%3").arg(r.code).arg(r.out, r.err); }

// One compute thread per child: the tiny model gains nothing from more, and on a busy machine
// LibTorch's threads would mostly wait on each other.
QProcessEnvironment childEnvironment()
{
    auto env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("SEP_THREADS"), QStringLiteral("1"));
    return env;
}

Result runSep(const QStringList &args)
{
    QProcess p;
    p.setProcessEnvironment(childEnvironment());
    p.start(QStringLiteral(SEP_CLI_PATH), args);
    if (!p.waitForFinished(240000)) {
        p.kill();
        p.waitForFinished();
        return {-2, {}, QStringLiteral("timed out")};
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

std::string integrityCheck(const QString &path)
{
    sqlite3 *db = nullptr;
    sqlite3_open_v2(path.toUtf8().constData(), &db, SQLITE_OPEN_READWRITE, nullptr);
    sqlite3_stmt *st = nullptr;
    std::string result = "could not run";
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        result = reinterpret_cast<const char *>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return result;
}

QByteArray fileHash(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256) : QByteArray();
}

} // namespace

class TestProjectsE2e : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void killedRunIsResumable_data();
    void killedRunIsResumable();
    void projectCommands();
    void foreignFileIsLeftAlone();

private:
    QStringList trainArgs(const QString &project) const;
    QTemporaryDir m_dir;
    QString m_data;
    test::ModelFiles m_model;
};

void TestProjectsE2e::initTestCase()
{
    m_model = test::writeTinyModelFiles(m_dir.path().toStdString(), 2);
    m_data = m_dir.filePath(QStringLiteral("colours"));
    test::writeColourFolder(m_data, {"amber", "blue", "coral", "dark_green"}, 5, 3);
}

QStringList TestProjectsE2e::trainArgs(const QString &project) const
{
    return {QStringLiteral("train"),        QStringLiteral("--project"),    project,
            QStringLiteral("--data"),       m_data,                         QStringLiteral("--weights"),
            QString::fromStdString(m_model.weights), QStringLiteral("--vocab"), QString::fromStdString(m_model.vocab),
            QStringLiteral("--config"),     QString::fromStdString(m_model.config), QStringLiteral("--device"),
            QStringLiteral("cpu"),          QStringLiteral("--method"),     QStringLiteral("sep"),
            QStringLiteral("--shots"),      QStringLiteral("2"),            QStringLiteral("--base-to-new"),
            QStringLiteral("--epochs"),     QStringLiteral("2"),            QStringLiteral("--batch"),
            QStringLiteral("4"),            QStringLiteral("--lr"),         QStringLiteral("0.01"),
            QStringLiteral("--eval-batch"), QStringLiteral("16"),           QStringLiteral("--eval-every"),
            QStringLiteral("0")};
}

void TestProjectsE2e::killedRunIsResumable_data()
{
    QTest::addColumn<QString>("point");
    // point: where the process stops; recorded: epochs whose metrics the database must hold then.
    QTest::addColumn<int>("recorded");
    QTest::newRow("during an epoch") << QStringLiteral("epoch:2") << 1;
    QTest::newRow("during a checkpoint write") << QStringLiteral("checkpoint:2") << 1;
    QTest::newRow("during a metrics write") << QStringLiteral("metrics:2") << 1;
    QTest::newRow("during the final evaluation") << QStringLiteral("evaluation:0") << 2;
}

void TestProjectsE2e::killedRunIsResumable()
{
    QFETCH(QString, point);
    QFETCH(int, recorded);
    const QString name = QString(point).replace(QLatin1Char(':'), QLatin1Char('-'));
    const QString project = m_dir.filePath(QStringLiteral("kill-%1.sepproj").arg(name));
    const QString marker = m_dir.filePath(QStringLiteral("marker-%1").arg(name));

    QProcess train;
    auto env = childEnvironment();
    env.insert(QStringLiteral("SEP_TEST_PAUSE_AT"), point);
    env.insert(QStringLiteral("SEP_TEST_PAUSE_MARKER"), marker);
    train.setProcessEnvironment(env);
    train.start(QStringLiteral(SEP_CLI_PATH), trainArgs(project));
    QVERIFY(train.waitForStarted());
    QElapsedTimer timer;
    timer.start();
    while (!QFile::exists(marker) && train.state() == QProcess::Running && timer.elapsed() < 180000)
        train.waitForFinished(50);
    QVERIFY2(QFile::exists(marker), qPrintable(QStringLiteral("the process never reached %1:\n%2")
                                                   .arg(point, QString::fromUtf8(train.readAllStandardError()))));
    const int64_t pid = train.processId();

    // While it is paused there: a second writer is told who has the project; a reader can look.
    const auto inUse = [&] {
        try {
            ProjectStore::open(project.toStdString());
        } catch (const Error &e) {
            return std::string(e.what());
        }
        return std::string();
    }();
    QVERIFY2(inUse.find("in use by PID " + std::to_string(pid)) != std::string::npos, inUse.c_str());
    QVERIFY2(inUse.find("sep train") != std::string::npos, inUse.c_str());
    {
        projects::OpenOptions ro;
        ro.readOnly = true;
        auto viewer = ProjectStore::open(project.toStdString(), ro);
        const auto runs = viewer.runs();
        QCOMPARE(runs.size(), size_t(1));
        QCOMPARE(runs[0].status, std::string("running"));
        QVERIFY(!runs[0].interrupted);   // its process is alive
        QCOMPARE(runs[0].owner.pid, pid);
    }

    train.kill();   // SIGKILL
    QVERIFY(train.waitForFinished(10000));

    QCOMPARE(integrityCheck(project), std::string("ok"));
    int64_t runId = 0;
    {
        projects::OpenOptions ro;
        ro.readOnly = true;
        auto viewer = ProjectStore::open(project.toStdString(), ro);
        const auto interrupted = viewer.interruptedRuns();
        QCOMPARE(interrupted.size(), size_t(1));
        const auto &r = interrupted[0];
        runId = r.id;
        QCOMPARE(r.status, std::string("running"));
        QCOMPARE(r.displayStatus(), std::string("interrupted"));
        // At most the epoch in progress was lost: the recorded epochs are 1 … k, nothing after a gap.
        const auto epochs = viewer.epochs(r.id);
        QCOMPARE(static_cast<int>(epochs.size()), recorded);
        for (size_t i = 0; i < epochs.size(); ++i)
            QCOMPARE(epochs[i].epoch, int64_t(i + 1));
        QVERIFY(r.checkpointEpoch >= recorded);
        QVERIFY(r.checkpointEpoch <= recorded + 1);
        QVERIFY(std::any_of(viewer.notes().begin(), viewer.notes().end(),
                            [](const std::string &n) { return n.find("sep project resume") != std::string::npos; }));
    }
    if (point == QStringLiteral("epoch:2")) {   // the CLI lists it as interrupted (once is enough)
        const auto listed = runSep({QStringLiteral("project"), QStringLiteral("runs"), project, QStringLiteral("--json")});
        QVERIFY2(listed.code == 0, qPrintable(describe(listed)));
        const auto runsJson = nlohmann::json::parse(listed.out.toStdString());
        QCOMPARE(runsJson["runs"][0]["status"].get<std::string>(), std::string("interrupted"));
    }

    const auto resumed = runSep({QStringLiteral("project"), QStringLiteral("resume"), project, QString::number(runId)});
    QVERIFY2(resumed.code == 0, qPrintable(describe(resumed)));
    QVERIFY2(resumed.err.contains(QStringLiteral("taken over")), qPrintable(describe(resumed)));

    QCOMPARE(integrityCheck(project), std::string("ok"));
    auto store = ProjectStore::open(project.toStdString());
    const auto r = store.run(runId);
    QCOMPARE(r.status, std::string("finished"));
    QCOMPARE(r.checkpointEpoch, int64_t(2));
    const auto epochs = store.epochs(runId);
    QCOMPARE(epochs.size(), size_t(2));
    for (size_t i = 0; i < epochs.size(); ++i)
        QCOMPARE(epochs[i].epoch, int64_t(i + 1));
    const auto evals = store.evaluations(runId);
    QCOMPARE(evals.size(), size_t(2));
    for (const auto &e : evals)
        QCOMPARE(e.predictions, e.total);
    QVERIFY(r.harmonicMean.has_value());
    QVERIFY(store.check().empty());
}

void TestProjectsE2e::projectCommands()
{
    const QString project = m_dir.filePath(QStringLiteral("cli"));
    auto r = runSep({QStringLiteral("project"), QStringLiteral("new"), project, QStringLiteral("--data"), m_data});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QVERIFY(r.out.contains(QStringLiteral("20 images in 4 classes")));
    const QString file = project + QStringLiteral(".sepproj");
    QVERIFY(QFile::exists(file));

    // `new` never overwrites.
    r = runSep({QStringLiteral("project"), QStringLiteral("new"), file});
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.contains(QStringLiteral("already exists")));

    // A run recorded without --data: the project's only dataset.
    auto args = trainArgs(file);
    args.remove(args.indexOf(QStringLiteral("--data")), 2);
    args[args.indexOf(QStringLiteral("--epochs")) + 1] = QStringLiteral("1");
    args << QStringLiteral("--json");
    r = runSep(args);
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    const auto trained = nlohmann::json::parse(r.out.toStdString());
    const int64_t id = trained["runs"][0]["id"].get<int64_t>();
    const QString folder = QString::fromStdString(trained["runs"][0]["run"].get<std::string>());
    QVERIFY(folder.startsWith(QFileInfo(file + QStringLiteral(".d")).absoluteFilePath()));
    QVERIFY(QFile::exists(folder + QStringLiteral("/checkpoints/last.safetensors")));

    r = runSep({QStringLiteral("project"), QStringLiteral("runs"), file});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QVERIFY(r.out.contains(QStringLiteral("finished")));
    QVERIFY(r.out.contains(QStringLiteral("HM")));

    r = runSep({QStringLiteral("project"), QStringLiteral("show"), file, QString::number(id), QStringLiteral("--json")});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    const auto shown = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(shown["spec"]["shots"].get<int64_t>(), int64_t(2));
    QCOMPARE(shown["epochs_recorded"].size(), size_t(1));
    QCOMPARE(shown["evaluations"].size(), size_t(2));
    QVERIFY(shown["evaluations"][0]["confusion"].is_array());

    r = runSep({QStringLiteral("project"), QStringLiteral("show"), file, QString::number(id)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QVERIFY(r.out.contains(QStringLiteral("evaluation 'base'")));
    QVERIFY2(r.out.contains(QStringLiteral("reproducibility record")), qPrintable(r.out));
    QVERIFY2(r.out.contains(QStringLiteral("SEP Studio ")), qPrintable(r.out));   // the program
    QVERIFY2(r.out.contains(QString::fromStdString(shown["weights_sha256"].get<std::string>())), qPrintable(r.out));
    QCOMPARE(shown["weights_sha256"].get<std::string>().size(), size_t(64));

    // A name and notes: given, shown, listed; a bad name refused with nothing changed.
    QTemporaryFile notes;
    QVERIFY(notes.open());
    notes.write("tried 2 shots\nnext: 4\n");
    notes.close();
    r = runSep({QStringLiteral("project"), QStringLiteral("edit-run"), file, QString::number(id), QStringLiteral("--name"),
                QStringLiteral("first try"), QStringLiteral("--notes-file"), notes.fileName()});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    r = runSep({QStringLiteral("project"), QStringLiteral("edit-run"), file, QString::number(id), QStringLiteral("--name"),
                QStringLiteral("two\nlines")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(QStringLiteral("one line")), qPrintable(describe(r)));
    r = runSep({QStringLiteral("project"), QStringLiteral("edit-run"), file, QString::number(id)});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(QStringLiteral("nothing to change")), qPrintable(describe(r)));
    r = runSep({QStringLiteral("project"), QStringLiteral("show"), file, QString::number(id)});
    QVERIFY(r.out.contains(QStringLiteral("name        first try")));
    QVERIFY(r.out.contains(QStringLiteral("    next: 4")));
    r = runSep({QStringLiteral("project"), QStringLiteral("runs"), file});
    QVERIFY2(r.out.contains(QStringLiteral("'first try'")), qPrintable(r.out));

    // Export straight from the project: the bundle predicts, and the project records the export.
    const QString bundle = m_dir.filePath(QStringLiteral("from-project.sepmodel"));
    r = runSep({QStringLiteral("export"), QStringLiteral("--project"), file, QStringLiteral("--run-id"), QString::number(id),
                QStringLiteral("--out"), bundle, QStringLiteral("--include-backbone")});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    r = runSep({QStringLiteral("predict"), QStringLiteral("--model"), bundle, m_data + QStringLiteral("/amber/1.png"), QStringLiteral("--json")});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QCOMPARE(nlohmann::json::parse(r.out.toStdString())["results"].size(), size_t(1));
    {
        projects::OpenOptions ro;
        ro.readOnly = true;
        auto viewer = ProjectStore::open(file.toStdString(), ro);
        auto st = viewer.database().prepare("SELECT run_id, path FROM exports");
        QVERIFY(st.step());
        QCOMPARE(st.integer(0), id);
        QCOMPARE(QString::fromStdString(st.text(1)), QFileInfo(bundle).absoluteFilePath());
    }
    r = runSep({QStringLiteral("export"), QStringLiteral("--project"), file, QStringLiteral("--run-id"), QStringLiteral("99"),
                QStringLiteral("--out"), bundle + QStringLiteral("2")});
    QCOMPARE(r.code, 1);

    // A rescan after a file moved away: reported; the run keeps its records.
    const QString moved = m_dir.filePath(QStringLiteral("moved.png"));
    QVERIFY(QFile::rename(m_data + QStringLiteral("/amber/0.png"), moved));
    r = runSep({QStringLiteral("project"), QStringLiteral("import"), file, QStringLiteral("--data"), m_data, QStringLiteral("--json")});
    QVERIFY(QFile::rename(moved, m_data + QStringLiteral("/amber/0.png")));
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    const auto rescan = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(rescan["removed"].size(), size_t(1));

    r = runSep({QStringLiteral("project"), QStringLiteral("check"), file});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    r = runSep({QStringLiteral("project"), QStringLiteral("resume"), file, QString::number(id)});
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.contains(QStringLiteral("has finished")));
    r = runSep({QStringLiteral("project"), QStringLiteral("rm-run"), file, QString::number(id)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QVERIFY(!QFileInfo::exists(folder));
    {
        projects::OpenOptions ro;
        ro.readOnly = true;
        auto viewer = ProjectStore::open(file.toStdString(), ro);
        QVERIFY(viewer.runs().empty());
        QCOMPARE(viewer.summary()["datasets"][0]["images"].get<int64_t>(), int64_t(19));   // amber/0.png was away at the last scan
    }

    // Giving both places, or neither, is refused.
    r = runSep({QStringLiteral("train"), QStringLiteral("--project"), file, QStringLiteral("--out"), m_dir.filePath(QStringLiteral("x")),
                QStringLiteral("--weights"), QString::fromStdString(m_model.weights)});
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.contains(QStringLiteral("either --out or --project")));
}

void TestProjectsE2e::foreignFileIsLeftAlone()
{
    const QString path = m_dir.filePath(QStringLiteral("photo.sepproj"));
    test::writePng(m_dir.filePath(QStringLiteral("photo.png")), 16, 16, 9, 9, 9);
    QVERIFY(QFile::copy(m_dir.filePath(QStringLiteral("photo.png")), path));
    const auto before = fileHash(path);
    for (const QString &cmd : {QStringLiteral("runs"), QStringLiteral("import")}) {
        QStringList args{QStringLiteral("project"), cmd, path};
        if (cmd == QStringLiteral("import"))
            args << QStringLiteral("--data") << m_data;
        const auto r = runSep(args);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(QStringLiteral("not a SEP Studio project (it is a PNG image)")), qPrintable(describe(r)));
    }
    auto args = trainArgs(path);
    const auto r = runSep(args);
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(QStringLiteral("not a SEP Studio project")), qPrintable(describe(r)));
    QCOMPARE(fileHash(path), before);
    QVERIFY(!QFile::exists(path + QStringLiteral(".lock")));
    QVERIFY(!QFile::exists(path + QStringLiteral(".d")));
}

SEP_TEST_MAIN(TestProjectsE2e)
#include "test_projects_e2e.moc"
