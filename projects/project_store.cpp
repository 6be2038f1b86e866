#include "projects/project_store.h"

#include "engine/core/error.h"
#include "engine/core/text.h"
#include "engine/core/files.h"
#include "engine/core/sha256.h"
#include "engine/prompt/registry.h"
#include "engine/train/run.h"
#include "engine/train/trainer.h"
#include "projects/blob.h"
#include "projects/schema.h"
#include "projects/store_impl.h"
#include "projects/test_hooks.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include <fcntl.h>
#include <unistd.h>

namespace sep::projects {
namespace fs = std::filesystem;
namespace {

constexpr const char *kExtension = ".sepproj";

bool endsWith(const std::string &s, const std::string &suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

uint32_t be32(const unsigned char *p)
{
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// What a file that is not SQLite seems to be, for the message.
std::string describeForeign(const std::string &head)
{
    auto starts = [&](const std::string &magic) { return head.compare(0, magic.size(), magic) == 0; };
    if (starts("\x89PNG"))
        return "it is a PNG image";
    if (starts("\xff\xd8\xff"))
        return "it is a JPEG image";
    if (starts("PK\x03\x04"))
        return "it is a zip archive";
    if (starts("%PDF"))
        return "it is a PDF document";
    if (starts("{") || starts("["))
        return "it looks like a JSON file";
    const bool text = std::all_of(head.begin(), head.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x20 || c == '\n' || c == '\r' || c == '\t';
    });
    if (text)
        return "it looks like a text file";
    return "its first bytes are not those of an SQLite database";
}

int64_t fileSize(const std::string &path)
{
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    return ec ? -1 : static_cast<int64_t>(size);
}

// Everything that can be learnt about a file without letting SQLite near it: a plain read of its
// header. Anything that is not a healthy SEP Studio project stops here, untouched.
void inspectFile(const std::string &path)
{
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw Error(path + ": no such project; create it with 'sep project new " + path + "'");
    if (fs::is_directory(path, ec))
        throw Error(path + ": is a folder, not a project file (a project is a NAME.sepproj file beside its NAME.sepproj.d "
                           "folder)");
    std::ifstream in = openRegularFile(path, "SEP Studio project (NAME.sepproj)");
    std::string head(100, '\0');
    in.read(&head[0], 100);
    head.resize(static_cast<size_t>(in.gcount()));
    const int64_t size = fileSize(path);
    const std::string untouched = " The file was left unchanged.";
    if (size == 0)
        throw Error(path + ": is empty (0 bytes), not a SEP Studio project. If it held a project, restore it from a backup."
                    + untouched);
    static const std::string magic("SQLite format 3\0", 16);
    if (head.compare(0, magic.size(), magic) != 0)
        throw Error(path + ": is not a SEP Studio project (" + describeForeign(head) + ")." + untouched);
    if (head.size() < 100)
        throw Error(path + ": is truncated (only " + std::to_string(size) + " bytes, less than an SQLite header); restore it "
                           "from a backup."
                    + untouched);
    const auto *h = reinterpret_cast<const unsigned char *>(head.data());
    const uint32_t appId = be32(h + 68);
    // With a non-empty write-ahead log the main file may lag behind until the next checkpoint (its
    // header too); SQLite's own read-only look, next, then has the last word.
    const int64_t wal = fileSize(path + "-wal");
    if (appId != static_cast<uint32_t>(kApplicationId) && !(appId == 0 && wal > 0)) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%08x", appId);
        throw Error(path + ": is an SQLite database but not a SEP Studio project ("
                    + (appId == 0 ? std::string("it has no application id; probably another program's database")
                                  : "its application id " + std::string(hex) + " belongs to another program")
                    + ")." + untouched);
    }
    uint32_t pageSize = static_cast<uint32_t>(h[16]) << 8 | h[17];
    if (pageSize == 1)
        pageSize = 65536;
    const uint32_t pages = be32(h + 28);
    const bool pagesValid = be32(h + 24) == be32(h + 92) && pages > 0;
    if (wal <= 0 && pageSize >= 512) {
        const int64_t expected = pagesValid ? static_cast<int64_t>(pages) * pageSize : -1;
        if ((expected > 0 && size < expected) || size % pageSize != 0)
            throw Error(path + ": is truncated (" + std::to_string(size) + " bytes"
                        + (expected > 0 ? ", its header says " + std::to_string(expected) : std::string()) + ")"
                        + "; restore it from a backup." + untouched);
    }
}

std::string uriFor(const std::string &path, const std::string &query)
{
    std::string uri = "file:";
    for (char c : fs::absolute(path).string()) {
        if (c == '%' || c == '?' || c == '#') {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
            uri += buf;
        } else {
            uri += c;
        }
    }
    return uri + "?" + query;
}

void configure(Database &db, const OpenOptions &options)
{
    sqlite3_busy_timeout(db.handle(), options.busyTimeoutMs);
    db.exec("PRAGMA foreign_keys = ON");
    if (db.queryInt("PRAGMA foreign_keys") != 1)
        throw Error(db.label() + ": this SQLite library cannot enforce foreign keys; SEP Studio needs it");
}

// After the header looked right: SQLite's own view (application id, meta table, version).
int readSchemaVersion(Database &db, const std::string &path)
{
    if (static_cast<int32_t>(db.queryInt("PRAGMA application_id")) != kApplicationId)
        throw Error(path + ": is an SQLite database but not a SEP Studio project (its application id is not SEP "
                           "Studio's; probably another program's database). The file was left unchanged.");
    if (db.queryInt("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'") == 0)
        throw Error(path + ": is damaged (it has no meta table); restore it from a backup. The file was left unchanged.");
    const std::string text = db.queryText("SELECT value FROM meta WHERE key = 'schema_version'");
    int version = 0;
    try {
        version = std::stoi(text);
    } catch (const std::exception &) {
        throw Error(path + ": is damaged (its schema version '" + text + "' is not a number); restore it from a backup. "
                           "The file was left unchanged.");
    }
    if (version > kSchemaVersion)
        throw Error(path + ": was written by a newer SEP Studio (project schema version " + std::to_string(version)
                    + "; this one knows up to " + std::to_string(kSchemaVersion)
                    + "). Update SEP Studio to open it. The file was left unchanged.");
    if (version < 1)
        throw Error(path + ": is damaged (schema version " + std::to_string(version) + "). The file was left unchanged.");
    return version;
}

// A read-only connection and the schema version. A WAL project in a folder this process cannot write
// has no -shm to share; when no writer can exist (no log beside it), it is read as immutable.
std::pair<Database, int> openReadOnly(const std::string &path, const OpenOptions &options)
{
    try {
        Database db(path, SQLITE_OPEN_READONLY, path, options.vfs);
        configure(db, options);
        const int version = readSchemaVersion(db, path);
        return {std::move(db), version};
    } catch (const Error &e) {
        const std::string what = e.what();
        const bool noShm = what.find("unable to open") != std::string::npos || what.find("readonly") != std::string::npos
                           || what.find("read-only") != std::string::npos;
        if (!noShm || fileSize(path + "-wal") > 0)
            throw;
    }
    Database db(uriFor(path, "immutable=1"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, path, options.vfs);
    configure(db, options);
    const int version = readSchemaVersion(db, path);
    return {std::move(db), version};
}

// The copy kept before an upgrade: NAME.sepproj.v1-backup (or with a time when that exists).
std::string backupPathFor(const std::string &path, int version)
{
    std::string base = path + ".v" + std::to_string(version) + "-backup";
    std::error_code ec;
    if (!fs::exists(base, ec))
        return base;
    std::string stamp = utcNow();
    std::replace(stamp.begin(), stamp.end(), ':', '-');
    return base + "-" + stamp;
}

std::string sqlQuote(const std::string &s)
{
    std::string out = "'";
    for (char c : s) {
        out += c;
        if (c == '\'')
            out += '\'';
    }
    return out + "'";
}

std::string jsonOfDoubles(const std::map<std::string, double> &values)
{
    nlohmann::json j = nlohmann::json::object();
    for (const auto &[k, v] : values)
        j[k] = v;
    return j.dump();
}

std::map<std::string, double> doublesOfJson(const std::string &text)
{
    std::map<std::string, double> out;
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_object())
        for (auto it = j.begin(); it != j.end(); ++it)
            if (it.value().is_number())
                out[it.key()] = it.value().get<double>();
    return out;
}

nlohmann::json parseOr(const std::string &text, nlohmann::json fallback)
{
    auto j = nlohmann::json::parse(text, nullptr, false);
    return j.is_discarded() ? fallback : j;
}

std::string relativeTo(const std::string &path, const std::string &base)
{
    const auto rel = fs::path(path).lexically_normal().lexically_relative(fs::path(base).lexically_normal());
    return rel.empty() ? path : rel.generic_string();
}

bool isInside(const fs::path &child, const fs::path &parent)
{
    const auto rel = child.lexically_normal().lexically_relative(parent.lexically_normal());
    return !rel.empty() && *rel.begin() != ".." && rel != ".";
}

std::string safeName(std::string s)
{
    for (auto &c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
            c = '_';
    return s;
}

// A run's recorded folder (relative to the project folder) as a path, or nothing when it would lead
// outside: absolute, with a '..' component, or empty. A damaged or crafted row must not direct
// reads and writes elsewhere on the disk.
std::optional<std::string> runFolderInside(const std::string &projectFolder, const std::string &recorded)
{
    const fs::path rel(recorded);
    if (recorded.empty() || rel.is_absolute()
        || std::any_of(rel.begin(), rel.end(), [](const fs::path &part) { return part == ".."; }))
        return std::nullopt;
    return (fs::absolute(projectFolder) / rel).lexically_normal().string();
}

std::string outsideFolderNote(const std::string &recorded)
{
    return "its recorded folder '" + shortened(recorded, 200) + "' lies outside the project folder; the project will not "
           "read or write there";
}

constexpr const char *kRunColumns =
    "r.id, r.dataset_id, r.method, r.shots, r.seed, r.base_to_new, r.device, r.status, r.message, r.folder, r.model, "
    "r.created_at, r.started_at, r.finished_at, r.updated_at, r.owner_pid, r.owner_host, r.owner_start, r.spec, r.plan, "
    "(SELECT COUNT(*) FROM epoch_metrics m WHERE m.run_id = r.id), "
    "(SELECT MAX(epoch) FROM checkpoints c WHERE c.run_id = r.id), r.name, r.notes, r.weights_sha256, r.program";

RunInfo readRun(const Statement &st, const std::string &projectFolder)
{
    RunInfo r;
    r.id = st.integer(0);
    r.datasetId = st.isNull(1) ? 0 : st.integer(1);
    r.method = st.text(2);
    r.shots = st.integer(3);
    r.seed = static_cast<uint64_t>(st.integer(4));
    r.baseToNew = st.integer(5) != 0;
    r.device = st.text(6);
    r.status = st.text(7);
    r.message = st.text(8);
    if (const auto inside = runFolderInside(projectFolder, st.text(9))) {
        r.folder = *inside;
    } else {
        // Never created: resuming or evaluating it stops at "not a run folder".
        r.folder = (fs::absolute(projectFolder) / "runs" / (".unusable-folder-of-run-" + std::to_string(r.id))).string();
        r.message = outsideFolderNote(st.text(9));
    }
    r.model = st.text(10);
    r.createdAt = st.text(11);
    r.startedAt = st.text(12);
    r.finishedAt = st.text(13);
    r.updatedAt = st.text(14);
    r.owner.pid = st.isNull(15) ? 0 : st.integer(15);
    r.owner.host = st.text(16);
    r.owner.start = st.text(17);
    r.spec = parseOr(st.text(18), nlohmann::json::object());
    r.plan = parseOr(st.text(19), nlohmann::json::object());
    r.epochsRecorded = st.integer(20);
    r.checkpointEpoch = st.isNull(21) ? -1 : st.integer(21);
    r.name = st.text(22);
    r.notes = st.text(23);
    r.weightsSha256 = st.text(24);
    r.program = st.text(25);
    if (r.method != "zeroshot" && r.spec.contains("train") && r.spec["train"].is_object()
        && r.spec["train"].contains("epochs") && r.spec["train"]["epochs"].is_number_integer())
        r.epochs = r.spec["train"]["epochs"].get<int64_t>();
    if ((r.status == "running" || r.status == "queued")
        && liveness(r.owner.pid, r.owner.host, r.owner.start) == Liveness::Dead)
        r.interrupted = true;
    return r;
}

void addAccuracies(Database &db, std::vector<RunInfo> &runs)
{
    std::map<int64_t, RunInfo *> byId;
    for (auto &r : runs)
        byId[r.id] = &r;
    auto st = db.prepare("SELECT run_id, test_set, accuracy FROM evaluations");
    while (st.step()) {
        auto it = byId.find(st.integer(0));
        if (it != byId.end())
            it->second->accuracy[st.text(1)] = st.real(2);
    }
    for (auto &r : runs)
        if (r.accuracy.count("base") && r.accuracy.count("new"))
            r.harmonicMean = train::harmonicMean(r.accuracy["base"], r.accuracy["new"]);
}

std::string interruptedNote(const RunInfo &r, const std::string &project)
{
    std::string where = r.checkpointEpoch > 0 ? "after epoch " + std::to_string(r.checkpointEpoch)
                                               + (r.epochs > 0 ? " of " + std::to_string(r.epochs) : "")
                                             : "before its first epoch";
    return "run " + std::to_string(r.id) + " (" + r.method + ", " + std::to_string(r.shots) + " shots, seed "
           + std::to_string(r.seed) + ") was interrupted " + where + ": its process (PID " + std::to_string(r.owner.pid)
           + " on " + r.owner.host + ") ended without finishing. Resume it with 'sep project resume " + project + " "
           + std::to_string(r.id) + "'.";
}

} // namespace

// ---------------------------------------------------------------------------------------------------

std::string projectFolderFor(const std::string &projectPath) { return projectPath + ".d"; }

std::string normaliseRoot(const std::string &root)
{
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(root), ec);
    if (ec)
        p = fs::absolute(root).lexically_normal();
    std::string s = p.string();
    while (s.size() > 1 && s.back() == '/')
        s.pop_back();
    return s;
}

std::string ProjectStore::projectPath(const std::string &name)
{
    if (name.empty())
        throw Error("no project named; give a project file such as pets.sepproj");
    return endsWith(name, kExtension) ? name : name + kExtension;
}

ProjectStore::ProjectStore(std::unique_ptr<Impl> impl) : m(std::move(impl)) {}
ProjectStore::~ProjectStore() = default;
ProjectStore::ProjectStore(ProjectStore &&) noexcept = default;
ProjectStore &ProjectStore::operator=(ProjectStore &&) noexcept = default;

const std::string &ProjectStore::path() const { return m->path; }
std::string ProjectStore::folder() const { return projectFolderFor(m->path); }
bool ProjectStore::readOnly() const { return m->readOnly; }
int ProjectStore::schemaVersion() const { return m->version; }
const std::vector<std::string> &ProjectStore::notes() const { return m->notes; }
std::optional<ProcessIdentity> ProjectStore::inUseBy() const { return m->inUseBy; }
Database &ProjectStore::database() { return m->db; }

void ProjectStore::requireWritable(const std::string &what) const
{
    if (m->readOnly)
        throw Error(m->path + ": opened read-only; cannot " + what
                    + (m->inUseBy ? " while it is in use by " + m->inUseBy->describe() : std::string()));
}

ProjectStore ProjectStore::create(const std::string &name, const OpenOptions &options)
{
    if (options.readOnly)
        throw Error("a new project cannot be created read-only");
    const std::string path = projectPath(name);
    const fs::path parent = fs::absolute(path).parent_path();
    std::error_code ec;
    if (!fs::is_directory(parent, ec))
        throw Error(path + ": the folder " + parent.string() + " does not exist; create it first");
    // O_EXCL: never overwrite anything, even a file that appears between a check and the creation.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        const int error = errno;
        if (error == EEXIST)
            throw Error(path + ": already exists; open it, or choose another name (an existing file is never overwritten)");
        throw Error(path + ": cannot be created (" + std::string(std::strerror(error)) + ")"
                    + (error == EACCES || error == EROFS || error == EPERM ? "; the folder is not writable" : ""));
    }
    ::close(fd);

    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->me = ProcessIdentity::current(options.purpose);
    try {
        impl->lock = ProjectLock::acquire(path + ".lock", path, options.purpose);
        impl->db = Database(path, SQLITE_OPEN_READWRITE, path, options.vfs);
        configure(impl->db, options);
        // The application id first, while the file is in rollback mode: written straight into the
        // header of the main file, where a plain read finds it even while a log is pending.
        impl->db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
        impl->db.exec("PRAGMA journal_mode = WAL");
        impl->db.exec("PRAGMA synchronous = FULL");
        createSchema(impl->db, utcNow());
        impl->db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        impl->version = kSchemaVersion;
        makeDirectories(projectFolderFor(path));
        if (options.maxPageCount > 0)
            impl->db.exec("PRAGMA max_page_count = " + std::to_string(options.maxPageCount));
    } catch (...) {
        // The file is ours and holds nothing yet: leave no half-made project behind.
        impl->db.close();
        for (const char *suffix : {"", "-wal", "-shm"})
            std::remove((path + suffix).c_str());
        throw;
    }
    return ProjectStore(std::move(impl));
}

