// The project store (projects/): schema and migrations from every earlier version (fixtures written
// here as SQL), datasets and re-scans, runs recorded while they train, the writer lock, and the fault
// cases — foreign, truncated, newer and read-only files, a full disk (SQLite's page quota and a VFS
// that fails writes), moved images — each with a clear message and nothing already stored lost.

#include "engine/core/error.h"
#include "engine/core/version.h"
#include "engine/prompt/registry.h"
#include "engine/train/run.h"
#include "projects/lock.h"
#include "projects/project_store.h"
#include "projects/run_recorder.h"
#include "projects/schema.h"
#include "projects/sqlite.h"
#include "tests/support/fixtures.h"
#include "tests/support/folder_snapshot.h"
#include "tests/support/test_main.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <QCryptographicHash>
#include <QtTest>

#include <atomic>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

using namespace sep;
using projects::ProjectStore;

namespace {

const std::vector<std::string> kClasses = {"amber", "blue", "coral", "dark_green"};

template <typename F>
std::string errorOf(F &&f)
{
    try {
        f();
    } catch (const Error &e) {
        return e.what();
    }
    return {};
}

#define VERIFY_MESSAGE(message, needle)                                                                                \
    QVERIFY2(std::string(message).find(needle) != std::string::npos,                                                   \
             ("message '" + std::string(message) + "' lacks '" + std::string(needle) + "'").c_str())

QByteArray fileHash(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}

// A plain SQLite connection of the test's own, to look at (or prepare) files behind the store's back.
struct Raw {
    sqlite3 *db = nullptr;
    explicit Raw(const QString &path, bool write = true)
    {
        sqlite3_open_v2(path.toUtf8().constData(), &db, write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY,
                        nullptr);
    }
    ~Raw() { sqlite3_close(db); }
    void exec(const std::string &sql)
    {
        char *error = nullptr;
        if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
            const std::string message = error ? error : "?";
            sqlite3_free(error);
            throw std::runtime_error("fixture SQL failed: " + message);
        }
    }
    int64_t count(const std::string &sql)
    {
        sqlite3_stmt *st = nullptr;
        int64_t v = -1;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
    }
    std::string text(const std::string &sql)
    {
        sqlite3_stmt *st = nullptr;
        std::string v;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW
            && sqlite3_column_text(st, 0))
            v = reinterpret_cast<const char *>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return v;
    }
    std::vector<std::string> column(const std::string &sql)
    {
        sqlite3_stmt *st = nullptr;
        std::vector<std::string> out;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK)
            while (sqlite3_step(st) == SQLITE_ROW)
                out.push_back(sqlite3_column_text(st, 0) ? reinterpret_cast<const char *>(sqlite3_column_text(st, 0)) : "");
        sqlite3_finalize(st);
        return out;
    }
};

// ---- fixtures: the schema as each earlier version shipped it, with some rows --------------------

const char *const kFixtureV1Schema = R"sql(
PRAGMA application_id = 1397051475;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY, root TEXT NOT NULL UNIQUE,
    layout TEXT NOT NULL CHECK (layout IN ('flat', 'splits')), added_at TEXT NOT NULL, scanned_at TEXT);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY, dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    folder TEXT NOT NULL, name TEXT NOT NULL, label INTEGER, half TEXT CHECK (half IN ('base', 'new')),
    UNIQUE (dataset_id, folder));
CREATE TABLE images (
    id INTEGER PRIMARY KEY, dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL REFERENCES classes(id),
    split TEXT NOT NULL CHECK (split IN ('all', 'train', 'val', 'test')), path TEXT NOT NULL,
    size INTEGER NOT NULL, width INTEGER, height INTEGER,
    decode_status TEXT NOT NULL DEFAULT 'unchecked' CHECK (decode_status IN ('unchecked', 'ok', 'failed')),
    decode_reason TEXT NOT NULL DEFAULT '', UNIQUE (dataset_id, path));
CREATE INDEX images_class ON images(class_id);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, dataset_id INTEGER REFERENCES datasets(id), method TEXT NOT NULL,
    spec TEXT NOT NULL, shots INTEGER NOT NULL, seed INTEGER NOT NULL, base_to_new INTEGER NOT NULL,
    device TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'finished', 'failed', 'cancelled')),
    message TEXT NOT NULL DEFAULT '', folder TEXT NOT NULL UNIQUE, model TEXT NOT NULL DEFAULT '',
    plan TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
    updated_at TEXT NOT NULL, owner_pid INTEGER, owner_host TEXT);
CREATE INDEX runs_dataset ON runs(dataset_id);
CREATE TABLE checkpoints (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, path TEXT NOT NULL, epoch INTEGER NOT NULL,
    size INTEGER NOT NULL, written_at TEXT NOT NULL, PRIMARY KEY (run_id, path));
CREATE TABLE epoch_metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, epoch INTEGER NOT NULL, lr REAL NOT NULL,
    loss REAL NOT NULL, train_accuracy REAL NOT NULL, seconds REAL NOT NULL,
    loss_parts TEXT NOT NULL DEFAULT '{}', test_accuracy TEXT NOT NULL DEFAULT '{}', recorded_at TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch));
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    test_set TEXT NOT NULL, classes TEXT NOT NULL, accuracy REAL NOT NULL, correct INTEGER NOT NULL,
    total INTEGER NOT NULL, per_class_accuracy TEXT NOT NULL, per_class_count TEXT NOT NULL,
    confusion BLOB NOT NULL, failures TEXT NOT NULL DEFAULT '[]', seconds REAL NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (run_id, test_set));
CREATE TABLE predictions (
    evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE, position INTEGER NOT NULL,
    image_id INTEGER REFERENCES images(id), path TEXT NOT NULL, label INTEGER NOT NULL, top BLOB NOT NULL,
    top_prob BLOB NOT NULL, PRIMARY KEY (evaluation_id, position));
CREATE INDEX predictions_image ON predictions(image_id);
CREATE TABLE exports (
    id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL, path TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL);
)sql";

const char *const kFixtureV1Rows = R"sql(
INSERT INTO meta VALUES ('application', 'SEP Studio project'), ('schema_version', '1'),
                        ('created_at', '2024-01-02T03:04:05Z');
INSERT INTO datasets VALUES (1, '/data/old-pets', 'flat', '2024-01-02T03:04:05Z', '2024-01-02T03:05:00Z');
INSERT INTO classes VALUES (1, 1, 'cat', 'cat', 0, 'base'), (2, 1, 'dog', 'dog', 1, 'new');
INSERT INTO images VALUES (1, 1, 1, 'all', 'cat/1.png', 100, 40, 40, 'ok', ''),
                          (2, 1, 2, 'all', 'dog/1.png', 120, 40, 40, 'ok', ''),
                          (3, 1, 2, 'all', 'dog/2.png', 7, NULL, NULL, 'failed', 'not an image format we know');
INSERT INTO runs VALUES (1, 1, 'coop', '{"method":"coop","shots":1,"seed":7,"train":{"epochs":2}}', 1, 7, 1, 'cpu',
                         'finished', '', 'runs/0001-coop-1shot-seed7', 'tiny ViT', '{"train_images":1}',
                         '2024-01-02T04:00:00Z', '2024-01-02T04:00:01Z', '2024-01-02T04:01:00Z',
                         '2024-01-02T04:01:00Z', 4242, 'an-old-host');
INSERT INTO checkpoints VALUES (1, 'runs/0001-coop-1shot-seed7/checkpoints/last.safetensors', 2, 1000,
                                '2024-01-02T04:00:59Z');
INSERT INTO epoch_metrics VALUES (1, 1, 0.01, 1.5, 0.5, 1.0, '{"ce":1.5}', '{}', '2024-01-02T04:00:30Z'),
                                 (1, 2, 0.005, 1.1, 0.75, 1.0, '{"ce":1.1}', '{"base":1.0,"new":0.5}', '2024-01-02T04:00:59Z');
INSERT INTO evaluations VALUES (1, 1, 'base', '["cat"]', 1.0, 1, 1, '[1.0]', '[1]', X'01000000', '[]', 0.1,
                                '2024-01-02T04:01:00Z'),
                               (2, 1, 'new', '["dog"]', 0.5, 1, 2, '[0.5]', '[2]', X'02000000', '[]', 0.1,
                                '2024-01-02T04:01:00Z');
INSERT INTO predictions VALUES (1, 0, 1, '/data/old-pets/cat/1.png', 0, X'00000000', X'0000803F');
INSERT INTO exports VALUES (1, 1, 'exports/coop.sepmodel', '{"backbone":false}', '2024-01-02T05:00:00Z');
)sql";

const char *const kFixtureV2Changes = R"sql(
ALTER TABLE images ADD COLUMN content_hash TEXT;
ALTER TABLE images ADD COLUMN mtime_ns INTEGER;
ALTER TABLE images ADD COLUMN state TEXT NOT NULL DEFAULT 'present' CHECK (state IN ('present', 'missing'));
ALTER TABLE images ADD COLUMN last_seen TEXT;
UPDATE images SET last_seen = (SELECT scanned_at FROM datasets WHERE datasets.id = images.dataset_id);
CREATE INDEX images_hash ON images(content_hash);
ALTER TABLE datasets ADD COLUMN last_scan TEXT NOT NULL DEFAULT '{}';
CREATE TABLE run_images (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, image_id INTEGER NOT NULL REFERENCES images(id),
    role TEXT NOT NULL CHECK (role IN ('train')), content_hash TEXT, PRIMARY KEY (run_id, image_id, role));
