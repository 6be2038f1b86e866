#include "projects/schema.h"

#include "engine/core/error.h"

namespace sep::projects {
namespace {

// Version 1, as it shipped. Never edit a released step: add a migration instead.
const char *const kV1 = R"sql(
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE datasets (
    id         INTEGER PRIMARY KEY,
    root       TEXT NOT NULL UNIQUE,          -- absolute folder
    layout     TEXT NOT NULL CHECK (layout IN ('flat', 'splits')),
    added_at   TEXT NOT NULL,
    scanned_at TEXT
);
CREATE TABLE classes (
    id         INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    folder     TEXT NOT NULL,
    name       TEXT NOT NULL,
    label      INTEGER,                       -- index among the folders at the last scan; NULL once gone
    half       TEXT CHECK (half IN ('base', 'new')),
    UNIQUE (dataset_id, folder)
);
CREATE TABLE images (
    id            INTEGER PRIMARY KEY,
    dataset_id    INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    class_id      INTEGER NOT NULL REFERENCES classes(id),
    split         TEXT NOT NULL CHECK (split IN ('all', 'train', 'val', 'test')),
    path          TEXT NOT NULL,              -- relative to the dataset root
    size          INTEGER NOT NULL,
    width         INTEGER,
    height        INTEGER,
    decode_status TEXT NOT NULL DEFAULT 'unchecked' CHECK (decode_status IN ('unchecked', 'ok', 'failed')),
    decode_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (dataset_id, path)
);
CREATE INDEX images_class ON images(class_id);
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused: notes and logs name runs by id
    dataset_id  INTEGER REFERENCES datasets(id),
    method      TEXT NOT NULL,
    spec        TEXT NOT NULL,                -- the RunSpec as JSON: every option
    shots       INTEGER NOT NULL,
    seed        INTEGER NOT NULL,
    base_to_new INTEGER NOT NULL,
    device      TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'finished', 'failed', 'cancelled')),
    message     TEXT NOT NULL DEFAULT '',
    folder      TEXT NOT NULL UNIQUE,         -- the run folder, relative to the project folder
    model       TEXT NOT NULL DEFAULT '',
    plan        TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    updated_at  TEXT NOT NULL,
    owner_pid   INTEGER,
    owner_host  TEXT
);
CREATE INDEX runs_dataset ON runs(dataset_id);
CREATE TABLE checkpoints (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    path       TEXT NOT NULL,                 -- relative to the project folder
    epoch      INTEGER NOT NULL,              -- epochs completed in the file
    size       INTEGER NOT NULL,
    written_at TEXT NOT NULL,
    PRIMARY KEY (run_id, path)
);
CREATE TABLE epoch_metrics (
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch          INTEGER NOT NULL,
    lr             REAL NOT NULL,
    loss           REAL NOT NULL,
    train_accuracy REAL NOT NULL,
    seconds        REAL NOT NULL,
    loss_parts     TEXT NOT NULL DEFAULT '{}',   -- JSON: mean of each loss term
    test_accuracy  TEXT NOT NULL DEFAULT '{}',   -- JSON: accuracy per test set, when evaluated
    recorded_at    TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE evaluations (
    id                 INTEGER PRIMARY KEY,
    run_id             INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    test_set           TEXT NOT NULL,             -- base, new or all
    classes            TEXT NOT NULL,             -- JSON array of class names; labels index it
    accuracy           REAL NOT NULL,
    correct            INTEGER NOT NULL,
    total              INTEGER NOT NULL,
    per_class_accuracy TEXT NOT NULL,             -- JSON; null for a class without test images
    per_class_count    TEXT NOT NULL,
    confusion          BLOB NOT NULL,             -- int32 LE, classes x classes, row = true class
    failures           TEXT NOT NULL DEFAULT '[]',
    seconds            REAL NOT NULL,
    created_at         TEXT NOT NULL,
    UNIQUE (run_id, test_set)
);
CREATE TABLE predictions (
    evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    image_id      INTEGER REFERENCES images(id),
    path          TEXT NOT NULL,
    label         INTEGER NOT NULL,
    top           BLOB NOT NULL,                  -- int32 LE class indices, best first
    top_prob      BLOB NOT NULL,                  -- float32 LE softmax probabilities
    PRIMARY KEY (evaluation_id, position)
);
CREATE INDEX predictions_image ON predictions(image_id);
CREATE TABLE exports (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    path       TEXT NOT NULL,                     -- relative to the project folder, or absolute
    options    TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
)sql";

const char *const kV1toV2 = R"sql(
ALTER TABLE images ADD COLUMN content_hash TEXT;
ALTER TABLE images ADD COLUMN mtime_ns INTEGER;
ALTER TABLE images ADD COLUMN state TEXT NOT NULL DEFAULT 'present' CHECK (state IN ('present', 'missing'));
ALTER TABLE images ADD COLUMN last_seen TEXT;
UPDATE images SET last_seen = (SELECT scanned_at FROM datasets WHERE datasets.id = images.dataset_id);
CREATE INDEX images_hash ON images(content_hash);
ALTER TABLE datasets ADD COLUMN last_scan TEXT NOT NULL DEFAULT '{}';
CREATE TABLE run_images (
    run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    image_id     INTEGER NOT NULL REFERENCES images(id),
    role         TEXT NOT NULL CHECK (role IN ('train')),
    content_hash TEXT,                           -- the file's hash when the run used it
    PRIMARY KEY (run_id, image_id, role)
);
CREATE INDEX run_images_image ON run_images(image_id);
)sql";