ProjectStore ProjectStore::open(const std::string &name, const OpenOptions &options)
{
    std::string path = name;
    std::error_code ec;
    if (!fs::exists(path, ec) && !endsWith(path, kExtension) && fs::exists(path + kExtension, ec))
        path += kExtension;
    inspectFile(path);

    if (!options.readOnly) {
        // SQLite's own look, read-only, before anything is locked or opened for writing: a project
        // from a newer version, or one SQLite finds damaged, is refused untouched.
        openReadOnly(path, options);
    }

    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->readOnly = options.readOnly;
    impl->me = ProcessIdentity::current(options.purpose);
    if (!options.readOnly) {
        impl->lock = ProjectLock::acquire(path + ".lock", path, options.purpose);
        if (const auto &previous = impl->lock.takenOver())
            impl->notes.push_back("the project's previous user (" + previous->describe()
                                  + ") ended without closing it; its lock was taken over");
        impl->db = Database(path, SQLITE_OPEN_READWRITE, path, options.vfs);
        if (sqlite3_db_readonly(impl->db.handle(), "main") == 1)
            throw Error(path + ": the file is read-only (its permissions); open it read-only, or make it writable");
    } else {
        impl->inUseBy = ProjectLock::holder(path + ".lock");
        if (impl->inUseBy)
            impl->notes.push_back("read-only: the project is in use by " + impl->inUseBy->describe()
                                  + "; showing what it has recorded so far");
    }
    int version = 0;
    if (options.readOnly) {
        auto [db, v] = openReadOnly(path, options);
        impl->db = std::move(db);
        version = v;
    } else {
        configure(impl->db, options);
        version = readSchemaVersion(impl->db, path);
    }

    if (!options.readOnly) {
        if (impl->db.queryText("PRAGMA journal_mode") != "wal")
            impl->db.exec("PRAGMA journal_mode = WAL");
        impl->db.exec("PRAGMA synchronous = FULL");
        if (version < kSchemaVersion) {
            const std::string backup = backupPathFor(path, version);
            try {
                impl->db.exec("VACUUM INTO " + sqlQuote(backup));
            } catch (const Error &e) {
                std::remove(backup.c_str());
                throw Error(path + ": needs an upgrade from schema version " + std::to_string(version)
                            + ", but the copy kept before upgrading could not be written (" + e.what()
                            + "). Nothing was changed.");
            }
            impl->notes.push_back("a copy of the project as it was (schema version " + std::to_string(version)
                                  + ") is kept at " + backup);
            migrate(impl->db, version, utcNow(), impl->notes);
            version = kSchemaVersion;
        }
        if (options.maxPageCount > 0)
            impl->db.exec("PRAGMA max_page_count = " + std::to_string(options.maxPageCount));
    } else if (version < kSchemaVersion) {
        // Upgrade a private copy in memory; the file waits for a writer.
        Database memory(":memory:", SQLITE_OPEN_READWRITE, path);
        sqlite3_backup *copy = sqlite3_backup_init(memory.handle(), "main", impl->db.handle(), "main");
        if (!copy)
            memory.fail(sqlite3_errcode(memory.handle()), "reading the project into memory");
        const int rc = sqlite3_backup_step(copy, -1);
        sqlite3_backup_finish(copy);
        if (rc != SQLITE_DONE)
            impl->db.fail(rc, "reading the project into memory");
        configure(memory, options);
        std::vector<std::string> ignored;
        migrate(memory, version, utcNow(), ignored);
        impl->notes.push_back("the project uses schema version " + std::to_string(version)
                              + "; it was upgraded in memory for reading. Open it for writing once to upgrade the file.");
        impl->db = std::move(memory);
        version = kSchemaVersion;
    }
    impl->version = version;
    ProjectStore store(std::move(impl));
    for (const auto &r : store.interruptedRuns())
        store.m->notes.push_back(interruptedNote(r, path));
    return store;
}