CREATE INDEX run_images_image ON run_images(image_id);
UPDATE meta SET value = '2' WHERE key = 'schema_version';
UPDATE images SET content_hash = 'aaaa', state = 'missing' WHERE id = 1;
UPDATE images SET content_hash = 'bbbb' WHERE id = 2;
INSERT INTO run_images VALUES (1, 1, 'train', 'aaaa');
UPDATE datasets SET last_scan = '{"added":3}';
)sql";

const char *const kFixtureV3Changes = R"sql(
ALTER TABLE runs ADD COLUMN owner_start TEXT;
CREATE TABLE selections (
    evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
    modality TEXT NOT NULL CHECK (modality IN ('image', 'text', 'cls_attention')), item INTEGER NOT NULL,
    block INTEGER NOT NULL, indices BLOB NOT NULL, scores BLOB NOT NULL, attention BLOB NOT NULL,
    rows INTEGER NOT NULL, pieces TEXT, PRIMARY KEY (evaluation_id, modality, item, block)) WITHOUT ROWID;
UPDATE meta SET value = '3' WHERE key = 'schema_version';
UPDATE runs SET owner_start = '12345';
UPDATE classes SET name = 'Kitty' WHERE folder = 'cat';
)sql";

const char *const kFixtureV4Changes = R"sql(
ALTER TABLE classes ADD COLUMN given_name TEXT CHECK (given_name IS NULL OR given_name <> '');
UPDATE meta SET value = '4' WHERE key = 'schema_version';
UPDATE classes SET given_name = 'Mog' WHERE folder = 'cat';
)sql";

// A VFS that passes everything to the default one, except that writes fail as on a full disk while
// it is armed: the store sees SQLITE_FULL from deep inside SQLite, as it would on a real full disk.
namespace faulty {
std::atomic<bool> armed{false};
sqlite3_vfs *real = nullptr;
sqlite3_vfs vfs;
sqlite3_io_methods io;
struct File {
    sqlite3_file base;
    sqlite3_file *inner;
};
sqlite3_file *inner(sqlite3_file *f) { return reinterpret_cast<File *>(f)->inner; }

int xClose(sqlite3_file *f) { return inner(f)->pMethods->xClose(inner(f)); }
int xRead(sqlite3_file *f, void *p, int n, sqlite3_int64 o) { return inner(f)->pMethods->xRead(inner(f), p, n, o); }
int xWrite(sqlite3_file *f, const void *p, int n, sqlite3_int64 o)
{
    return armed ? SQLITE_FULL : inner(f)->pMethods->xWrite(inner(f), p, n, o);
}
int xTruncate(sqlite3_file *f, sqlite3_int64 n) { return inner(f)->pMethods->xTruncate(inner(f), n); }
int xSync(sqlite3_file *f, int flags) { return inner(f)->pMethods->xSync(inner(f), flags); }
int xFileSize(sqlite3_file *f, sqlite3_int64 *n) { return inner(f)->pMethods->xFileSize(inner(f), n); }
int xLock(sqlite3_file *f, int l) { return inner(f)->pMethods->xLock(inner(f), l); }
int xUnlock(sqlite3_file *f, int l) { return inner(f)->pMethods->xUnlock(inner(f), l); }
int xCheckReservedLock(sqlite3_file *f, int *r) { return inner(f)->pMethods->xCheckReservedLock(inner(f), r); }
int xFileControl(sqlite3_file *f, int op, void *a) { return inner(f)->pMethods->xFileControl(inner(f), op, a); }
int xSectorSize(sqlite3_file *f) { return inner(f)->pMethods->xSectorSize(inner(f)); }
int xDeviceCharacteristics(sqlite3_file *f) { return inner(f)->pMethods->xDeviceCharacteristics(inner(f)); }
int xShmMap(sqlite3_file *f, int i, int sz, int e, void volatile **pp)
{
    return inner(f)->pMethods->xShmMap(inner(f), i, sz, e, pp);
}
int xShmLock(sqlite3_file *f, int o, int n, int flags) { return inner(f)->pMethods->xShmLock(inner(f), o, n, flags); }
void xShmBarrier(sqlite3_file *f) { inner(f)->pMethods->xShmBarrier(inner(f)); }
int xShmUnmap(sqlite3_file *f, int d) { return inner(f)->pMethods->xShmUnmap(inner(f), d); }
int xFetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp) { return inner(f)->pMethods->xFetch(inner(f), o, n, pp); }
int xUnfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return inner(f)->pMethods->xUnfetch(inner(f), o, p); }

int xOpen(sqlite3_vfs *, sqlite3_filename name, sqlite3_file *f, int flags, int *outFlags)
{
    auto *file = reinterpret_cast<File *>(f);
    file->inner = reinterpret_cast<sqlite3_file *>(file + 1);
    const int rc = real->xOpen(real, name, file->inner, flags, outFlags);
    f->pMethods = rc == SQLITE_OK && file->inner->pMethods ? &io : nullptr;
    return rc;
}

const char *install()
{
    if (!real) {
        real = sqlite3_vfs_find(nullptr);
        vfs = *real;
        vfs.zName = "sep-test-faulty";
        vfs.szOsFile = static_cast<int>(sizeof(File)) + real->szOsFile;
        vfs.xOpen = xOpen;
        io = {3,       xClose,       xRead,       xWrite,    xTruncate, xSync,   xFileSize,
              xLock,   xUnlock,      xCheckReservedLock, xFileControl, xSectorSize, xDeviceCharacteristics,
              xShmMap, xShmLock,     xShmBarrier, xShmUnmap, xFetch,    xUnfetch};
        sqlite3_vfs_register(&vfs, 0);
    }
    return vfs.zName;
}
} // namespace faulty

int64_t deadPid()
{
    const pid_t child = ::fork();
    if (child == 0)
        ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
}

} // namespace

class TestProjects : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void newProjectHasTheCurrentSchema();
    void existingFilesAreNeverOverwritten();
    void migrationFromEveryEarlierVersion_data();
    void migrationFromEveryEarlierVersion();
    void migrationThatFailsChangesNothing();
    void importAndRescan();
    void rescanKeepsImagesThatRunsUsed();
    void movedDatasetChangesNothing();
    void checkFindsWhatTheStoreReliesOn();
    void projectInsideItsDatasetIsRefused();
    void pipeIsNotAProject();
    void classNamesStayInTheProject();
    void runsUseTheProjectsClassNames();
    void recordsReadBackExactly();
    void runNamesNotesAndRecord();
    void resumeOnOtherWeightsIsRefused();
    void trainingRunIsRecorded();
    void secondWriterIsToldWhoHasIt();
    void staleLockIsTakenOver();
    void foreignAndDamagedFiles_data();
    void foreignAndDamagedFiles();
    void newerSchemaIsRefused();
    void readOnlyFolder();
    void fullDiskDuringImport();
    void fullDiskDuringRun();

private:
    train::RunSpec spec(int64_t epochs) const;
    QString fresh(const QString &name) { return m_dir.filePath(name); }
    QTemporaryDir m_dir;
    QString m_data;
    test::ModelFiles m_model;
};

void TestProjects::initTestCase()
{
    m_model = test::writeTinyModelFiles(m_dir.path().toStdString(), 2);
    m_data = m_dir.filePath(QStringLiteral("colours"));
    test::writeColourFolder(m_data, kClasses, 6, 3);
}

namespace {

std::string fileSha256(const std::string &path)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(&file);
    return hash.result().toHex().toStdString();
}

} // namespace

train::RunSpec TestProjects::spec(int64_t epochs) const
{
    train::RunSpec s;
    s.data = m_data.toStdString();
    s.weights = m_model.weights;
    s.vocab = m_model.vocab;
    s.config = m_model.config;
    s.device = "cpu";
    s.method = "sep";
    s.shots = 2;
    s.seed = 1;
    s.baseToNew = true;
    s.train.epochs = epochs;
    s.train.batchSize = 4;
    s.train.lr = 0.01;
    s.train.evalEvery = 0;   // the test sets only at the end: quicker, and the final evaluation is what is recorded
    s.evalBatch = 16;
    return s;
}

void TestProjects::newProjectHasTheCurrentSchema()
{
    const QString path = fresh(QStringLiteral("new"));
    {
        auto store = ProjectStore::create(path.toStdString());
        QCOMPARE(store.path(), path.toStdString() + ".sepproj");
        QCOMPARE(store.schemaVersion(), projects::kSchemaVersion);
        QVERIFY(QFileInfo(path + QStringLiteral(".sepproj.d")).isDir());
        QVERIFY(QFile::exists(path + QStringLiteral(".sepproj.lock")));
        QVERIFY(store.runs().empty());
    }
    QVERIFY(!QFile::exists(path + QStringLiteral(".sepproj.lock")));   // released with the store
    Raw raw(path + QStringLiteral(".sepproj"), false);
    QCOMPARE(raw.count("PRAGMA application_id"), int64_t(projects::kApplicationId));
    QCOMPARE(raw.text("PRAGMA journal_mode"), std::string("wal"));
    QCOMPARE(raw.text("SELECT value FROM meta WHERE key = 'schema_version'"), std::to_string(projects::kSchemaVersion));
    QCOMPARE(raw.text("SELECT value FROM meta WHERE key = 'application'"), std::string(projects::kApplicationName));
    for (const char *table : {"datasets", "classes", "images", "runs", "checkpoints", "epoch_metrics", "evaluations",
                              "predictions", "selections", "run_images", "exports"})
        QVERIFY2(raw.count(std::string("SELECT COUNT(*) FROM sqlite_master WHERE name = '") + table + "'") == 1, table);
    // Reopening finds it whole, with or without the extension.
    auto again = ProjectStore::open(path.toStdString());
    QCOMPARE(again.schemaVersion(), projects::kSchemaVersion);
    QVERIFY(again.notes().empty());
    QCOMPARE(again.database().queryInt("PRAGMA foreign_keys"), int64_t(1));
    QVERIFY(again.database().queryInt("PRAGMA busy_timeout") > 0);
}