const char *const kV2toV3 = R"sql(
ALTER TABLE runs ADD COLUMN owner_start TEXT;
CREATE TABLE selections (
    evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
    modality      TEXT NOT NULL CHECK (modality IN ('image', 'text', 'cls_attention')),
    item          INTEGER NOT NULL,     -- image: its position in predictions; text: the class index
    block         INTEGER NOT NULL,     -- tower block (cls_attention: block index)
    indices       BLOB NOT NULL,        -- int32 LE: selected tokens (image) or positions (text)
    scores        BLOB NOT NULL,        -- float32 LE: token scores, or [CLS] attention over patches
    attention     BLOB NOT NULL,        -- float32 LE, rows x K row-major; empty in reference mode
    rows          INTEGER NOT NULL,     -- rows of `attention`: prompts (image) or context tokens (text)
    pieces        TEXT,                 -- text: JSON array of the decoded BPE pieces
    PRIMARY KEY (evaluation_id, modality, item, block)
) WITHOUT ROWID;
)sql";

// Names given in the project live beside the scanned ones, so a rescan (which rewrites `name` from
// the folder) cannot overwrite them, and taking a given name back needs no copy of the folder's.
const char *const kV3toV4 = R"sql(
ALTER TABLE classes ADD COLUMN given_name TEXT CHECK (given_name IS NULL OR given_name <> '');
)sql";

// What a person calls a run and notes about it; what it ran with beyond its options (the weights'
// content and the program), so two numbers can be told apart; and where the true class ranked, which
// the top-k blob cannot say when it is not among them. Older rows keep '' and NULL: not recorded.
const char *const kV4toV5 = R"sql(
ALTER TABLE runs ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN weights_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN program TEXT NOT NULL DEFAULT '';
ALTER TABLE predictions ADD COLUMN true_rank INTEGER CHECK (true_rank IS NULL OR true_rank >= 1);
ALTER TABLE predictions ADD COLUMN true_prob REAL;
)sql";

// Rows that point nowhere, after a step: a migration that leaves any is refused whole.
void checkForeignKeys(Database &db, int version)
{
    auto st = db.prepare("PRAGMA foreign_key_check");
    if (st.step())
        throw Error(db.label() + ": upgrading to schema version " + std::to_string(version) + " found rows of table '"
                    + st.text(0) + "' that refer to missing rows of '" + st.text(2)
                    + "'; the project was left unchanged. Restore it from a backup or report this as a bug.");
}

} // namespace

const std::string &schemaV1()
{
    static const std::string sql = kV1;
    return sql;
}

const std::string &migrationFrom(int from)
{
    static const std::vector<std::string> steps = {kV1toV2, kV2toV3, kV3toV4, kV4toV5};
    if (from < 1 || from > static_cast<int>(steps.size()))
        throw Error("no migration from schema version " + std::to_string(from));
    return steps[static_cast<size_t>(from - 1)];
}

void createSchema(Database &db, const std::string &createdAt)
{
    {
        Transaction tx(db);
        db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
        db.exec(schemaV1());
        auto st = db.prepare("INSERT INTO meta(key, value) VALUES (?, ?)");
        const std::vector<std::pair<std::string, std::string>> rows = {
            {"application", kApplicationName}, {"schema_version", "1"}, {"created_at", createdAt}};
        for (const auto &[key, value] : rows) {
            st.bind(1, key).bind(2, value).run();
            st.reset();
        }
        tx.commit();
    }
    std::vector<std::string> ignored;
    migrate(db, 1, createdAt, ignored);
}

void migrate(Database &db, int from, const std::string &now, std::vector<std::string> &notes)
{
    for (int version = from; version < kSchemaVersion; ++version) {
        Transaction tx(db);
        db.exec(migrationFrom(version));
        checkForeignKeys(db, version + 1);
        db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").bind(1, std::to_string(version + 1)).run();
        db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)")
            .bind(1, "upgraded_to_v" + std::to_string(version + 1))
            .bind(2, now)
            .run();
        tx.commit();
        notes.push_back("upgraded the project from schema version " + std::to_string(version) + " to "
                        + std::to_string(version + 1));
    }
}

} // namespace sep::projects