// ---------------------------------------------------------------------------------------------------
// Runs

int64_t ProjectStore::createRun(const train::RunSpec &spec, std::optional<int64_t> datasetId)
{
    requireWritable("record a run");
    auto &db = m->db;
    const std::string now = utcNow();
    Transaction tx(db);
    auto st = db.prepare("INSERT INTO runs(dataset_id, method, spec, shots, seed, base_to_new, device, status, folder, "
                         "created_at, updated_at, owner_pid, owner_host, owner_start) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)");
    if (datasetId)
        st.bind(1, *datasetId);
    else
        st.bindNull(1);
    st.bind(2, spec.method)
        .bind(3, spec.toJson().dump())
        .bind(4, spec.shots)
        .bind(5, static_cast<int64_t>(spec.seed))
        .bind(6, spec.baseToNew ? 1 : 0)
        .bind(7, spec.device)
        .bind(8, "pending-" + std::to_string(m->me.pid) + "-" + now)
        .bind(9, now)
        .bind(10, now)
        .bind(11, m->me.pid)
        .bind(12, m->me.host)
        .bind(13, m->me.start)
        .run();
    const int64_t id = db.lastInsertId();
    char number[16];
    std::snprintf(number, sizeof number, "%04lld", static_cast<long long>(id));
    const std::string base = "runs/" + std::string(number) + "-" + safeName(spec.method) + "-" + std::to_string(spec.shots)
                             + "shot-seed" + std::to_string(spec.seed);
    std::string rel = base;
    std::error_code ec;
    for (int n = 2; fs::exists(fs::path(folder()) / rel, ec); ++n)
        rel = base + "-" + std::to_string(n);   // a folder left behind by a removed run is never reused
    db.prepare("UPDATE runs SET folder = ? WHERE id = ?").bind(1, rel).bind(2, id).run();
    tx.commit();
    return id;
}