void TestProjects::existingFilesAreNeverOverwritten()
{
    const QString path = fresh(QStringLiteral("taken.sepproj"));
    {
        std::ofstream(path.toStdString()) << "my notes, not a project";
    }
    const auto before = fileHash(path);
    const auto message = errorOf([&] { ProjectStore::create(path.toStdString()); });
    VERIFY_MESSAGE(message, "already exists");
    QCOMPARE(fileHash(path), before);
    // A project too.
    const QString project = fresh(QStringLiteral("kept.sepproj"));
    { ProjectStore::create(project.toStdString()).importDataset(m_data.toStdString()); }
    const auto projectBefore = fileHash(project);
    VERIFY_MESSAGE(errorOf([&] { ProjectStore::create(project.toStdString()); }), "already exists");
    QCOMPARE(fileHash(project), projectBefore);
    QCOMPARE(ProjectStore::open(project.toStdString()).datasets().size(), size_t(1));
}

void TestProjects::migrationFromEveryEarlierVersion_data()
{
    QTest::addColumn<int>("version");
    // Every version before the current one needs a fixture here.
    for (int v = 1; v < projects::kSchemaVersion; ++v)
        QTest::newRow(("v" + std::to_string(v)).c_str()) << v;
}

void TestProjects::migrationFromEveryEarlierVersion()
{
    QFETCH(int, version);
    QVERIFY2(version <= 4, "a fixture for this schema version is missing from the test");
    const QString path = fresh(QStringLiteral("old-v%1.sepproj").arg(version));
    {
        Raw raw(path);
        raw.exec(kFixtureV1Schema);
        raw.exec(kFixtureV1Rows);
        if (version >= 2)
            raw.exec(kFixtureV2Changes);
        if (version >= 3)
            raw.exec(kFixtureV3Changes);
        if (version >= 4)
            raw.exec(kFixtureV4Changes);
    }
    const auto before = fileHash(path);

    // Read-only: upgraded in memory, the file untouched.
    {
        projects::OpenOptions ro;
        ro.readOnly = true;
        auto viewer = ProjectStore::open(path.toStdString(), ro);
        QCOMPARE(viewer.schemaVersion(), projects::kSchemaVersion);
        QCOMPARE(viewer.runs().size(), size_t(1));
        QCOMPARE(viewer.run(1).accuracy.at("new"), 0.5);
    }
    QCOMPARE(fileHash(path), before);

    auto store = ProjectStore::open(path.toStdString());
    QCOMPARE(store.schemaVersion(), projects::kSchemaVersion);
    QVERIFY(!store.notes().empty());
    const std::string backup = path.toStdString() + ".v" + std::to_string(version) + "-backup";
    QVERIFY(QFile::exists(QString::fromStdString(backup)));
    {
        Raw old(QString::fromStdString(backup), false);
        QCOMPARE(old.text("SELECT value FROM meta WHERE key = 'schema_version'"), std::to_string(version));
    }

    // The old rows, all there.
    const auto datasets = store.datasets();
    QCOMPARE(datasets.size(), size_t(1));
    QCOMPARE(datasets[0].root, std::string("/data/old-pets"));
    const auto runs = store.runs();
    QCOMPARE(runs.size(), size_t(1));
    const auto &r = runs[0];
    QCOMPARE(r.method, std::string("coop"));
    QCOMPARE(r.seed, uint64_t(7));
    QCOMPARE(r.status, std::string("finished"));
    QVERIFY(!r.interrupted);
    QCOMPARE(r.epochs, int64_t(2));
    QCOMPARE(r.epochsRecorded, int64_t(2));
    QCOMPARE(r.checkpointEpoch, int64_t(2));
    QCOMPARE(r.accuracy.at("base"), 1.0);
    QVERIFY(r.harmonicMean && std::abs(*r.harmonicMean - 2.0 / 3.0) < 1e-9);
    const auto epochs = store.epochs(1);
    QCOMPARE(epochs.size(), size_t(2));
    QCOMPARE(epochs[1].testAccuracy.at("new"), 0.5);
    QCOMPARE(epochs[0].parts.at("ce"), 1.5);
    const auto evals = store.evaluations(1);
    QCOMPARE(evals.size(), size_t(2));
    QCOMPARE(evals[0].confusion, std::vector<int64_t>{1});
    const auto preds = store.predictions(evals[0].id);
    QCOMPARE(preds.size(), size_t(1));
    QCOMPARE(preds[0].top, std::vector<int64_t>{0});
    QCOMPARE(preds[0].topProb, std::vector<float>{1.0f});
    QCOMPARE(preds[0].imageId.value_or(-1), int64_t(1));
    auto &db = store.database();
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM images"), int64_t(3));
    QCOMPARE(db.queryText("SELECT decode_reason FROM images WHERE id = 3"), std::string("not an image format we know"));
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM exports"), int64_t(1));
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM classes WHERE half = 'new'"), int64_t(1));
    if (version == 1) {
        QCOMPARE(db.queryInt("SELECT COUNT(*) FROM images WHERE state = 'present'"), int64_t(3));
        QCOMPARE(db.queryText("SELECT last_seen FROM images WHERE id = 1"), std::string("2024-01-02T03:05:00Z"));
    } else {
        QCOMPARE(db.queryText("SELECT state FROM images WHERE id = 1"), std::string("missing"));
        QCOMPARE(store.trainingImages(1), std::vector<int64_t>{1});
        QCOMPARE(db.queryText("SELECT last_scan FROM datasets"), std::string(R"({"added":3})"));
    }
    // New tables work on old data.
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM selections"), int64_t(0));
    // Names were the folder's before version 4 (a name from classnames.txt included): none is given.
    QCOMPARE(db.queryText("SELECT name FROM classes WHERE folder = 'cat'"), std::string(version >= 3 ? "Kitty" : "cat"));
    using Names = std::map<std::string, std::string>;
    const Names given = version >= 4 ? Names{{"cat", "Mog"}} : Names{};
    QCOMPARE(store.givenClassNames(1), given);
    store.setClassNames(1, {{"dog", "Doggo"}, {"cat", std::nullopt}});
    QCOMPARE(store.givenClassNames(1), (Names{{"dog", "Doggo"}}));
    // Before version 5 a run had no name, notes or record beyond its options; they read as such.
    QCOMPARE(r.name, std::string());
    QCOMPARE(r.weightsSha256, std::string());
    bool weightsNotRecorded = false;
    for (const auto &line : store.reproducibilityRecord(1))
        weightsNotRecorded |= line.label == "weights SHA-256" && line.value == "not recorded";
    QVERIFY(weightsNotRecorded);
    QVERIFY(!preds[0].trueRank && !preds[0].trueProb);
    store.setRunName(1, "from an old project");
    QCOMPARE(store.run(1).name, std::string("from an old project"));
    for (const auto &problem : store.check())   // the fixture's folders are not on this machine; nothing else
        QVERIFY2(problem.find("database") == std::string::npos, problem.c_str());

    // The upgraded schema is exactly a new project's.
    const QString fresh = this->fresh(QStringLiteral("compare-v%1").arg(version));
    { ProjectStore::create(fresh.toStdString()); }
    Raw a(path, false), b(fresh + QStringLiteral(".sepproj"), false);
    for (const std::string sql :
         {"SELECT m.name || '.' || p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' || COALESCE(p.dflt_value, '') "
          "|| ' ' || p.pk FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY m.name, p.cid",
          "SELECT m.name || ' ' || i.name || ' ' || i.\"unique\" FROM sqlite_master m, pragma_index_list(m.name) i "
          "WHERE m.type = 'table' ORDER BY 1",
          "SELECT m.name || ' ' || f.\"from\" || ' → ' || f.\"table\" || '.' || COALESCE(f.\"to\", '') || ' ' || f.on_delete "
          "FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' ORDER BY 1",
          "SELECT COUNT(*) FROM sqlite_master"})
        QCOMPARE(a.column(sql), b.column(sql));
}

