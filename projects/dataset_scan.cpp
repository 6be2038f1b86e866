// Importing and re-scanning image folders into a project: scan, hash and decode-check in parallel,
// then record everything in one transaction.
#include "engine/clip/image.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/runtime.h"
#include "engine/core/sha256.h"
#include "engine/core/text.h"
#include "engine/data/few_shot.h"
#include "projects/project_store.h"
#include "projects/store_impl.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

namespace sep::projects {
namespace fs = std::filesystem;
namespace {

struct Existing {
    int64_t id = 0;
    int64_t size = 0;
    std::optional<int64_t> mtime;
    std::string hash, state, decodeStatus;
};

struct Found {
    std::string rel, split, classFolder, full;
    int64_t size = 0;
    int64_t mtime = 0;
    const Existing *old = nullptr;
    bool needsHash = false;
    // Filled by the workers:
    std::string hash;
    bool decoded = false;       // a decode check ran
    bool decodeOk = false;
    std::string reason;
    int width = 0, height = 0;
};

bool statFile(const std::string &path, int64_t &size, int64_t &mtime)
{
    struct stat s {
    };
    if (::stat(path.c_str(), &s) != 0)
        return false;
    size = static_cast<int64_t>(s.st_size);
    mtime = static_cast<int64_t>(s.st_mtim.tv_sec) * 1000000000 + s.st_mtim.tv_nsec;
    return true;
}

// Reads the file once: its hash, and (when asked) whether it decodes.
void examine(Found &f, bool decodeCheck)
{
    std::string bytes;
    try {
        bytes = readFile(f.full);
    } catch (const Error &e) {
        f.decoded = true;
        f.decodeOk = false;
        f.reason = reasonAbout(f.full, e.what());
        return;
    }
    f.hash = sha256(bytes);
    const bool contentNew = !f.old || f.old->hash != f.hash || f.old->decodeStatus == "unchecked";
    if (!decodeCheck || !contentNew)
        return;
    f.decoded = true;
    try {
        // A repaired image stays usable (status ok); what the decoder said is its recorded reason.
        const cv::Mat rgb = clip::decodeImage(std::vector<uint8_t>(bytes.begin(), bytes.end()), f.full, &f.reason);
        f.decodeOk = true;
        f.width = rgb.cols;
        f.height = rgb.rows;
    } catch (const std::exception &e) {
        f.decodeOk = false;
        f.reason = reasonAbout(f.full, e.what());
    }
}

bool referencedByRuns(Database &db, int64_t imageId)
{
    auto st = db.prepare("SELECT EXISTS (SELECT 1 FROM run_images WHERE image_id = ?1) "
                         "OR EXISTS (SELECT 1 FROM predictions WHERE image_id = ?1)");
    st.bind(1, imageId);
    return st.step() && st.integer(0) != 0;
}

} // namespace

nlohmann::json ScanReport::toJson() const
{
    nlohmann::json issuesJson = nlohmann::json::array(), unreadableJson = nlohmann::json::array();
    for (const auto &i : issues)
        issuesJson.push_back({{"path", i.path}, {"reason", i.reason}});
    for (const auto &i : unreadable)
        unreadableJson.push_back({{"path", i.path}, {"reason", i.reason}});
    return {{"dataset", datasetId},   {"root", root},         {"first_scan", firstScan}, {"classes", classes},
            {"images", images},       {"added", added},       {"removed", removed},      {"changed", changed},
            {"restored", restored},   {"unchanged", unchanged}, {"kept_missing", keptMissing},
            {"still_missing", stillMissing}, {"issues", issuesJson}, {"unreadable", unreadableJson}};
}

std::optional<int64_t> ProjectStore::findDataset(const std::string &root)
{
    auto st = m->db.prepare("SELECT id FROM datasets WHERE root = ?");
    st.bind(1, normaliseRoot(root));
    if (st.step())
        return st.integer(0);
    return std::nullopt;
}

std::vector<DatasetInfo> ProjectStore::datasets()
{
    std::vector<DatasetInfo> out;
    auto st = m->db.prepare(
        "SELECT d.id, d.root, d.layout, d.added_at, d.scanned_at, d.last_scan, "
        "(SELECT COUNT(*) FROM classes c WHERE c.dataset_id = d.id AND c.label IS NOT NULL), "
        "(SELECT COUNT(*) FROM images i WHERE i.dataset_id = d.id AND i.state = 'present'), "
        "(SELECT COUNT(*) FROM images i WHERE i.dataset_id = d.id AND i.state = 'missing'), "
        "(SELECT COUNT(*) FROM images i WHERE i.dataset_id = d.id AND i.state = 'present' AND i.decode_status = 'failed') "
        "FROM datasets d ORDER BY d.id");
    while (st.step()) {
        DatasetInfo d;
        d.id = st.integer(0);
        d.root = st.text(1);
        d.layout = st.text(2);
        d.addedAt = st.text(3);
        d.scannedAt = st.text(4);
        d.lastScan = nlohmann::json::parse(st.text(5), nullptr, false);
        d.classes = st.integer(6);
        d.images = st.integer(7);
        d.missing = st.integer(8);
        d.unreadable = st.integer(9);
        out.push_back(std::move(d));
    }
    return out;
}

std::map<std::string, std::string> ProjectStore::givenClassNames(int64_t datasetId)
{
    std::map<std::string, std::string> out;
    auto st = m->db.prepare("SELECT folder, given_name FROM classes WHERE dataset_id = ? AND given_name IS NOT NULL");
    st.bind(1, datasetId);
    while (st.step())
        out.emplace(st.text(0), st.text(1));
    return out;
}

void ProjectStore::setClassNames(int64_t datasetId, const std::map<std::string, std::optional<std::string>> &names)
{
    requireWritable("rename classes");
    auto &db = m->db;
    const std::string dataset = "dataset " + std::to_string(datasetId);
    for (const auto &[folder, name] : names)
        if (name && (name->empty() || name->find_first_of("\r\n") != std::string::npos))
            throw Error("class '" + folder + "' of " + dataset + ": a class name must be one line of text, not empty; "
                        "nothing was renamed");
    Transaction tx(db);
    if (db.queryInt("SELECT COUNT(*) FROM datasets WHERE id = " + std::to_string(datasetId)) == 0)
        throw Error(m->path + " has no " + dataset + "; nothing was renamed");
    auto st = db.prepare("UPDATE classes SET given_name = ? WHERE dataset_id = ? AND folder = ?");
    for (const auto &[folder, name] : names) {
        if (name)
            st.bind(1, *name);
        else
            st.bindNull(1);
        st.bind(2, datasetId).bind(3, folder).run();
        if (db.changes() == 0)
            throw Error(m->path + ": " + dataset + " has no class folder '" + folder + "' (rescan the dataset if it "
                        "is new); nothing was renamed");
        st.reset();
    }
    tx.commit();
}

ScanReport ProjectStore::importDataset(const std::string &rootGiven, const ScanOptions &options, const Hooks &hooks)
{
    requireWritable("import a dataset");
    auto &db = m->db;
    const std::string root = normaliseRoot(rootGiven);
    ScanReport report;
    report.root = root;
    const auto existingId = findDataset(root);
    report.firstScan = !existingId;
    // Runs and exports go into the project's folder; inside the dataset they would be scanned as a class.
    requireOutputOutside(this->folder(), root, "the project folder");

    data::ImageFolder folder;
    try {
        folder = data::ImageFolder::scan(root);
    } catch (const Error &e) {
        if (!existingId)
            throw;
        const int64_t kept = db.queryInt("SELECT COUNT(*) FROM images WHERE dataset_id = " + std::to_string(*existingId));
        throw Error(std::string(e.what()) + ". The project keeps this dataset's " + std::to_string(kept)
                    + " image records and every run that used them; nothing was changed. If the images moved, import "
                      "them from their new folder.");
    }
    report.issues = folder.issues;

    // What the project knew.
    std::map<std::string, Existing> known;
    if (existingId) {
        auto st = db.prepare("SELECT id, path, size, mtime_ns, content_hash, state, decode_status FROM images "
                             "WHERE dataset_id = ?");
        st.bind(1, *existingId);
        while (st.step()) {
            Existing e;
            e.id = st.integer(0);
            e.size = st.integer(2);
            if (!st.isNull(3))
                e.mtime = st.integer(3);
            e.hash = st.text(4);
            e.state = st.text(5);
            e.decodeStatus = st.text(6);
            known.emplace(st.text(1), std::move(e));
        }
    }

    // What is there now.
    std::vector<Found> found;
    for (const auto &[split, records] : folder.splits) {
        for (const auto &rec : records) {
            Found f;
            f.full = rec.path;
            f.rel = fs::path(rec.path).lexically_relative(root).generic_string();
            f.split = split;
            f.classFolder = folder.classFolders[static_cast<size_t>(rec.label)];
            if (!statFile(f.full, f.size, f.mtime)) {
                report.issues.push_back({f.full, "vanished while the folder was scanned; ignored"});
                continue;
            }
            const auto it = known.find(f.rel);
            f.old = it != known.end() ? &it->second : nullptr;
            f.needsHash = !f.old || options.rehash || f.old->state != "present" || f.old->hash.empty()
                          || f.old->size != f.size || !f.old->mtime || *f.old->mtime != f.mtime;
            found.push_back(std::move(f));
        }
    }
    std::sort(found.begin(), found.end(), [](const Found &a, const Found &b) { return a.rel < b.rel; });

    // Hash (and decode) in parallel; nothing is written until everything is read.
    std::vector<size_t> work;
    for (size_t i = 0; i < found.size(); ++i)
        if (found[i].needsHash)
            work.push_back(i);
    const int threads = std::max(1, std::min<int>(options.threads > 0 ? options.threads : availableCores(),
                                                  static_cast<int>(work.size())));
    std::atomic<size_t> next{0}, done{0};
    std::atomic<bool> stop{false};
    auto worker = [&] {
        for (size_t k; !stop && (k = next++) < work.size();) {
            examine(found[work[k]], options.decodeCheck);
            ++done;
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t)
        pool.emplace_back(worker);
    // This thread works too, and is the one that reports progress and watches the cancel flag.
    for (size_t k; !stop && (k = next++) < work.size();) {
        examine(found[work[k]], options.decodeCheck);
        ++done;
        hooks.report({static_cast<int64_t>(done.load()), static_cast<int64_t>(work.size()), "hashing images"});
        if (hooks.cancelled())
            stop = true;
    }
    for (auto &t : pool)
        t.join();
    if (stop)
        throw Cancelled{};

    const std::string now = utcNow();
    Transaction tx(db);
    int64_t datasetId;
    if (existingId) {
        datasetId = *existingId;
    } else {
        db.prepare("INSERT INTO datasets(root, layout, added_at) VALUES (?, ?, ?)")
            .bind(1, root)
            .bind(2, folder.hasSplits() ? "splits" : "flat")
            .bind(3, now)
            .run();
        datasetId = db.lastInsertId();
    }
    report.datasetId = datasetId;

    // Classes: the current folders get their label and half; folders that are gone keep their row
    // (old images and runs point at it) without a label. `name` is what the folder says now; a name
    // given in the project (given_name) is not the scan's to change.
    db.prepare("UPDATE classes SET label = NULL, half = NULL WHERE dataset_id = ?").bind(1, datasetId).run();
    const int64_t n = folder.numClasses();
    const int64_t base = data::baseClassCount(n);
    auto cls = db.prepare("INSERT INTO classes(dataset_id, folder, name, label, half) VALUES (?, ?, ?, ?, ?) "
                          "ON CONFLICT(dataset_id, folder) DO UPDATE SET name = excluded.name, label = excluded.label, "
                          "half = excluded.half");
    for (int64_t i = 0; i < n; ++i) {
        cls.bind(1, datasetId)
            .bind(2, folder.classFolders[static_cast<size_t>(i)])
            .bind(3, folder.classNames[static_cast<size_t>(i)])
            .bind(4, i)
            .bind(5, i < base ? "base" : "new")
            .run();
        cls.reset();
    }
    std::map<std::string, int64_t> classIds;
    {
        auto st = db.prepare("SELECT folder, id FROM classes WHERE dataset_id = ?");
        st.bind(1, datasetId);
        while (st.step())
            classIds[st.text(0)] = st.integer(1);
    }
    report.classes = n;

    auto insert = db.prepare("INSERT INTO images(dataset_id, class_id, split, path, size, mtime_ns, content_hash, state, "
                             "last_seen, decode_status, decode_reason, width, height) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, 'present', ?, ?, ?, ?, ?)");
    auto update = db.prepare("UPDATE images SET class_id = ?, split = ?, size = ?, mtime_ns = ?, "
                             "content_hash = COALESCE(?, content_hash), state = 'present', last_seen = ? WHERE id = ?");
    auto decoded = db.prepare("UPDATE images SET decode_status = ?, decode_reason = ?, width = ?, height = ? WHERE id = ?");
    auto bindOptionalText = [](Statement &st, int index, const std::string &text) {
        if (text.empty())
            st.bindNull(index);
        else
            st.bind(index, text);
    };
    std::set<std::string> present;
    for (auto &f : found) {
        present.insert(f.rel);
        if (f.decoded && !f.decodeOk)
            report.unreadable.push_back({f.full, f.reason});
        else if (f.decoded && !f.reason.empty())
            report.issues.push_back({f.full, f.reason});
        else if (!f.decoded && f.old && f.old->decodeStatus == "failed")
            report.unreadable.push_back({f.full, "did not decode when it was last checked"});
        const int64_t classId = classIds.at(f.classFolder);
        if (!f.old) {
            insert.bind(1, datasetId).bind(2, classId).bind(3, f.split).bind(4, f.rel).bind(5, f.size).bind(6, f.mtime);
            bindOptionalText(insert, 7, f.hash);
            insert.bind(8, now).bind(9, !f.decoded ? "unchecked" : f.decodeOk ? "ok" : "failed").bind(10, f.reason);
            if (f.decoded && f.decodeOk)
                insert.bind(11, f.width).bind(12, f.height);
            else
                insert.bindNull(11).bindNull(12);
            insert.run();
            insert.reset();
            report.added.push_back(f.rel);
            continue;
        }
        const Existing &old = *f.old;
        if (old.state != "present")
            report.restored.push_back(f.rel);
        else if (!f.hash.empty() && !old.hash.empty() && f.hash != old.hash)
            report.changed.push_back(f.rel);
        else
            ++report.unchanged;
        update.bind(1, classId).bind(2, f.split).bind(3, f.size).bind(4, f.mtime);
        bindOptionalText(update, 5, f.hash);
        update.bind(6, now).bind(7, old.id).run();
        update.reset();
        if (f.decoded) {
            decoded.bind(1, f.decodeOk ? "ok" : "failed").bind(2, f.reason);
            if (f.decodeOk)
                decoded.bind(3, f.width).bind(4, f.height);
            else
                decoded.bindNull(3).bindNull(4);
            decoded.bind(5, old.id).run();
            decoded.reset();
        }
    }
    // Files that are gone: rows that runs point at stay, marked missing, so those runs keep their records.
    auto markMissing = db.prepare("UPDATE images SET state = 'missing' WHERE id = ?");
    auto remove = db.prepare("DELETE FROM images WHERE id = ?");
    for (const auto &[rel, old] : known) {
        if (present.count(rel))
            continue;
        if (old.state == "missing") {
            ++report.stillMissing;
            continue;
        }
        report.removed.push_back(rel);
        if (referencedByRuns(db, old.id)) {
            markMissing.bind(1, old.id).run();
            markMissing.reset();
            ++report.keptMissing;
        } else {
            remove.bind(1, old.id).run();
            remove.reset();
        }
    }
    report.images = static_cast<int64_t>(found.size());
    nlohmann::json summary = report.toJson();
    summary.erase("issues");
    summary.erase("unreadable");
    for (const char *key : {"added", "removed", "changed", "restored"})
        summary[key] = summary[key].size();
    summary["unreadable"] = report.unreadable.size();
    summary["issues"] = report.issues.size();
    db.prepare("UPDATE datasets SET scanned_at = ?, layout = ?, last_scan = ? WHERE id = ?")
        .bind(1, now)
        .bind(2, folder.hasSplits() ? "splits" : "flat")
        .bind(3, summary.dump())
        .bind(4, datasetId)
        .run();
    tx.commit();
    return report;
}

} // namespace sep::projects