std::string ProjectStore::runFolder(int64_t runId)
{
    auto st = m->db.prepare("SELECT folder FROM runs WHERE id = ?");
    st.bind(1, runId);
    if (!st.step())
        throw Error(m->path + ": has no run " + std::to_string(runId) + " ('sep project runs " + m->path + "' lists them)");
    const auto inside = runFolderInside(folder(), st.text(0));
    if (!inside)
        throw Error(m->path + ": run " + std::to_string(runId) + ": " + outsideFolderNote(st.text(0))
                    + ". Run 'sep project check " + m->path + "'.");
    return *inside;
}

RunInfo ProjectStore::run(int64_t runId)
{
    auto st = m->db.prepare(std::string("SELECT ") + kRunColumns + " FROM runs r WHERE r.id = ?");
    st.bind(1, runId);
    if (!st.step())
        throw Error(m->path + ": has no run " + std::to_string(runId) + " ('sep project runs " + m->path + "' lists them)");
    std::vector<RunInfo> one{readRun(st, folder())};
    addAccuracies(m->db, one);
    return one.front();
}

std::vector<RunInfo> ProjectStore::runs()
{
    std::vector<RunInfo> out;
    auto st = m->db.prepare(std::string("SELECT ") + kRunColumns + " FROM runs r ORDER BY r.id");
    while (st.step())
        out.push_back(readRun(st, folder()));
    addAccuracies(m->db, out);
    return out;
}

std::vector<RunInfo> ProjectStore::interruptedRuns()
{
    std::vector<RunInfo> out;
    for (auto &r : runs())
        if (r.interrupted)
            out.push_back(std::move(r));
    return out;
}