void TestProjects::migrationThatFailsChangesNothing()
{
    // A v1 project with a prediction that points at an image that is not there (damaged by hand):
    // the upgrade's reference check refuses, and the project stays at version 1 with every row.
    const QString path = fresh(QStringLiteral("dangling.sepproj"));
    {
        Raw raw(path);
        raw.exec(kFixtureV1Schema);
        raw.exec(kFixtureV1Rows);
        raw.exec("INSERT INTO predictions VALUES (1, 1, 99, '/gone.png', 0, X'00000000', X'0000803F')");
    }
    const auto message = errorOf([&] { ProjectStore::open(path.toStdString()); });
    VERIFY_MESSAGE(message, "refer to missing rows");
    VERIFY_MESSAGE(message, "left unchanged");
    Raw raw(path, false);
    QCOMPARE(raw.text("SELECT value FROM meta WHERE key = 'schema_version'"), std::string("1"));
    QCOMPARE(raw.count("SELECT COUNT(*) FROM predictions"), int64_t(2));
    QCOMPARE(raw.count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'run_images'"), int64_t(0));
}

void TestProjects::importAndRescan()
{
    const QString data = fresh(QStringLiteral("rescan-data"));
    test::writeColourFolder(data, {"a", "b", "c"}, 3, 5);
    auto store = ProjectStore::create(fresh(QStringLiteral("rescan")).toStdString());
    auto first = store.importDataset(data.toStdString());
    QVERIFY(first.firstScan);
    QCOMPARE(first.classes, int64_t(3));
    QCOMPARE(first.images, int64_t(9));
    QCOMPARE(first.added.size(), size_t(9));
    QVERIFY(first.unreadable.empty());
    auto &db = store.database();
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM images WHERE content_hash IS NOT NULL AND decode_status = 'ok' AND width = 40"),
             int64_t(9));
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM classes WHERE half = 'base'"), int64_t(2));   // ceil(3/2)

    // Nothing changed: nothing reported.
    auto same = store.importDataset(data.toStdString());
    QVERIFY(!same.firstScan);
    QCOMPARE(same.datasetId, first.datasetId);
    QCOMPARE(same.unchanged, int64_t(9));
    QVERIFY(same.added.empty() && same.removed.empty() && same.changed.empty());

    // One added, one removed, one changed (other pixels, same name), one that does not decode.
    test::writePng(data + QStringLiteral("/a/new.png"), 40, 40, 10, 20, 30);
    QVERIFY(QFile::remove(data + QStringLiteral("/b/1.png")));
    QTest::qWait(20);   // a different modification time even on coarse clocks
    test::writePng(data + QStringLiteral("/c/0.png"), 40, 40, 200, 0, 0);
    {
        std::ofstream(data.toStdString() + "/c/broken.png") << "not really a png";
    }
    auto second = store.importDataset(data.toStdString());
    QCOMPARE(second.added, (std::vector<std::string>{"a/new.png", "c/broken.png"}));
    QCOMPARE(second.removed, std::vector<std::string>{"b/1.png"});
    QCOMPARE(second.changed, std::vector<std::string>{"c/0.png"});
    QCOMPARE(second.unchanged, int64_t(7));
    QCOMPARE(second.keptMissing, int64_t(0));   // no run used it: the row goes
    QCOMPARE(second.unreadable.size(), size_t(1));
    QCOMPARE(db.queryText("SELECT decode_status FROM images WHERE path = 'c/broken.png'"), std::string("failed"));
    QVERIFY(!db.queryText("SELECT decode_reason FROM images WHERE path = 'c/broken.png'").empty());
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM images"), int64_t(10));
    const auto info = store.datasets();
    QCOMPARE(info.size(), size_t(1));
    QCOMPARE(info[0].unreadable, int64_t(1));
    QCOMPARE(info[0].lastScan.value("changed", -1), 1);
}

void TestProjects::rescanKeepsImagesThatRunsUsed()
{
    const QString data = fresh(QStringLiteral("used-data"));
    test::writeColourFolder(data, {"a", "b"}, 3, 6);
    auto store = ProjectStore::create(fresh(QStringLiteral("used")).toStdString());
    const auto report = store.importDataset(data.toStdString());
    auto s = spec(1);
    s.data = report.root;
    const int64_t run = store.createRun(s, report.datasetId);
    store.runStarted(run, s, nlohmann::json::object(), "cpu", {report.root + "/a/0.png", report.root + "/b/2.png"}, false);
    store.runEnded(run, "finished", "");
    QCOMPARE(store.trainingImages(run).size(), size_t(2));

    QVERIFY(QFile::remove(data + QStringLiteral("/a/0.png")));   // used by the run
    QVERIFY(QFile::remove(data + QStringLiteral("/a/1.png")));   // not used
    const auto rescan = store.importDataset(data.toStdString());
    QCOMPARE(rescan.removed.size(), size_t(2));
    QCOMPARE(rescan.keptMissing, int64_t(1));
    auto &db = store.database();
    QCOMPARE(db.queryText("SELECT state FROM images WHERE path = 'a/0.png'"), std::string("missing"));
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM images WHERE path = 'a/1.png'"), int64_t(0));
    QCOMPARE(store.trainingImages(run).size(), size_t(2));   // the run's record is whole
    QCOMPARE(store.datasets()[0].missing, int64_t(1));

    // Back again: the same row, present.
    test::writePng(data + QStringLiteral("/a/0.png"), 40, 40, 1, 2, 3);
    const auto back = store.importDataset(data.toStdString());
    QCOMPARE(back.restored, std::vector<std::string>{"a/0.png"});
    QCOMPARE(db.queryText("SELECT state FROM images WHERE path = 'a/0.png'"), std::string("present"));

    // A run that still runs (this process) cannot be removed; a finished one can, with its folder.
    const int64_t queued = store.createRun(s, report.datasetId);
    VERIFY_MESSAGE(errorOf([&] { store.removeRun(queued); }), "queued in PID " + std::to_string(::getpid()));
    QDir().mkpath(QString::fromStdString(store.runFolder(run)));
    store.removeRun(run);
    QVERIFY(!QFileInfo::exists(QString::fromStdString(store.folder() + "/runs/0001-sep-2shot-seed1")));
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM run_images"), int64_t(0));
    QVERIFY(errorOf([&] { store.run(run); }).find("has no run") != std::string::npos);
}

void TestProjects::movedDatasetChangesNothing()
{
    const QString data = fresh(QStringLiteral("moving-data"));
    test::writeColourFolder(data, {"a", "b"}, 2, 7);
    const std::string path = fresh(QStringLiteral("moving")).toStdString();
    auto store = ProjectStore::create(path);
    const auto report = store.importDataset(data.toStdString());
    auto s = spec(1);
    s.data = report.root;
    const int64_t run = store.createRun(s, report.datasetId);
    store.runStarted(run, s, nlohmann::json::object(), "cpu", {report.root + "/a/0.png"}, false);
    store.runEnded(run, "finished", "");
    auto &db = store.database();
    const int64_t images = db.queryInt("SELECT COUNT(*) FROM images");

    const QString moved = fresh(QStringLiteral("moved-data"));
    QVERIFY(QDir().rename(data, moved));
    const auto message = errorOf([&] { store.importDataset(data.toStdString()); });
    VERIFY_MESSAGE(message, "folder not found");
    VERIFY_MESSAGE(message, "nothing was changed");
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM images"), images);
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM images WHERE state = 'present'"), images);
    QCOMPARE(store.trainingImages(run).size(), size_t(1));
    const auto problems = store.check();
    QVERIFY(std::any_of(problems.begin(), problems.end(),
                        [](const std::string &p) { return p.find("is not there") != std::string::npos; }));
    // From its new place it is another dataset; the old records stay for the old run.
    const auto second = store.importDataset(moved.toStdString());
    QVERIFY(second.firstScan);
    QCOMPARE(store.datasets().size(), size_t(2));
    QCOMPARE(store.run(run).status, std::string("finished"));
}

void TestProjects::checkFindsWhatTheStoreReliesOn()
{
    // SQLite's own checks pass on every row below; each is still something the store cannot use.
    auto store = ProjectStore::create(fresh(QStringLiteral("hostile-rows")).toStdString());
    QVERIFY(store.check().empty());
    std::vector<int64_t> ids;
    for (int i = 0; i < 6; ++i)
        ids.push_back(store.createRun(spec(1), std::nullopt));
    QVERIFY(store.check().empty());
    auto &db = store.database();
    auto set = [&](int64_t id, const std::string &assignment) {
        db.exec("UPDATE runs SET " + assignment + " WHERE id = " + std::to_string(id));
    };
    set(ids[0], "spec = '{\"data\": '");                                // invalid JSON
    set(ids[1], "method = 'bogus'");                                     // unknown method
    set(ids[2], "shots = -3");                                           // negative shots
    set(ids[3], "seed = 'many'");                                        // text where a number belongs
    set(ids[4], "folder = '/etc'");                                      // outside the project
    set(ids[5], "folder = 'runs/../../../elsewhere'");
    auto specJson = spec(1).toJson();
    specJson["shots"] = -2;
    specJson["method_options"] = {{"n_ctx", "six"}};
    const int64_t badSpec = store.createRun(spec(1), std::nullopt);
    db.prepare("UPDATE runs SET spec = ? WHERE id = ?").bind(1, specJson.dump()).bind(2, badSpec).run();

    const auto problems = store.check();
    auto has = [&](int64_t id, const std::string &needle) {
        const std::string run = "run " + std::to_string(id);
        return std::any_of(problems.begin(), problems.end(), [&](const std::string &p) {
            return p.find(run) != std::string::npos && p.find(needle) != std::string::npos;
        });
    };
    std::string all;
    for (const auto &p : problems)
        all += p + "\n";
    QVERIFY2(has(ids[0], "not valid JSON"), all.c_str());
    QVERIFY2(has(ids[1], "unknown method 'bogus'"), all.c_str());
    QVERIFY2(has(ids[2], "shots column holds '-3'"), all.c_str());
    QVERIFY2(has(ids[3], "seed column holds 'many'"), all.c_str());
    QVERIFY2(has(ids[4], "outside the project folder"), all.c_str());
    QVERIFY2(has(ids[5], "outside the project folder"), all.c_str());
    QVERIFY2(has(badSpec, "'shots' is -2"), all.c_str());
    // The store itself never hands out a folder outside the project.
    VERIFY_MESSAGE(errorOf([&] { store.runFolder(ids[4]); }), "outside the project folder");
    const auto listed = store.run(ids[5]);
    QVERIFY2(listed.folder.rfind(std::filesystem::absolute(store.folder()).string(), 0) == 0, listed.folder.c_str());
    VERIFY_MESSAGE(listed.message, "outside the project folder");
}

void TestProjects::projectInsideItsDatasetIsRefused()
{
    const QString data = fresh(QStringLiteral("holds-its-project"));
    test::writeColourFolder(data, {"a", "b"}, 2, 4);
    auto store = ProjectStore::create((data + QStringLiteral("/p.sepproj")).toStdString());
    const auto message = errorOf([&] { store.importDataset(data.toStdString()); });
    VERIFY_MESSAGE(message, "the project folder");
    VERIFY_MESSAGE(message, "inside the dataset folder");
    QVERIFY(store.datasets().empty());
}

void TestProjects::pipeIsNotAProject()
{
    // Opening a FIFO to read its header would wait for a writer forever.
    const std::string path = fresh(QStringLiteral("pipe.sepproj")).toStdString();
    QCOMPARE(::mkfifo(path.c_str(), 0600), 0);
    for (bool readOnly : {false, true}) {
        projects::OpenOptions o;
        o.readOnly = readOnly;
        const auto message = errorOf([&] { ProjectStore::open(path, o); });
        VERIFY_MESSAGE(message, "pipe.sepproj");
        VERIFY_MESSAGE(message, "named pipe");
    }
}

void TestProjects::classNamesStayInTheProject()
{
    const QString data = fresh(QStringLiteral("names-data"));
    test::writeColourFolder(data, {"a", "b", "c"}, 2, 9);
    {
        std::ofstream(data.toStdString() + "/classnames.txt") << "a apple\nb bear\n";
    }
    auto store = ProjectStore::create(fresh(QStringLiteral("names")).toStdString());
    const int64_t id = store.importDataset(data.toStdString()).datasetId;
    auto &db = store.database();
    const auto scanned = [&](const std::string &folder) {
        return db.queryText("SELECT name FROM classes WHERE folder = '" + folder + "'");
    };
    QCOMPARE(scanned("a"), std::string("apple"));   // the folder's own names, as the engine reads them
    QVERIFY(store.givenClassNames(id).empty());

    const QStringList before = test::folderSnapshot(data);
    store.setClassNames(id, {{"b", "bee"}, {"c", "cherry"}});
    QCOMPARE(store.givenClassNames(id), (std::map<std::string, std::string>{{"b", "bee"}, {"c", "cherry"}}));
    QCOMPARE(test::folderSnapshot(data), before);

    // Refused whole, with the reason: an unknown folder, an empty or multi-line name, an unknown dataset.
    VERIFY_MESSAGE(errorOf([&] { store.setClassNames(id, {{"a", "avocado"}, {"zebra", "z"}}); }), "no class folder 'zebra'");
    VERIFY_MESSAGE(errorOf([&] { store.setClassNames(id, {{"a", ""}}); }), "one line");
    VERIFY_MESSAGE(errorOf([&] { store.setClassNames(id, {{"a", "two\nlines"}}); }), "one line");
    VERIFY_MESSAGE(errorOf([&] { store.setClassNames(id + 7, {{"a", "x"}}); }), "no dataset");
    QCOMPARE(store.givenClassNames(id), (std::map<std::string, std::string>{{"b", "bee"}, {"c", "cherry"}}));

    // A rescan follows the folder's names and keeps the given ones, even where the folder renamed too.
    {
        std::ofstream(data.toStdString() + "/classnames.txt") << "a apricot\nb bison\n";
    }
    store.importDataset(data.toStdString());
    QCOMPARE(scanned("a"), std::string("apricot"));
    QCOMPARE(scanned("b"), std::string("bison"));
    QCOMPARE(store.givenClassNames(id), (std::map<std::string, std::string>{{"b", "bee"}, {"c", "cherry"}}));

    // Taken back, the folder names the class again.
    store.setClassNames(id, {{"c", std::nullopt}});
    QCOMPARE(store.givenClassNames(id), (std::map<std::string, std::string>{{"b", "bee"}}));

    // A read-only view reads them and cannot write them.
    projects::OpenOptions ro;
    ro.readOnly = true;
    auto viewer = ProjectStore::open(store.path(), ro);
    QCOMPARE(viewer.givenClassNames(id), store.givenClassNames(id));
    VERIFY_MESSAGE(errorOf([&] { viewer.setClassNames(id, {{"a", "x"}}); }), "read-only");
}

void TestProjects::runsUseTheProjectsClassNames()
{
    const QString data = fresh(QStringLiteral("named-run-data"));
    test::writeColourFolder(data, kClasses, 3, 4);
    auto store = ProjectStore::create(fresh(QStringLiteral("named-run")).toStdString());
    const auto report = store.importDataset(data.toStdString());
    store.setClassNames(report.datasetId, {{"blue", "sky"}, {"coral", "reef"}});
    const QStringList before = test::folderSnapshot(data);
    auto s = spec(1);
    s.method = "zeroshot";
    s.data = report.root;
    const int64_t id = store.createRun(s, report.datasetId);
    projects::runRecorded(store, id, s, {});

    const auto r = store.run(id);
    QCOMPARE(r.status, std::string("finished"));
    const std::map<std::string, std::string> given{{"blue", "sky"}, {"coral", "reef"}};
    QCOMPARE(train::readRunSpec(r.folder).classNames, given);   // resume and evaluation read them there
    QCOMPARE(r.spec.at("class_names").get<decltype(given)>(), given);
    std::map<std::string, std::vector<std::string>> classes;
    for (const auto &e : store.evaluations(id))
        classes[e.set] = e.classes;
    QCOMPARE(classes["base"], (std::vector<std::string>{"amber", "sky"}));
    QCOMPARE(classes["new"], (std::vector<std::string>{"reef", "dark green"}));
    QCOMPARE(test::folderSnapshot(data), before);
}