void ProjectStore::runStarted(int64_t runId, const train::RunSpec &spec, const nlohmann::json &plan,
                              const std::string &device, const std::vector<std::string> &trainImages, bool resuming)
{
    requireWritable("record a run");
    auto &db = m->db;
    const std::string now = utcNow();
    const std::string runDir = runFolder(runId);
    std::string model, weightsSha256, program;
    try {
        const auto runJson = nlohmann::json::parse(readFile(runDir + "/run.json"));
        model = runJson.value("model", "");
        weightsSha256 = runJson.value("weights_sha256", "");
        program = runJson.value("program", "");
    } catch (const std::exception &) {
        // The run folder holds these too; the database's copies are for listing and comparing.
    }
    std::optional<int64_t> datasetId;
    {
        auto st = db.prepare("SELECT dataset_id FROM runs WHERE id = ?");
        st.bind(1, runId);
        if (st.step() && !st.isNull(0))
            datasetId = st.integer(0);
    }
    if (!datasetId)
        datasetId = findDataset(spec.data);

    Transaction tx(db);
    auto up = db.prepare("UPDATE runs SET status = 'running', message = '', spec = ?, method = ?, shots = ?, seed = ?, "
                         "base_to_new = ?, device = ?, plan = ?, model = ?, dataset_id = ?, "
                         "weights_sha256 = ?, program = ?, started_at = COALESCE(started_at, ?), finished_at = NULL, updated_at = ?, "
                         "owner_pid = ?, owner_host = ?, owner_start = ? WHERE id = ?");
    up.bind(1, spec.toJson().dump())
        .bind(2, spec.method)
        .bind(3, spec.shots)
        .bind(4, static_cast<int64_t>(spec.seed))
        .bind(5, spec.baseToNew ? 1 : 0)
        .bind(6, device)
        .bind(7, plan.dump())
        .bind(8, model);
    if (datasetId)
        up.bind(9, *datasetId);
    else
        up.bindNull(9);
    up.bind(10, weightsSha256).bind(11, program);
    up.bind(12, now).bind(13, now).bind(14, m->me.pid).bind(15, m->me.host).bind(16, m->me.start).bind(17, runId).run();

    if (!resuming && datasetId) {
        db.prepare("DELETE FROM run_images WHERE run_id = ?").bind(1, runId).run();
        const std::string root = db.queryText("SELECT root FROM datasets WHERE id = " + std::to_string(*datasetId));
        auto find = db.prepare("SELECT id, content_hash FROM images WHERE dataset_id = ? AND path = ?");
        auto add = db.prepare("INSERT OR IGNORE INTO run_images(run_id, image_id, role, content_hash) VALUES (?, ?, 'train', ?)");
        for (const auto &path : trainImages) {
            find.bind(1, *datasetId).bind(2, relativeTo(path, root));
            if (find.step()) {
                add.bind(1, runId).bind(2, find.integer(0));
                if (find.isNull(1))
                    add.bindNull(3);
                else
                    add.bind(3, find.text(1));
                add.run();
                add.reset();
            }
            find.reset();
        }
    }
    if (resuming) {
        // The files are written before the database, so after a crash the run folder may be one step
        // ahead: make the records match its checkpoint.
        const std::string checkpoints = runDir + "/checkpoints";
        const int64_t done = train::Trainer::checkpointEpoch(checkpoints);
        db.prepare("DELETE FROM epoch_metrics WHERE run_id = ? AND epoch > ?").bind(1, runId).bind(2, std::max<int64_t>(done, 0)).run();
        db.prepare("DELETE FROM checkpoints WHERE run_id = ? AND epoch > ?").bind(1, runId).bind(2, std::max<int64_t>(done, 0)).run();
        std::error_code ec;
        if (done > 0 && fs::exists(runDir + "/metrics.json", ec)) {
            const auto history = parseOr(readFile(runDir + "/metrics.json"), nlohmann::json::array());
            auto ins = db.prepare("INSERT OR IGNORE INTO epoch_metrics(run_id, epoch, lr, loss, train_accuracy, seconds, "
                                  "loss_parts, test_accuracy, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
            for (const auto &r : history) {
                if (!r.is_object() || r.value("epoch", int64_t(0)) < 1 || r.value("epoch", int64_t(0)) > done)
                    continue;
                ins.bind(1, runId)
                    .bind(2, r.value("epoch", int64_t(0)))
                    .bind(3, r.value("lr", 0.0))
                    .bind(4, r.value("loss", 0.0))
                    .bind(5, r.value("train_accuracy", 0.0))
                    .bind(6, r.value("seconds", 0.0))
                    .bind(7, r.value("parts", nlohmann::json::object()).dump())
                    .bind(8, r.value("eval", nlohmann::json::object()).dump())
                    .bind(9, now)
                    .run();
                ins.reset();
            }
        }
        if (done >= 0) {
            const std::string path = train::Trainer::checkpointPath(checkpoints);
            db.prepare("INSERT OR REPLACE INTO checkpoints(run_id, path, epoch, size, written_at) VALUES (?, ?, ?, ?, ?)")
                .bind(1, runId)
                .bind(2, relativeTo(fs::absolute(path).string(), fs::absolute(folder()).string()))
                .bind(3, done)
                .bind(4, fileSize(path))
                .bind(5, now)
                .run();
        }
    }
    tx.commit();
}

void ProjectStore::recordCheckpoint(int64_t runId, int64_t epoch, const std::string &path)
{
    requireWritable("record a checkpoint");
    auto &db = m->db;
    const std::string now = utcNow();
    Transaction tx(db);
    db.prepare("INSERT OR REPLACE INTO checkpoints(run_id, path, epoch, size, written_at) VALUES (?, ?, ?, ?, ?)")
        .bind(1, runId)
        .bind(2, relativeTo(fs::absolute(path).string(), fs::absolute(folder()).string()))
        .bind(3, epoch)
        .bind(4, fileSize(path))
        .bind(5, now)
        .run();
    db.prepare("UPDATE runs SET updated_at = ? WHERE id = ?").bind(1, now).bind(2, runId).run();
    pauseHereForTests("checkpoint", epoch);
    tx.commit();
}

void ProjectStore::recordEpoch(int64_t runId, const train::EpochRecord &r)
{
    requireWritable("record an epoch");
    auto &db = m->db;
    const std::string now = utcNow();
    Transaction tx(db);
    db.prepare("INSERT INTO epoch_metrics(run_id, epoch, lr, loss, train_accuracy, seconds, loss_parts, test_accuracy, "
               "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, epoch) DO UPDATE SET lr = excluded.lr, "
               "loss = excluded.loss, train_accuracy = excluded.train_accuracy, seconds = excluded.seconds, "
               "loss_parts = excluded.loss_parts, test_accuracy = excluded.test_accuracy, recorded_at = excluded.recorded_at")
        .bind(1, runId)
        .bind(2, r.epoch)
        .bind(3, r.lr)
        .bind(4, r.loss)
        .bind(5, r.trainAccuracy)
        .bind(6, r.seconds)
        .bind(7, jsonOfDoubles(r.parts))
        .bind(8, jsonOfDoubles(r.eval))
        .bind(9, now)
        .run();
    db.prepare("UPDATE runs SET updated_at = ? WHERE id = ?").bind(1, now).bind(2, runId).run();
    pauseHereForTests("metrics", r.epoch);
    tx.commit();
}

void ProjectStore::recordEvaluation(int64_t runId, const std::string &set, const std::vector<std::string> &classes,
                                    const train::EvalResult &result,
                                    const std::vector<prompt::ClassSelection> &classSelections)
{
    requireWritable("record an evaluation");
    auto &db = m->db;
    const std::string now = utcNow();

    // Predictions point at the project's image rows where the image belongs to the run's dataset.
    std::map<std::string, int64_t> imageIds;
    {
        auto st = db.prepare("SELECT i.id, d.root || '/' || i.path FROM images i JOIN datasets d ON d.id = i.dataset_id "
                             "JOIN runs r ON r.dataset_id = d.id WHERE r.id = ?");
        st.bind(1, runId);
        while (st.step())
            imageIds[fs::path(st.text(1)).lexically_normal().string()] = st.integer(0);
    }
    const auto &c = result.confusion;
    nlohmann::json perClass = nlohmann::json::array(), counts = nlohmann::json::array(), failures = nlohmann::json::array();
    for (double a : c.perClassAccuracy())
        perClass.push_back(std::isfinite(a) ? nlohmann::json(a) : nlohmann::json());
    for (int64_t n : c.perClassCount())
        counts.push_back(n);
    for (const auto &f : result.failures)
        failures.push_back({{"path", f.path}, {"reason", f.reason}});

    Transaction tx(db);
    db.prepare("DELETE FROM evaluations WHERE run_id = ? AND test_set = ?").bind(1, runId).bind(2, set).run();
    db.prepare("INSERT INTO evaluations(run_id, test_set, classes, accuracy, correct, total, per_class_accuracy, "
               "per_class_count, confusion, failures, seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, runId)
        .bind(2, set)
        .bind(3, nlohmann::json(classes).dump())
        .bind(4, c.accuracy())
        .bind(5, c.correct())
        .bind(6, c.total())
        .bind(7, perClass.dump())
        .bind(8, counts.dump())
        .bindBlob(9, packInt32(c.cells()))
        .bind(10, failures.dump())
        .bind(11, result.seconds)
        .bind(12, now)
        .run();
    const int64_t evalId = db.lastInsertId();

    auto pred = db.prepare("INSERT INTO predictions(evaluation_id, position, image_id, path, label, top, top_prob, "
                           "true_rank, true_prob) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    auto sel = db.prepare("INSERT INTO selections(evaluation_id, modality, item, block, indices, scores, attention, rows, "
                          "pieces) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    auto addSelection = [&](const char *modality, int64_t item, int64_t block, const std::vector<uint8_t> &indices,
                            const std::vector<float> &scores, const std::vector<float> &attention, int64_t rows,
                            const std::string *pieces) {
        sel.bind(1, evalId).bind(2, modality).bind(3, item).bind(4, block).bindBlob(5, indices).bindBlob(6, packFloat32(scores));
        sel.bindBlob(7, packFloat32(attention)).bind(8, rows);
        if (pieces)
            sel.bind(9, *pieces);
        else
            sel.bindNull(9);
        sel.run();
        sel.reset();
    };
    for (size_t i = 0; i < result.predictions.size(); ++i) {
        const auto &p = result.predictions[i];
        pred.bind(1, evalId).bind(2, static_cast<int64_t>(i));
        const auto it = imageIds.find(fs::path(p.path).lexically_normal().string());
        if (it != imageIds.end())
            pred.bind(3, it->second);
        else
            pred.bindNull(3);
        pred.bind(4, p.path).bind(5, p.label).bindBlob(6, packInt32(p.top)).bindBlob(7, packFloat32(p.topProb));
        if (p.trueRank > 0)
            pred.bind(8, p.trueRank).bind(9, static_cast<double>(p.trueProb));
        else
            pred.bindNull(8).bindNull(9);
        pred.run();
        pred.reset();
        if (i < result.selections.size()) {
            const auto &s = result.selections[i];
            for (const auto &layer : s.layers) {
                const int64_t rows = layer.tokens.empty() ? 0 : static_cast<int64_t>(layer.attention.size() / layer.tokens.size());
                addSelection("image", static_cast<int64_t>(i), layer.block, packInt32(layer.tokens), layer.scores,
                             layer.attention, rows, nullptr);
            }
            for (size_t b = 0; b < s.clsAttention.size(); ++b)
                addSelection("cls_attention", static_cast<int64_t>(i), static_cast<int64_t>(b), {}, s.clsAttention[b], {}, 0,
                             nullptr);
        }
    }
    for (size_t k = 0; k < classSelections.size(); ++k) {
        const auto &cs = classSelections[k];
        const auto found = std::find(classes.begin(), classes.end(), cs.className);
        const int64_t item = found != classes.end() ? found - classes.begin() : static_cast<int64_t>(k);
        const std::string pieces = nlohmann::json(cs.pieces).dump();
        for (const auto &layer : cs.layers) {
            const int64_t rows =
                layer.positions.empty() ? 0 : static_cast<int64_t>(layer.attention.size() / layer.positions.size());
            addSelection("text", item, layer.block, packInt32(layer.positions), {}, layer.attention, rows, &pieces);
        }
    }
    db.prepare("UPDATE runs SET updated_at = ? WHERE id = ?").bind(1, now).bind(2, runId).run();
    pauseHereForTests("evaluation", 0);
    tx.commit();
}

void ProjectStore::runEnded(int64_t runId, const std::string &status, const std::string &message)
{
    requireWritable("record the end of a run");
    auto &db = m->db;
    const std::string now = utcNow();
    Transaction tx(db);
    auto st = db.prepare("UPDATE runs SET status = ?, message = ?, updated_at = ?, "
                         "finished_at = CASE WHEN ? = 'finished' THEN ? ELSE finished_at END WHERE id = ?");
    st.bind(1, status).bind(2, message).bind(3, now).bind(4, status).bind(5, now).bind(6, runId).run();
    tx.commit();
}

namespace {

void setRunText(Database &db, const std::string &project, int64_t runId, const char *column, const std::string &text)
{
    Transaction tx(db);
    db.prepare(std::string("UPDATE runs SET ") + column + " = ? WHERE id = ?").bind(1, text).bind(2, runId).run();
    if (db.changes() == 0)
        throw Error(project + ": has no run " + std::to_string(runId) + " ('sep project runs " + project + "' lists them)");
    tx.commit();
}

void requireRunText(const std::string &text, size_t maxBytes, bool oneLine, int64_t runId, const char *what)
{
    const std::string run = "run " + std::to_string(runId) + "'s " + what;
    if (!isValidUtf8(text))
        throw Error(run + " is not valid UTF-8 text; nothing was changed");
    if (text.size() > maxBytes)
        throw Error(run + " is " + std::to_string(text.size()) + " bytes long; at most " + std::to_string(maxBytes)
                    + " are kept. Shorten it; nothing was changed");
    if (oneLine && text.find_first_of("\r\n") != std::string::npos)
        throw Error(run + " must be one line; nothing was changed");
}

} // namespace

void ProjectStore::setRunName(int64_t runId, const std::string &name)
{
    requireWritable("rename a run");
    requireRunText(name, kMaxRunNameBytes, true, runId, "name");
    setRunText(m->db, m->path, runId, "name", name);
}

void ProjectStore::setRunNotes(int64_t runId, const std::string &notes)
{
    requireWritable("write a run's notes");
    requireRunText(notes, kMaxRunNotesBytes, false, runId, "notes");
    setRunText(m->db, m->path, runId, "notes", notes);
}

void ProjectStore::removeRun(int64_t runId)
{
    requireWritable("remove a run");
    const RunInfo r = run(runId);
    if ((r.status == "running" || r.status == "queued") && !r.interrupted) {
        const auto alive = liveness(r.owner.pid, r.owner.host, r.owner.start);
        throw Error("run " + std::to_string(runId) + " is " + r.status + " in " + r.owner.describe()
                    + (alive == Liveness::Unknown ? ", on another computer that this one cannot check" : "")
                    + "; stop it there first (Ctrl-C or Cancel), then remove it");
    }
    const fs::path runDir = r.folder;
    const fs::path runsRoot = fs::absolute(folder()) / "runs";
    auto &db = m->db;
    {
        Transaction tx(db);
        db.prepare("DELETE FROM runs WHERE id = ?").bind(1, runId).run();
        // Images kept only because this run used them can go now.
        db.exec("DELETE FROM images WHERE state = 'missing' "
                "AND NOT EXISTS (SELECT 1 FROM run_images x WHERE x.image_id = images.id) "
                "AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.image_id = images.id)");
        tx.commit();
    }
    std::error_code ec;
    if (!isInside(runDir, runsRoot)) {
        // A folder the project did not make (an edited database?) is never deleted.
        m->notes.push_back("run " + std::to_string(runId) + "'s folder " + runDir.string()
                           + " is outside the project folder and was left in place");
        return;
    }
    fs::remove_all(runDir, ec);
    if (ec)
        throw Error("run " + std::to_string(runId) + " was removed from " + m->path + ", but its folder " + runDir.string()
                    + " could not be deleted (" + ec.message() + "); delete it by hand");
}

int64_t ProjectStore::recordExport(std::optional<int64_t> runId, const std::string &path, const nlohmann::json &options)
{
    requireWritable("record an export");
    auto &db = m->db;
    const std::string absPath = fs::absolute(path).lexically_normal().string();
    const std::string base = fs::absolute(folder()).lexically_normal().string();
    Transaction tx(db);
    auto st = db.prepare("INSERT INTO exports(run_id, path, options, created_at) VALUES (?, ?, ?, ?)");
    if (runId)
        st.bind(1, *runId);
    else
        st.bindNull(1);
    st.bind(2, isInside(absPath, base) ? relativeTo(absPath, base) : absPath).bind(3, options.dump()).bind(4, utcNow()).run();
    const int64_t id = db.lastInsertId();
    tx.commit();
    return id;
}

// ---------------------------------------------------------------------------------------------------
// Reading

std::vector<EpochRow> ProjectStore::epochs(int64_t runId)
{
    std::vector<EpochRow> out;
    auto st = m->db.prepare("SELECT epoch, lr, loss, train_accuracy, seconds, loss_parts, test_accuracy, recorded_at "
                            "FROM epoch_metrics WHERE run_id = ? ORDER BY epoch");
    st.bind(1, runId);
    while (st.step()) {
        EpochRow r;
        r.epoch = st.integer(0);
        r.lr = st.real(1);
        r.loss = st.real(2);
        r.trainAccuracy = st.real(3);
        r.seconds = st.real(4);
        r.parts = doublesOfJson(st.text(5));
        r.testAccuracy = doublesOfJson(st.text(6));
        r.recordedAt = st.text(7);
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<StoredEvaluation> ProjectStore::evaluations(int64_t runId)
{
    std::vector<StoredEvaluation> out;
    auto st = m->db.prepare(
        "SELECT e.id, e.test_set, e.classes, e.accuracy, e.correct, e.total, e.per_class_accuracy, e.per_class_count, "
        "e.confusion, e.failures, e.seconds, e.created_at, "
        "(SELECT COUNT(*) FROM predictions p WHERE p.evaluation_id = e.id), "
        "(SELECT COUNT(*) FROM selections s WHERE s.evaluation_id = e.id) "
        "FROM evaluations e WHERE e.run_id = ? ORDER BY e.test_set");
    st.bind(1, runId);
    while (st.step()) {
        StoredEvaluation e;
        e.id = st.integer(0);
        e.set = st.text(1);
        for (const auto &name : parseOr(st.text(2), nlohmann::json::array()))
            e.classes.push_back(name.is_string() ? name.get<std::string>() : std::string());
        e.accuracy = st.real(3);
        e.correct = st.integer(4);
        e.total = st.integer(5);
        for (const auto &a : parseOr(st.text(6), nlohmann::json::array()))
            e.perClassAccuracy.push_back(a.is_number() ? std::optional<double>(a.get<double>()) : std::nullopt);
        for (const auto &n : parseOr(st.text(7), nlohmann::json::array()))
            e.perClassCount.push_back(n.is_number() ? n.get<int64_t>() : 0);
        e.confusion = unpackInt32(st.blob(8));
        for (const auto &f : parseOr(st.text(9), nlohmann::json::array()))
            e.failures.push_back({f.value("path", ""), f.value("reason", "")});
        e.seconds = st.real(10);
        e.createdAt = st.text(11);
        e.predictions = st.integer(12);
        e.selections = st.integer(13);
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<StoredPrediction> ProjectStore::predictions(int64_t evaluationId)
{
    std::vector<StoredPrediction> out;
    auto st = m->db.prepare("SELECT position, image_id, path, label, top, top_prob, true_rank, true_prob FROM predictions "
                            "WHERE evaluation_id = ? ORDER BY position");
    st.bind(1, evaluationId);
    while (st.step()) {
        StoredPrediction p;
        p.position = st.integer(0);
        if (!st.isNull(1))
            p.imageId = st.integer(1);
        p.path = st.text(2);
        p.label = st.integer(3);
        p.top = unpackInt32(st.blob(4));
        p.topProb = unpackFloat32(st.blob(5));
        if (!st.isNull(6))
            p.trueRank = st.integer(6);
        if (!st.isNull(7))
            p.trueProb = static_cast<float>(st.real(7));
        out.push_back(std::move(p));
    }
    return out;
}

prompt::ImageSelection ProjectStore::imageSelection(int64_t evaluationId, int64_t position)
{
    prompt::ImageSelection s;
    auto st = m->db.prepare("SELECT modality, block, indices, scores, attention FROM selections "
                            "WHERE evaluation_id = ? AND item = ? AND modality IN ('image', 'cls_attention') "
                            "ORDER BY modality DESC, block");
    st.bind(1, evaluationId).bind(2, position);
    while (st.step()) {
        if (st.text(0) == "image") {
            prompt::ImageLayerSelection layer;
            layer.block = st.integer(1);
            layer.tokens = unpackInt32(st.blob(2));
            layer.scores = unpackFloat32(st.blob(3));
            layer.attention = unpackFloat32(st.blob(4));
            s.layers.push_back(std::move(layer));
        } else {
            s.clsAttention.push_back(unpackFloat32(st.blob(3)));
        }
    }
    return s;
}

std::vector<prompt::ClassSelection> ProjectStore::classSelections(int64_t evaluationId)
{
    std::vector<std::string> classes;
    {
        auto st = m->db.prepare("SELECT classes FROM evaluations WHERE id = ?");
        st.bind(1, evaluationId);
        if (st.step())
            for (const auto &name : parseOr(st.text(0), nlohmann::json::array()))
                classes.push_back(name.is_string() ? name.get<std::string>() : std::string());
    }
    std::map<int64_t, prompt::ClassSelection> byItem;
    auto st = m->db.prepare("SELECT item, block, indices, attention, pieces FROM selections "
                            "WHERE evaluation_id = ? AND modality = 'text' ORDER BY item, block");
    st.bind(1, evaluationId);
    while (st.step()) {
        const int64_t item = st.integer(0);
        auto &cs = byItem[item];
        if (cs.className.empty() && item >= 0 && item < static_cast<int64_t>(classes.size()))
            cs.className = classes[static_cast<size_t>(item)];
        if (cs.pieces.empty())
            for (const auto &p : parseOr(st.text(4), nlohmann::json::array()))
                cs.pieces.push_back(p.is_string() ? p.get<std::string>() : std::string());
        prompt::TextLayerSelection layer;
        layer.block = st.integer(1);
        layer.positions = unpackInt32(st.blob(2));
        layer.attention = unpackFloat32(st.blob(3));
        cs.layers.push_back(std::move(layer));
    }
    std::vector<prompt::ClassSelection> out;
    for (auto &[item, cs] : byItem)
        out.push_back(std::move(cs));
    return out;
}

std::vector<int64_t> ProjectStore::trainingImages(int64_t runId)
{
    std::vector<int64_t> out;
    auto st = m->db.prepare("SELECT image_id FROM run_images WHERE run_id = ? AND role = 'train' ORDER BY image_id");
    st.bind(1, runId);
    while (st.step())
        out.push_back(st.integer(0));
    return out;
}

std::vector<std::string> ProjectStore::trainingImagePaths(int64_t runId)
{
    std::vector<std::string> out;
    auto st = m->db.prepare("SELECT d.root, i.path FROM run_images r JOIN images i ON i.id = r.image_id "
                            "JOIN datasets d ON d.id = i.dataset_id WHERE r.run_id = ? AND r.role = 'train'");
    st.bind(1, runId);
    while (st.step())
        out.push_back((fs::path(st.text(0)) / st.text(1)).lexically_normal().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::string ProjectStore::splitFingerprint(int64_t runId)
{
    std::vector<std::string> lines;
    auto st = m->db.prepare("SELECT i.path, COALESCE(r.content_hash, '') FROM run_images r JOIN images i ON i.id = r.image_id "
                            "WHERE r.run_id = ? AND r.role = 'train'");
    st.bind(1, runId);
    while (st.step())
        lines.push_back(st.text(0) + "\t" + st.text(1) + "\n");
    if (lines.empty())
        return {};
    std::sort(lines.begin(), lines.end());
    std::string all;
    for (const auto &l : lines)
        all += l;
    return sha256(all);
}

nlohmann::json ProjectStore::summary()
{
    auto &db = m->db;
    nlohmann::json j;
    j["path"] = m->path;
    j["folder"] = folder();
    j["schema_version"] = m->version;
    j["created_at"] = db.queryText("SELECT value FROM meta WHERE key = 'created_at'");
    j["read_only"] = m->readOnly;
    j["file_bytes"] = fileSize(m->path);
    if (m->inUseBy)
        j["in_use_by"] = m->inUseBy->describe();
    j["datasets"] = nlohmann::json::array();
    for (const auto &d : datasets())
        j["datasets"].push_back({{"id", d.id},
                                 {"root", d.root},
                                 {"layout", d.layout},
                                 {"classes", d.classes},
                                 {"images", d.images},
                                 {"missing", d.missing},
                                 {"unreadable", d.unreadable},
                                 {"added_at", d.addedAt},
                                 {"scanned_at", d.scannedAt}});
    nlohmann::json byStatus = nlohmann::json::object();
    nlohmann::json interrupted = nlohmann::json::array();
    int64_t total = 0;
    for (const auto &r : runs()) {
        ++total;
        byStatus[r.displayStatus()] = byStatus.value(r.displayStatus(), 0) + 1;
        if (r.interrupted)
            interrupted.push_back(r.id);
    }
    j["runs"] = {{"total", total}, {"by_status", byStatus}, {"interrupted", interrupted}};
    j["exports"] = db.queryInt("SELECT COUNT(*) FROM exports");
    j["notes"] = m->notes;
    return j;
}

std::vector<RecordLine> ProjectStore::reproducibilityRecord(int64_t runId)
{
    const RunInfo r = run(runId);
    const auto orNot = [](const std::string &v) { return v.empty() ? std::string("not recorded") : v; };
    const nlohmann::json spec = r.spec.is_object() ? r.spec : nlohmann::json::object();
    const auto part = [&](const char *key) {
        return spec.contains(key) && spec[key].is_object() ? spec[key].dump() : std::string("{}");
    };
    const auto text = [&](const char *key) {
        return spec.contains(key) && spec[key].is_string() ? spec[key].get<std::string>() : std::string();
    };
    // Every option the method ran with: those the spec set, the others at this program's defaults
    // (a spec keeps only what a person chose).
    nlohmann::json methodOptions = spec.contains("method_options") && spec["method_options"].is_object()
                                       ? spec["method_options"]
                                       : nlohmann::json::object();
    if (const auto *entry = prompt::findMethod(r.method))
        for (const auto &o : entry->options)
            if (!methodOptions.contains(o.key))
                methodOptions[o.key] = o.defaultValue;
    const size_t images = trainingImages(runId).size();
    const std::string split = splitFingerprint(runId);
    return {{"method", r.method},
            {"protocol", r.baseToNew ? "base-to-new" : "all classes"},
            {"shots", std::to_string(r.shots)},
            {"seed", std::to_string(r.seed)},
            {"data", orNot(text("data"))},
            {"split", split.empty() ? std::string("not recorded")
                                    : std::to_string(images) + " training images, SHA-256 " + split},
            {"weights", orNot(text("weights"))},
            {"weights SHA-256", orNot(r.weightsSha256)},
            {"model", orNot(r.model)},
            {"program", orNot(r.program)},
            {"method options", methodOptions.dump()},
            {"training options", part("train")},
            {"device", orNot(r.device)}};
}

nlohmann::json ProjectStore::runDetails(int64_t runId)
{
    const RunInfo r = run(runId);
    nlohmann::json j = r.toJson();
    j["epochs_recorded"] = nlohmann::json::array();
    for (const auto &e : epochs(runId))
        j["epochs_recorded"].push_back({{"epoch", e.epoch},
                                        {"lr", e.lr},
                                        {"loss", e.loss},
                                        {"train_accuracy", e.trainAccuracy},
                                        {"seconds", e.seconds},
                                        {"parts", e.parts},
                                        {"test_accuracy", e.testAccuracy}});
    j["evaluations"] = nlohmann::json::array();
    for (const auto &e : evaluations(runId)) {
        nlohmann::json perClass = nlohmann::json::array();
        for (size_t c = 0; c < e.classes.size(); ++c)
            perClass.push_back({{"class", e.classes[c]},
                                {"accuracy", c < e.perClassAccuracy.size() && e.perClassAccuracy[c]
                                                 ? nlohmann::json(*e.perClassAccuracy[c])
                                                 : nlohmann::json()},
                                {"images", c < e.perClassCount.size() ? e.perClassCount[c] : 0}});
        nlohmann::json confusion = nlohmann::json::array();
        const size_t n = e.classes.size();
        for (size_t row = 0; row < n && (row + 1) * n <= e.confusion.size(); ++row)
            confusion.push_back(std::vector<int64_t>(e.confusion.begin() + static_cast<std::ptrdiff_t>(row * n),
                                                     e.confusion.begin() + static_cast<std::ptrdiff_t>((row + 1) * n)));
        nlohmann::json failures = nlohmann::json::array();
        for (const auto &f : e.failures)
            failures.push_back({{"path", f.path}, {"reason", f.reason}});
        j["evaluations"].push_back({{"id", e.id},
                                    {"set", e.set},
                                    {"accuracy", e.accuracy},
                                    {"correct", e.correct},
                                    {"total", e.total},
                                    {"per_class", perClass},
                                    {"confusion", confusion},
                                    {"unreadable", failures},
                                    {"predictions", e.predictions},
                                    {"selections", e.selections},
                                    {"seconds", e.seconds},
                                    {"created_at", e.createdAt}});
    }
    j["checkpoints"] = nlohmann::json::array();
    auto st = m->db.prepare("SELECT path, epoch, size, written_at FROM checkpoints WHERE run_id = ? ORDER BY epoch");
    st.bind(1, runId);
    while (st.step())
        j["checkpoints"].push_back({{"path", (fs::absolute(folder()) / st.text(0)).lexically_normal().string()},
                                    {"epoch", st.integer(1)},
                                    {"bytes", st.integer(2)},
                                    {"written_at", st.text(3)}});
    j["training_images"] = trainingImages(runId).size();
    j["split_sha256"] = splitFingerprint(runId);
    j["record"] = nlohmann::json::object();
    for (const auto &line : reproducibilityRecord(runId))
        j["record"][line.label] = line.value;
    j["exports"] = nlohmann::json::array();
    auto ex = m->db.prepare("SELECT id, path, options, created_at FROM exports WHERE run_id = ? ORDER BY id");
    ex.bind(1, runId);
    while (ex.step())
        j["exports"].push_back({{"id", ex.integer(0)},
                                {"path", ex.text(1)},
                                {"options", parseOr(ex.text(2), nlohmann::json::object())},
                                {"created_at", ex.text(3)}});
    return j;
}

std::vector<std::string> ProjectStore::check()
{
    std::vector<std::string> problems;
    auto &db = m->db;
    {
        auto st = db.prepare("PRAGMA integrity_check");
        while (st.step())
            if (st.text(0) != "ok")
                problems.push_back("database: " + st.text(0));
    }
    {
        auto st = db.prepare("PRAGMA foreign_key_check");
        while (st.step())
            problems.push_back("database: a row of '" + st.text(0) + "' refers to a missing row of '" + st.text(2) + "'");
    }
    std::error_code ec;
    for (const auto &d : datasets())
        if (!fs::is_directory(d.root, ec))
            problems.push_back("dataset " + std::to_string(d.id) + ": its folder " + d.root
                               + " is not there (moved, or on a drive that is not mounted)");
    for (const auto &r : runs()) {
        if (r.interrupted)
            problems.push_back(interruptedNote(r, m->path));
        const bool outside = r.folder.find("/.unusable-folder-of-run-") != std::string::npos;   // reported below
        if (r.status != "queued" && !outside && !fs::is_directory(r.folder, ec))
            problems.push_back("run " + std::to_string(r.id) + ": its folder " + r.folder + " is missing");
    }
    // What the store relies on beyond SQLite's own checks: each run's columns and spec as the code
    // that reads them expects, and its folder inside the project's.
    {
        auto runs = db.prepare("SELECT id, method, spec, shots, typeof(shots), seed, typeof(seed), folder FROM runs ORDER BY id");
        while (runs.step()) {
            const std::string run = "run " + std::to_string(runs.integer(0));
            const std::string method = runs.text(1);
            if (!prompt::findMethod(method))
                problems.push_back(run + ": unknown method '" + shortened(method, 40) + "'");
            if (runs.text(4) != "integer" || runs.integer(3) < 1)
                problems.push_back(run + ": its shots column holds '" + shortened(runs.text(3), 40) + "', not a whole number ≥ 1");
            if (runs.text(6) != "integer")
                problems.push_back(run + ": its seed column holds '" + shortened(runs.text(5), 40) + "', not a whole number");
            try {
                train::RunSpec::fromJson(nlohmann::json::parse(runs.text(2)), run + "'s spec");
            } catch (const nlohmann::json::exception &) {
                problems.push_back(run + ": its spec is not valid JSON; the run cannot be resumed or evaluated");
            } catch (const Error &e) {
                problems.push_back(e.what());
            }
            if (!runFolderInside(folder(), runs.text(7)))
                problems.push_back(run + ": " + outsideFolderNote(runs.text(7)));
        }
    }
    auto st = db.prepare("SELECT run_id, path, epoch FROM checkpoints");
    while (st.step()) {
        const auto path = fs::absolute(folder()) / st.text(1);
        if (!fs::exists(path, ec))
            problems.push_back("run " + std::to_string(st.integer(0)) + ": its checkpoint " + path.string() + " (epoch "
                               + std::to_string(st.integer(2)) + ") is missing");
    }
    return problems;
}

// ---------------------------------------------------------------------------------------------------

std::string RunInfo::displayStatus() const { return interrupted ? "interrupted" : status; }

nlohmann::json RunInfo::toJson() const
{
    nlohmann::json j = {{"id", id},
                        {"method", method},
                        {"shots", shots},
                        {"seed", seed},
                        {"base_to_new", baseToNew},
                        {"status", displayStatus()},
                        {"recorded_status", status},
                        {"interrupted", interrupted},
                        {"message", message},
                        {"device", device},
                        {"model", model},
                        {"folder", folder},
                        {"epochs", epochs},
                        {"epochs_done", epochsRecorded},
                        {"checkpoint_epoch", checkpointEpoch},
                        {"accuracy", accuracy},
                        {"created_at", createdAt},
                        {"started_at", startedAt},
                        {"finished_at", finishedAt},
                        {"updated_at", updatedAt},
                        {"owner", {{"pid", owner.pid}, {"host", owner.host}}},
                        {"name", name},
                        {"notes", notes},
                        {"weights_sha256", weightsSha256},
                        {"program", program},
                        {"spec", spec},
                        {"plan", plan}};
    if (datasetId)
        j["dataset"] = datasetId;
    if (harmonicMean)
        j["harmonic_mean"] = *harmonicMean;
    return j;
}

} // namespace sep::projects