void TestProjects::recordsReadBackExactly()
{
    auto store = ProjectStore::create(fresh(QStringLiteral("exact")).toStdString());
    auto s = spec(3);
    const int64_t run = store.createRun(s, std::nullopt);
    store.runStarted(run, s, {{"train_images", 4}}, "cpu", {}, false);

    train::EpochRecord e;
    e.epoch = 1;
    e.lr = 1e-5;
    e.loss = 2.5;
    e.trainAccuracy = 0.25;
    e.seconds = 0.5;
    e.parts = {{"ce", 2.0}, {"kd", 0.5}};
    store.recordEpoch(run, e);
    e.eval = {{"base", 0.75}, {"new", 0.5}};
    store.recordEpoch(run, e);   // the same epoch again, now with its test accuracy
    const auto epochs = store.epochs(run);
    QCOMPARE(epochs.size(), size_t(1));
    QCOMPARE(epochs[0].testAccuracy.at("base"), 0.75);
    QCOMPARE(epochs[0].parts.at("kd"), 0.5);
    QCOMPARE(epochs[0].lr, 1e-5);

    train::EvalResult result;
    result.confusion = train::Confusion(3);
    result.confusion.add(0, 0);
    result.confusion.add(1, 2);
    result.confusion.add(2, 2);
    for (int i = 0; i < 3; ++i) {
        train::ImagePrediction p;
        p.path = "/x/" + std::to_string(i) + ".png";
        p.label = i;
        p.top = {i == 1 ? 2 : i, 1, 0};
        p.topProb = {0.5f, 0.3f, 0.2f};
        p.trueRank = i == 2 ? 0 : i + 1;   // image 2: no rank known
        p.trueProb = i == 2 ? 0.f : 1.f / 3.f;
        result.predictions.push_back(p);
        prompt::ImageSelection sel;
        prompt::ImageLayerSelection layer;
        layer.block = 7;
        layer.tokens = {0, 5 + i, 16};
        layer.scores = {3.5f, 2.25f, -1.0f / 3.0f};
        layer.attention = {0.1f, 0.2f, 0.7f, 0.3f, 0.3f, 0.4f};   // 2 prompts × 3
        sel.layers = {layer};
        sel.clsAttention = {{0.25f, 0.75f}, {0.5f, 0.5f}};
        result.selections.push_back(sel);
    }
    result.failures = {{"/x/bad.png", "not an image"}};
    prompt::ClassSelection cs;
    cs.className = "c";
    cs.pieces = {"red</w>", ""};
    prompt::TextLayerSelection tl;
    tl.block = 3;
    tl.positions = {5, 6};
    tl.attention = {0.5f, 0.5f, 1.0f, 0.0f};
    cs.layers = {tl};
    store.recordEvaluation(run, "all", {"a", "b", "c"}, result, {cs});

    const auto evals = store.evaluations(run);
    QCOMPARE(evals.size(), size_t(1));
    const auto &ev = evals[0];
    QCOMPARE(ev.accuracy, 2.0 / 3.0);
    QCOMPARE(ev.confusion, result.confusion.cells());
    QCOMPARE(ev.perClassCount, (std::vector<int64_t>{1, 1, 1}));
    QCOMPARE(ev.perClassAccuracy[1].value_or(-1), 0.0);
    QCOMPARE(ev.failures.size(), size_t(1));
    QCOMPARE(ev.predictions, int64_t(3));
    QCOMPARE(ev.selections, int64_t(3 * 3 + 1));
    const auto preds = store.predictions(ev.id);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(preds[i].top, result.predictions[i].top);
        QCOMPARE(preds[i].topProb, result.predictions[i].topProb);
        QCOMPARE(preds[i].trueRank.has_value(), i != 2);   // 0 is stored as "not known"
        if (i != 2) {
            QCOMPARE(*preds[i].trueRank, int64_t(i + 1));
            QCOMPARE(*preds[i].trueProb, 1.f / 3.f);          // float → REAL → float is exact
        }
        QVERIFY(!preds[i].imageId);
        const auto sel = store.imageSelection(ev.id, i);
        QCOMPARE(sel.layers.size(), size_t(1));
        QCOMPARE(sel.layers[0].block, int64_t(7));
        QCOMPARE(sel.layers[0].tokens, result.selections[i].layers[0].tokens);
        QCOMPARE(sel.layers[0].scores, result.selections[i].layers[0].scores);   // bit for bit
        QCOMPARE(sel.layers[0].attention, result.selections[i].layers[0].attention);
        QCOMPARE(sel.clsAttention, result.selections[i].clsAttention);
    }
    const auto classes = store.classSelections(ev.id);
    QCOMPARE(classes.size(), size_t(1));
    QCOMPARE(classes[0].className, std::string("c"));
    QCOMPARE(classes[0].pieces, cs.pieces);
    QCOMPARE(classes[0].layers[0].positions, tl.positions);
    QCOMPARE(classes[0].layers[0].attention, tl.attention);
    // Recorded again (a resumed run's final evaluation): replaced, not doubled.
    store.recordEvaluation(run, "all", {"a", "b", "c"}, result, {cs});
    QCOMPARE(store.database().queryInt("SELECT COUNT(*) FROM predictions"), int64_t(3));
    QCOMPARE(store.database().queryInt("SELECT COUNT(*) FROM selections"), int64_t(10));

    const int64_t exportId = store.recordExport(run, store.folder() + "/exports/a.sepmodel", {{"backbone", true}});
    QCOMPARE(store.database().queryText("SELECT path FROM exports WHERE id = " + std::to_string(exportId)),
             std::string("exports/a.sepmodel"));
    store.runEnded(run, "finished", "");
    const auto details = store.runDetails(run);
    QCOMPARE(details["evaluations"][0]["confusion"][1][2].get<int64_t>(), int64_t(1));
    QCOMPARE(details["exports"].size(), size_t(1));
    QCOMPARE(store.run(run).status, std::string("finished"));
}

void TestProjects::runNamesNotesAndRecord()
{
    auto store = ProjectStore::create(fresh(QStringLiteral("named")).toStdString());
    const auto report = store.importDataset(m_data.toStdString());
    auto s = spec(1);
    s.data = report.root;
    const int64_t id = store.createRun(s, report.datasetId);
    projects::runRecorded(store, id, s, {});

    // The record names what the run used: these values are computed here independently.
    const std::string weightsSha256 = fileSha256(m_model.weights);   // Qt's hash, not the engine's
    QCOMPARE(store.run(id).weightsSha256, weightsSha256);
    QCOMPARE(store.run(id).program, sep::programName());
    std::map<std::string, std::string> record;
    for (const auto &line : store.reproducibilityRecord(id))
        record[line.label] = line.value;
    QCOMPARE(record["seed"], std::to_string(s.seed));
    QCOMPARE(record["weights SHA-256"], weightsSha256);
    QCOMPARE(record["program"], sep::programName());
    QCOMPARE(record["split"], std::to_string(store.trainingImages(id).size()) + " training images, SHA-256 "
                                  + store.splitFingerprint(id));
    QCOMPARE(record["training options"], store.run(id).spec["train"].dump());
    // Every method option appears, also those the spec left at their defaults (SEP's fusion mode
    // changes the numbers whether or not a person chose it).
    const auto options = nlohmann::json::parse(record["method options"]);
    QCOMPARE(options.value("fusion", std::string()), std::string("per-sample"));
    QCOMPARE(options.value("k_text", 0), 6);
    QCOMPARE(options.size(), sep::prompt::methodEntry("sep").options.size());
    QCOMPARE(store.runDetails(id)["record"]["weights SHA-256"].get<std::string>(), record["weights SHA-256"]);

    QCOMPARE(store.run(id).name, std::string());
    store.setRunName(id, "first try · ünïcode");
    store.setRunNotes(id, "line one\nline two\n");
    QCOMPARE(store.run(id).name, std::string("first try · ünïcode"));
    QCOMPARE(store.run(id).notes, std::string("line one\nline two\n"));
    QCOMPARE(store.runs().front().name, std::string("first try · ünïcode"));
    // Refused, each leaving both as they were.
    QVERIFY_THROWS_EXCEPTION(sep::Error, store.setRunName(id, "two\nlines"));
    QVERIFY_THROWS_EXCEPTION(sep::Error, store.setRunName(id, std::string(ProjectStore::kMaxRunNameBytes + 1, 'x')));
    QVERIFY_THROWS_EXCEPTION(sep::Error, store.setRunName(id, "bad \xff byte"));
    QVERIFY_THROWS_EXCEPTION(sep::Error, store.setRunNotes(id, std::string(ProjectStore::kMaxRunNotesBytes + 1, 'x')));
    QVERIFY_THROWS_EXCEPTION(sep::Error, store.setRunName(id + 100, "nobody"));
    QCOMPARE(store.run(id).name, std::string("first try · ünïcode"));
    QCOMPARE(store.run(id).notes, std::string("line one\nline two\n"));
    // A name can be taken back; the maximum fits.
    store.setRunName(id, "");
    QCOMPARE(store.run(id).name, std::string());
    store.setRunName(id, std::string(ProjectStore::kMaxRunNameBytes, 'n'));
    // Recording never touches them: a run starting again (a resume) keeps both.
    store.setRunNotes(id, "kept");
    store.runStarted(id, s, {}, "cpu", {}, true);
    QCOMPARE(store.run(id).notes, std::string("kept"));
    QCOMPARE(store.run(id).name.size(), ProjectStore::kMaxRunNameBytes);

    // A read-only view cannot write them.
    projects::OpenOptions o;
    o.readOnly = true;
    auto viewer = ProjectStore::open(store.path(), o);
    QVERIFY_THROWS_EXCEPTION(sep::Error, viewer.setRunNotes(id, "x"));
}

void TestProjects::resumeOnOtherWeightsIsRefused()
{
    // Weights of its own: they are overwritten below.
    QVERIFY(QDir().mkpath(fresh(QStringLiteral("own-model"))) && QDir().mkpath(fresh(QStringLiteral("other-model"))));
    const auto model = test::writeTinyModelFiles(fresh(QStringLiteral("own-model")).toStdString(), 2);
    const auto other = test::writeTinyModelFiles(fresh(QStringLiteral("other-model")).toStdString(), 5);
    auto s = spec(1);
    s.weights = model.weights;
    s.vocab = model.vocab;
    const std::string runDir = fresh(QStringLiteral("weights-run")).toStdString();
    train::trainRun(s, runDir, false, {});
    // The same weights again: resuming is fine (here: the final evaluation again).
    train::trainRun(s, runDir, true, {});
    std::filesystem::copy_file(other.weights, model.weights, std::filesystem::copy_options::overwrite_existing);
    try {
        train::trainRun(s, runDir, true, {});
        QFAIL("a resume on other weights was accepted");
    } catch (const sep::Error &e) {
        const QString message = QString::fromUtf8(e.what());
        QVERIFY2(message.contains(QStringLiteral("not the ones the run started with")), e.what());
        QVERIFY2(message.contains(QString::fromStdString(model.weights)), e.what());
    }
}

void TestProjects::trainingRunIsRecorded()
{
    auto store = ProjectStore::create(fresh(QStringLiteral("trained")).toStdString());
    const auto report = store.importDataset(m_data.toStdString());
    auto s = spec(2);
    s.data = report.root;
    const int64_t id = store.createRun(s, report.datasetId);
    QCOMPARE(store.run(id).status, std::string("queued"));
    const auto summary = projects::runRecorded(store, id, s, {});

    const auto r = store.run(id);
    QCOMPARE(r.status, std::string("finished"));
    QVERIFY(!r.interrupted);
    QCOMPARE(r.epochsRecorded, int64_t(2));
    QCOMPARE(r.checkpointEpoch, int64_t(2));
    QCOMPARE(r.device, std::string("cpu"));
    QVERIFY(!r.model.empty());
    QCOMPARE(r.owner.pid, int64_t(::getpid()));
    QCOMPARE(r.spec["train"]["epochs"].get<int64_t>(), int64_t(2));
    QVERIFY(QFileInfo(QString::fromStdString(r.folder + "/checkpoints/last.safetensors")).isFile());
    QVERIFY(QString::fromStdString(r.folder).startsWith(QString::fromStdString(std::filesystem::absolute(store.folder()).string())));
    QCOMPARE(r.accuracy.at("base"), summary.accuracy.at("base"));
    QCOMPARE(r.accuracy.at("new"), summary.accuracy.at("new"));
    QVERIFY(std::abs(r.harmonicMean.value_or(-1) - summary.harmonicMean) < 1e-12);
    QCOMPARE(store.trainingImages(id).size(), size_t(2 * 2));   // 2 shots × 2 base classes

    const auto epochs = store.epochs(id);
    QCOMPARE(epochs.size(), size_t(2));
    QVERIFY(epochs[1].testAccuracy.count("base") && epochs[1].testAccuracy.count("new"));
    const auto evals = store.evaluations(id);
    QCOMPARE(evals.size(), size_t(2));
    for (const auto &ev : evals) {
        QCOMPARE(ev.predictions, ev.total);
        QVERIFY(ev.selections > 0);
        int64_t correct = 0;
        for (const auto &p : store.predictions(ev.id)) {
            QVERIFY(p.imageId.has_value());
            QCOMPARE(p.top.size(), size_t(2));   // top-5 of 2 classes
            correct += p.top[0] == p.label;
            // The true class's rank agrees with its place in the full top list (all classes here),
            // and its probability with the one stored there.
            const auto at = std::find(p.top.begin(), p.top.end(), p.label);
            QVERIFY(at != p.top.end());
            QCOMPARE(p.trueRank.value_or(-1), int64_t(at - p.top.begin()) + 1);
            QCOMPARE(p.trueProb.value_or(-1.f), p.topProb[static_cast<size_t>(at - p.top.begin())]);
        }
        QCOMPARE(correct, ev.correct);
        // The same selections as the run folder's selections.jsonl.
        std::ifstream in(r.folder + "/eval-" + ev.set + "/selections.jsonl");
        std::string line;
        QVERIFY(std::getline(in, line));
        const auto first = nlohmann::json::parse(line);
        const auto stored = store.imageSelection(ev.id, 0);
        QCOMPARE(stored.layers.size(), first["layers"].size());
        QCOMPARE(stored.layers[0].tokens, first["layers"][0]["tokens"].get<std::vector<int64_t>>());
        QVERIFY(!store.classSelections(ev.id).empty());
    }
    QCOMPARE(store.summary()["runs"]["total"].get<int64_t>(), int64_t(1));
    QVERIFY(store.check().empty());

    store.removeRun(id);
    QVERIFY(!QFileInfo::exists(QString::fromStdString(r.folder)));
    auto &db = store.database();
    for (const char *table : {"runs", "epoch_metrics", "checkpoints", "evaluations", "predictions", "selections", "run_images"})
        QVERIFY2(db.queryInt(std::string("SELECT COUNT(*) FROM ") + table) == 0, table);
    QCOMPARE(db.queryInt("SELECT COUNT(*) FROM images"), report.images);   // the dataset stays
}

void TestProjects::secondWriterIsToldWhoHasIt()
{
    const std::string path = fresh(QStringLiteral("shared")).toStdString();
    projects::OpenOptions writer;
    writer.purpose = "SEP Studio";
    auto first = ProjectStore::create(path, writer);
    first.importDataset(m_data.toStdString());

    const auto message = errorOf([&] { ProjectStore::open(path); });
    VERIFY_MESSAGE(message, "is in use by PID " + std::to_string(::getpid()) + " on " + projects::hostName() + " since ");
    VERIFY_MESSAGE(message, "(SEP Studio)");
    VERIFY_MESSAGE(message, "read-only");

    projects::OpenOptions ro;
    ro.readOnly = true;
    auto viewer = ProjectStore::open(path, ro);
    QVERIFY(viewer.readOnly());
    QVERIFY(viewer.inUseBy().has_value());
    QCOMPARE(viewer.inUseBy()->pid, int64_t(::getpid()));
    QCOMPARE(viewer.datasets().size(), size_t(1));
    VERIFY_MESSAGE(errorOf([&] { viewer.importDataset(m_data.toStdString()); }), "opened read-only");

    // Writes made meanwhile show up in the open viewer (WAL: readers see each commit).
    auto s = spec(1);
    first.createRun(s, std::nullopt);
    QCOMPARE(viewer.runs().size(), size_t(1));

    first = ProjectStore::create(fresh(QStringLiteral("elsewhere")).toStdString());   // closes the first project
    auto second = ProjectStore::open(path);
    QCOMPARE(second.runs().size(), size_t(1));
}

void TestProjects::staleLockIsTakenOver()
{
    const std::string path = fresh(QStringLiteral("stale")).toStdString() + ".sepproj";
    { ProjectStore::create(path).importDataset(m_data.toStdString()); }
    const int64_t dead = deadPid();
    {
        std::ofstream(path + ".lock") << nlohmann::json{{"pid", dead}, {"host", projects::hostName()}, {"start", ""},
                                                        {"since", "2020-01-01T00:00:00Z"}, {"purpose", "sep train"}}
                                             .dump();
    }
    QCOMPARE(projects::liveness(dead, projects::hostName(), ""), projects::Liveness::Dead);
    QVERIFY(!projects::ProjectLock::holder(path + ".lock").has_value());
    {
        auto store = ProjectStore::open(path);
        QVERIFY(std::any_of(store.notes().begin(), store.notes().end(), [&](const std::string &n) {
            return n.find("PID " + std::to_string(dead)) != std::string::npos && n.find("taken over") != std::string::npos;
        }));
        QCOMPARE(store.datasets().size(), size_t(1));
        const auto holder = projects::ProjectLock::holder(path + ".lock");
        QVERIFY(holder.has_value());
        QCOMPARE(holder->pid, int64_t(::getpid()));
    }
    // A lock file cut short (a crash while it was written) is no obstacle either.
    {
        std::ofstream(path + ".lock") << "{\"pid\": 12";
    }
    QCOMPARE(ProjectStore::open(path).datasets().size(), size_t(1));
    // A live process named in a lock file it does not hold (flock is the authority): taken over too.
    QCOMPARE(projects::liveness(::getpid(), projects::hostName(), projects::ProcessIdentity::current().start),
             projects::Liveness::Alive);
    QCOMPARE(projects::liveness(::getpid(), projects::hostName(), "1"), projects::Liveness::Dead);   // a reused PID
    QCOMPARE(projects::liveness(::getpid(), "another-host", ""), projects::Liveness::Unknown);
}

void TestProjects::foreignAndDamagedFiles_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("expected");
    QTest::newRow("png renamed") << QStringLiteral("png") << QStringLiteral("not a SEP Studio project (it is a PNG image)");
    QTest::newRow("text") << QStringLiteral("text") << QStringLiteral("looks like a text file");
    QTest::newRow("empty") << QStringLiteral("empty") << QStringLiteral("is empty");
    QTest::newRow("other app's sqlite") << QStringLiteral("sqlite") << QStringLiteral("probably another program's database");
    QTest::newRow("other app id") << QStringLiteral("appid") << QStringLiteral("belongs to another program");
    QTest::newRow("other app's sqlite, log pending")
        << QStringLiteral("wal") << QStringLiteral("probably another program's database");
    QTest::newRow("truncated") << QStringLiteral("truncated") << QStringLiteral("is truncated");
    QTest::newRow("header only") << QStringLiteral("header") << QStringLiteral("is truncated");
    QTest::newRow("folder") << QStringLiteral("folder") << QStringLiteral("is a folder");
}

void TestProjects::foreignAndDamagedFiles()
{
    QFETCH(QString, kind);
    QFETCH(QString, expected);
    const QString path = fresh(QStringLiteral("foreign-%1.sepproj").arg(kind));
    if (kind == QStringLiteral("png")) {
        test::writePng(path + QStringLiteral(".png"), 8, 8, 1, 2, 3);   // the encoder goes by the extension
        QVERIFY(QFile::rename(path + QStringLiteral(".png"), path));
    } else if (kind == QStringLiteral("text")) {
        std::ofstream(path.toStdString()) << "shopping list\n";
    } else if (kind == QStringLiteral("empty")) {
        std::ofstream(path.toStdString()).flush();
    } else if (kind == QStringLiteral("sqlite") || kind == QStringLiteral("appid")) {
        Raw raw(path);
        raw.exec("CREATE TABLE contacts(name TEXT); INSERT INTO contacts VALUES ('Ada');");
        if (kind == QStringLiteral("appid"))
            raw.exec("PRAGMA application_id = 1179011410");
    } else if (kind == QStringLiteral("wal")) {
        // Its last writes still in the log beside it (a program that did not checkpoint on close).
        Raw raw(path);
        raw.exec("PRAGMA journal_mode = WAL; CREATE TABLE contacts(name TEXT);");
        sqlite3_db_config(raw.db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
        raw.exec("INSERT INTO contacts VALUES ('Ada');");
    } else if (kind == QStringLiteral("truncated") || kind == QStringLiteral("header")) {
        {
            auto store = ProjectStore::create(path.toStdString());
            store.importDataset(m_data.toStdString());
        }
        QFile f(path);
        QVERIFY(f.size() > 8192);
        QVERIFY(f.resize(kind == QStringLiteral("header") ? 60 : f.size() / 2));
    } else if (kind == QStringLiteral("folder")) {
        QVERIFY(QDir().mkpath(path));
    }
    const auto before = fileHash(path);
    const auto logBefore = fileHash(path + QStringLiteral("-wal"));
    if (kind == QStringLiteral("wal"))
        QVERIFY(QFileInfo(path + QStringLiteral("-wal")).size() > 0);
    for (bool readOnly : {false, true}) {
        projects::OpenOptions o;
        o.readOnly = readOnly;
        const auto message = errorOf([&] { ProjectStore::open(path.toStdString(), o); });
        VERIFY_MESSAGE(message, expected.toStdString());
        VERIFY_MESSAGE(message, path.toStdString());
        if (kind != QStringLiteral("folder"))
            VERIFY_MESSAGE(message, "left unchanged");
    }
    // Never modified, and nothing written beside it either.
    QCOMPARE(fileHash(path), before);
    QCOMPARE(fileHash(path + QStringLiteral("-wal")), logBefore);
    QVERIFY(!QFile::exists(path + QStringLiteral(".lock")));
    if (kind != QStringLiteral("wal")) {
        QVERIFY(!QFile::exists(path + QStringLiteral("-wal")));
        QVERIFY(!QFile::exists(path + QStringLiteral("-shm")));
    }
    QVERIFY(!QFile::exists(path + QStringLiteral(".d")) || kind == QStringLiteral("truncated") || kind == QStringLiteral("header"));
}

void TestProjects::newerSchemaIsRefused()
{
    const QString path = fresh(QStringLiteral("future.sepproj"));
    { ProjectStore::create(path.toStdString()); }
    {
        Raw raw(path);
        raw.exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    }
    const auto before = fileHash(path);
    const auto message = errorOf([&] { ProjectStore::open(path.toStdString()); });
    VERIFY_MESSAGE(message, "newer SEP Studio");
    VERIFY_MESSAGE(message, "version 99");
    QCOMPARE(fileHash(path), before);
    QVERIFY(!QFile::exists(path + QStringLiteral(".lock")));
}

void TestProjects::readOnlyFolder()
{
    // Root ignores file permissions, so as root the checks run in a child process that has become
    // the unprivileged user "nobody" (uid 65534) and finds the folder and file owned by root.
    const bool root = ::geteuid() == 0;
    const uid_t nobody = 65534;
    const QString dir = fresh(QStringLiteral("locked-folder"));
    QVERIFY(QDir().mkpath(dir));
    const std::string path = (dir + QStringLiteral("/p.sepproj")).toStdString();
    {
        auto store = ProjectStore::create(path);
        store.importDataset(m_data.toStdString());
        auto s = spec(1);
        store.createRun(s, std::nullopt);
    }
    const auto lockFolder = [&] { QFile::setPermissions(dir, QFileDevice::ReadOwner | QFileDevice::ExeOwner | QFileDevice::ReadOther | QFileDevice::ExeOther); };
    const auto unlockFolder = [&] {
        QFile::setPermissions(dir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner | QFileDevice::ReadOther | QFileDevice::ExeOther);
    };
    if (root) {
        // Let "nobody" reach the folder and read the file; the folder stays root's.
        QFile::setPermissions(m_dir.path(), QFile::permissions(m_dir.path()) | QFileDevice::ReadOther | QFileDevice::ExeOther);
        QFile::setPermissions(QString::fromStdString(path), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadOther);
    }

    // Runs `check` (an empty string when it holds, else what failed) as the unprivileged user.
    const auto asUser = [&](const std::function<std::string()> &check) -> std::string {
        if (!root)
            return check();
        int fds[2];
        if (::pipe(fds) != 0)
            return "pipe failed";
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(fds[0]);
            std::string result = (::setgid(nobody) == 0 && ::setuid(nobody) == 0) ? check() : "cannot become nobody";
            if (::write(fds[1], result.data(), result.size()) < 0)
                ::_exit(3);
            ::_exit(0);
        }
        ::close(fds[1]);
        std::string result;
        char buffer[512];
        for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;)
            result.append(buffer, static_cast<size_t>(n));
        ::close(fds[0]);
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return "the checking process failed";
        return result;
    };
    const auto lacks = [](const std::string &message, const std::string &needle) {
        return message.find(needle) == std::string::npos ? "message '" + message + "' lacks '" + needle + "'" : std::string();
    };

    // A project in a folder it may not write: refused for writing, readable read-only.
    lockFolder();
    std::string failure = asUser([&] {
        const auto message = errorOf([&] { ProjectStore::open(path); });
        for (const char *needle : {"not writable", "read-only"})
            if (auto f = lacks(message, needle); !f.empty())
                return f;
        try {
            projects::OpenOptions ro;
            ro.readOnly = true;
            auto viewer = ProjectStore::open(path, ro);
            if (viewer.runs().size() != 1)
                return std::string("the read-only view lost the run");
        } catch (const Error &e) {
            return std::string("read-only open failed: ") + e.what();
        }
        return std::string();
    });
    unlockFolder();
    QVERIFY2(failure.empty(), failure.c_str());

    // A read-only project file in a folder the user may write.
    if (root)
        QVERIFY(::chown(dir.toLocal8Bit().constData(), nobody, nobody) == 0);
    else
        QFile::setPermissions(QString::fromStdString(path), QFileDevice::ReadOwner);
    failure = asUser([&] { return lacks(errorOf([&] { ProjectStore::open(path); }), "read-only"); });
    if (root)
        QVERIFY(::chown(dir.toLocal8Bit().constData(), 0, 0) == 0);
    QFile::setPermissions(QString::fromStdString(path), QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    QVERIFY2(failure.empty(), failure.c_str());
    QCOMPARE(ProjectStore::open(path).runs().size(), size_t(1));
}

void TestProjects::fullDiskDuringImport()
{
    const QString data = fresh(QStringLiteral("big-data"));
    test::writeColourFolder(data, {"a", "b", "c", "d"}, 40, 8);
    const std::string path = fresh(QStringLiteral("quota")).toStdString();
    { ProjectStore::create(path).importDataset(m_data.toStdString()); }
    int64_t pages = 0, images = 0;
    {
        auto store = ProjectStore::open(path);
        pages = store.database().queryInt("PRAGMA page_count");
        images = store.database().queryInt("SELECT COUNT(*) FROM images");
    }
    projects::OpenOptions limited;
    limited.maxPageCount = pages;   // not one page more: the next growth fails as on a full disk
    {
        auto store = ProjectStore::open(path, limited);
        const auto message = errorOf([&] { store.importDataset(data.toStdString()); });
        VERIFY_MESSAGE(message, "full");
        VERIFY_MESSAGE(message, "what the project held before is intact");
        QCOMPARE(store.database().queryInt("SELECT COUNT(*) FROM images"), images);
        QCOMPARE(store.datasets().size(), size_t(1));
        // Still usable after the failure.
        QCOMPARE(store.importDataset(m_data.toStdString()).unchanged, images);
    }
    auto store = ProjectStore::open(path);
    QCOMPARE(store.database().queryText("PRAGMA integrity_check"), std::string("ok"));
    QCOMPARE(store.importDataset(data.toStdString()).images, int64_t(160));   // space again: it goes in
}

void TestProjects::fullDiskDuringRun()
{
    // The disk fills up while epoch 2's metrics are written: the run stops with a clear message, the
    // records of epoch 1 stay, the run is resumable, and resuming (space again) completes it.
    const std::string path = fresh(QStringLiteral("full-run")).toStdString();
    projects::OpenOptions o;
    o.vfs = faulty::install();
    int64_t id = 0;
    std::string message;
    {
        auto store = ProjectStore::create(path, o);
        const auto report = store.importDataset(m_data.toStdString());
        auto s = spec(3);
        s.data = report.root;
        id = store.createRun(s, report.datasetId);

        struct FillingRecorder : projects::RunRecorder {
            using RunRecorder::RunRecorder;
            void epoch(const train::EpochRecord &r) override
            {
                faulty::armed = r.epoch == 2 && r.eval.empty();
                try {
                    RunRecorder::epoch(r);
                } catch (...) {
                    faulty::armed = false;   // space is freed; the run's end can be recorded
                    throw;
                }
            }
        } recorder(store, id, false);
        try {
            train::trainRun(s, store.runFolder(id), false, recorder.hooks({}), &recorder);
        } catch (const Error &e) {
            message = e.what();
        }
        faulty::armed = false;
        const auto r = store.run(id);
        QCOMPARE(r.status, std::string("failed"));
        QCOMPARE(r.message, message);
        QCOMPARE(r.epochsRecorded, int64_t(1));
        QCOMPARE(store.database().queryText("PRAGMA integrity_check"), std::string("ok"));
    }
    VERIFY_MESSAGE(message, "full");
    VERIFY_MESSAGE(message, path);

    auto store = ProjectStore::open(path);
    projects::resumeRecorded(store, id, "", {});
    const auto r = store.run(id);
    QCOMPARE(r.status, std::string("finished"));
    const auto epochs = store.epochs(id);
    QCOMPARE(epochs.size(), size_t(3));
    for (size_t i = 0; i < epochs.size(); ++i)
        QCOMPARE(epochs[i].epoch, int64_t(i + 1));
    QCOMPARE(store.evaluations(id).size(), size_t(2));
    QVERIFY(store.check().empty());
}

SEP_TEST_MAIN(TestProjects)
#include "test_projects.moc"
