#pragma once
// The project store: everything a person did with SEP Studio in one project — datasets and their
// images, runs with every option, per-epoch curves, checkpoints, evaluations, per-image predictions
// and selections, exports — in one SQLite file (`NAME.sepproj`, sqlite3 C API, no Qt) with a folder
// beside it (`NAME.sepproj.d/`) for run folders and exports.
//
//   auto store = sep::projects::ProjectStore::create("pets.sepproj");
//   auto report = store.importDataset("/data/pets");                 // scan, hash, decode-check
//   const int64_t run = store.createRun(spec, report.datasetId);      // queued, with its folder
//   sep::projects::RunRecorder recorder(store, run, false);           // run_recorder.h
//   sep::train::trainRun(spec, store.runFolder(run), false, hooks, &recorder);
//
//   auto viewer = sep::projects::ProjectStore::open("pets.sepproj", {/*readOnly=*/true});
//   for (const auto &r : viewer.runs()) … r.displayStatus() …
//
// Guarantees: one writer process at a time (lock.h; a second one gets "in use by PID … on HOST since
// …" and may open read-only); every write is one transaction that rolls back whole on any error
// (disk full, kill -9, power loss with WAL + synchronous=FULL); a file that is not a SEP Studio
// project (not SQLite, another application's database, truncated, from a newer version) is refused
// with a message and never modified; older schema versions are upgraded step by step, after a copy
// of the file as it was is kept beside it. A run whose process died stays `running` with an owner
// that is gone: it is reported as interrupted and can be resumed from its last checkpoint.
//
// Not thread-safe: one ProjectStore per thread (the training worker records through its own).

#include "engine/core/hooks.h"
#include "engine/data/image_folder.h"
#include "engine/prompt/selection.h"
#include "projects/lock.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sep::train {
struct RunSpec;
struct EvalResult;
struct EpochRecord;
} // namespace sep::train

namespace sep::projects {

class Database;

struct OpenOptions {
    bool readOnly = false;
    std::string purpose;          // recorded with the lock, shown to a second writer ("sep train", …)
    int busyTimeoutMs = 10000;    // how long a statement waits for SQLite's own locks
    int64_t maxPageCount = 0;     // > 0: the file may not grow past this many pages (a quota; SQLite
                                  // then fails writes as if the disk were full)
    std::string vfs;              // SQLite VFS to use ("" = the default); tests inject faults with one

    static OpenOptions defaults() { return {}; }
};

struct ScanOptions {
    bool decodeCheck = true;      // decode new and changed images to record unreadable ones
    bool rehash = false;          // hash every file, not only those whose size or time changed
    int threads = 0;              // 0: every available core

    static ScanOptions defaults() { return {}; }
};

// What importing (or re-scanning) a folder found. Paths are relative to the dataset root.
struct ScanReport {
    int64_t datasetId = 0;
    std::string root;
    bool firstScan = false;
    int64_t classes = 0, images = 0;
    std::vector<std::string> added, removed, changed, restored;   // restored: missing files that came back
    int64_t unchanged = 0;
    int64_t keptMissing = 0;      // of `removed`: kept as 'missing' rows because runs used them
    int64_t stillMissing = 0;     // recorded missing before and still not there
    std::vector<data::ScanIssue> issues;       // from the folder scan (non-images, empty classes, …)
    std::vector<data::ScanIssue> unreadable;   // files that do not decode, with the reason
    nlohmann::json toJson() const;
};

struct DatasetInfo {
    int64_t id = 0;
    std::string root, layout, addedAt, scannedAt;
    int64_t classes = 0, images = 0, missing = 0, unreadable = 0;
    nlohmann::json lastScan;
};

struct RunInfo {
    int64_t id = 0;
    int64_t datasetId = 0;
    std::string method;
    int64_t shots = 0;
    uint64_t seed = 0;
    bool baseToNew = false;
    int64_t epochs = 0;               // planned (the spec's training epochs; 0 for zero-shot)
    std::string device, status, message, folder, model;
    std::string createdAt, startedAt, finishedAt, updatedAt;
    std::string name, notes;          // given by a person; "" when none
    std::string weightsSha256;        // the weights' content when the run started ("" before schema 5)
    std::string program;              // "SEP Studio 0.1.0": the program that ran it
    ProcessIdentity owner;            // the process that runs (or ran) it
    bool interrupted = false;         // queued/running, but its process is gone
    int64_t epochsRecorded = 0;       // metrics rows
    int64_t checkpointEpoch = -1;     // epochs in the recorded checkpoint, -1 when none
    std::map<std::string, double> accuracy;   // final evaluation per test set
    std::optional<double> harmonicMean;       // when both base and new were evaluated
    nlohmann::json spec, plan;

    std::string displayStatus() const;   // status, or "interrupted"
    nlohmann::json toJson() const;
};

struct EpochRow {
    int64_t epoch = 0;
    double lr = 0, loss = 0, trainAccuracy = 0, seconds = 0;
    std::map<std::string, double> parts, testAccuracy;
    std::string recordedAt;
};

// One line of a run's reproducibility record: "seed" → "1".
struct RecordLine {
    std::string label, value;
};

struct StoredEvaluation {
    int64_t id = 0;
    std::string set;
    std::vector<std::string> classes;
    double accuracy = 0;
    int64_t correct = 0, total = 0;
    std::vector<std::optional<double>> perClassAccuracy;   // empty optional: no test images
    std::vector<int64_t> perClassCount;
    std::vector<int64_t> confusion;                        // classes², row-major, row = true class
    std::vector<data::ScanIssue> failures;
    double seconds = 0;
    std::string createdAt;
    int64_t predictions = 0, selections = 0;               // stored rows
};

struct StoredPrediction {
    int64_t position = 0;
    std::optional<int64_t> imageId;
    std::string path;
    int64_t label = -1;
    std::vector<int64_t> top;
    std::vector<float> topProb;
    // The true class's place among all classes (1 = predicted) and its probability, also when it is
    // not among `top`. Empty for predictions recorded before schema version 5.
    std::optional<int64_t> trueRank;
    std::optional<float> trueProb;
};

class ProjectStore {
public:
    // "pets" → "pets.sepproj"; a path that already ends in .sepproj is kept.
    static std::string projectPath(const std::string &name);

    // A new, empty project. Refuses to touch an existing file (whatever it holds).
    static ProjectStore create(const std::string &path, const OpenOptions &options = {});
    // An existing project: checked (read-only) before anything is written, locked unless read-only,
    // upgraded when older. `path` may omit the .sepproj extension.
    static ProjectStore open(const std::string &path, const OpenOptions &options = {});

    ~ProjectStore();
    ProjectStore(ProjectStore &&) noexcept;
    ProjectStore &operator=(ProjectStore &&) noexcept;

    const std::string &path() const;
    std::string folder() const;                   // NAME.sepproj.d
    bool readOnly() const;
    int schemaVersion() const;
    // What opening found or did, for a person: upgrades, a stale lock taken over, interrupted runs,
    // the writer a read-only view runs beside.
    const std::vector<std::string> &notes() const;
    std::optional<ProcessIdentity> inUseBy() const;   // read-only opens: the process writing, if any

    // ---- datasets
    // Scans `root`, hashes and decode-checks new or changed files, and records the result in one
    // transaction. A second import of the same folder re-scans it: added, removed (kept as 'missing'
    // when runs used them) and changed (by content hash) files are reported. A root that is gone
    // changes nothing (sep::Error). Honours hooks.cancel before writing.
    ScanReport importDataset(const std::string &root, const ScanOptions &options = {}, const Hooks &hooks = {});
    std::vector<DatasetInfo> datasets();
    std::optional<int64_t> findDataset(const std::string &root);

    // ---- class names
    // A class is named by its folder (the folder's name, or the dataset's own classnames.txt, read at
    // each scan) unless a name was given to it in the project (the Dataset view, the new-project
    // wizard). Given names live only here, never in the dataset's folder; a rescan leaves them alone.
    // givenClassNames: folder → given name, for the classes that have one. Runs started in the
    // project carry them (runRecorded puts them into RunSpec::classNames).
    std::map<std::string, std::string> givenClassNames(int64_t datasetId);
    // Gives classes of a dataset their names, all in one transaction: folder → name, or std::nullopt
    // to take a given name back (the folder names the class again). sep::Error, with nothing changed,
    // for an unknown dataset or class folder, or a name that is empty or more than one line.
    void setClassNames(int64_t datasetId, const std::map<std::string, std::optional<std::string>> &names);

    // ---- runs (the RunRecorder calls the record* functions)
    int64_t createRun(const train::RunSpec &spec, std::optional<int64_t> datasetId);
    std::string runFolder(int64_t runId);          // absolute
    RunInfo run(int64_t runId);
    std::vector<RunInfo> runs();
    std::vector<RunInfo> interruptedRuns();

    // The run begins (or resumes): status running, this process as its owner, the spec, plan and
    // device, and (new runs) the few-shot sample it trains on. On resume, the recorded epochs are
    // made to match the run folder's checkpoint: later ones are dropped, earlier ones missing from the
    // database (lost with the process between the files and the database) are read from metrics.json.
    void runStarted(int64_t runId, const train::RunSpec &spec, const nlohmann::json &plan, const std::string &device,
                    const std::vector<std::string> &trainImages, bool resuming);
    void recordCheckpoint(int64_t runId, int64_t epoch, const std::string &path);
    void recordEpoch(int64_t runId, const train::EpochRecord &record);
    void recordEvaluation(int64_t runId, const std::string &set, const std::vector<std::string> &classes,
                          const train::EvalResult &result, const std::vector<prompt::ClassSelection> &classSelections);
    void runEnded(int64_t runId, const std::string &status, const std::string &message);
    // What a person calls a run (one line, at most kMaxRunNameBytes; "" takes the name back) and notes
    // about it (at most kMaxRunNotesBytes). Any run, in any state: training never writes these.
    // sep::Error, with nothing changed, for an unknown run or text that breaks those rules.
    static constexpr size_t kMaxRunNameBytes = 200;
    static constexpr size_t kMaxRunNotesBytes = 64 * 1024;
    void setRunName(int64_t runId, const std::string &name);
    void setRunNotes(int64_t runId, const std::string &notes);
    // Deletes the run's rows and its folder. Refuses a run whose process still runs.
    void removeRun(int64_t runId);
    int64_t recordExport(std::optional<int64_t> runId, const std::string &path, const nlohmann::json &options);

    // ---- reading
    std::vector<EpochRow> epochs(int64_t runId);
    std::vector<StoredEvaluation> evaluations(int64_t runId);
    std::vector<StoredPrediction> predictions(int64_t evaluationId);
    prompt::ImageSelection imageSelection(int64_t evaluationId, int64_t position);
    std::vector<prompt::ClassSelection> classSelections(int64_t evaluationId);
    std::vector<int64_t> trainingImages(int64_t runId);   // image ids of the few-shot sample
    // The few-shot sample's image paths (absolute), sorted.
    std::vector<std::string> trainingImagePaths(int64_t runId);
    // SHA-256 of the few-shot sample: each image's path (relative to its dataset) and the hash of its
    // content when the run used it, one sorted line each. Two runs with the same value trained on the
    // same images; "" when the run recorded no sample.
    std::string splitFingerprint(int64_t runId);
    // What decides a run's numbers, in one place and a fixed order: method, protocol, shots, seed,
    // data folder, the few-shot split (size and splitFingerprint), the weights and their SHA-256,
    // the model, the program, every method and training option, the device. Two runs whose records
    // are equal but for the device computed the same thing. Values not recorded read "not recorded".
    std::vector<RecordLine> reproducibilityRecord(int64_t runId);
    nlohmann::json summary();                              // the project at a glance
    nlohmann::json runDetails(int64_t runId);              // a run with options, epochs, evaluations

    // SQLite's integrity and foreign-key checks plus the files the database points at. Empty: fine.
    std::vector<std::string> check();

    Database &database();

private:
    struct Impl;
    explicit ProjectStore(std::unique_ptr<Impl> impl);
    void requireWritable(const std::string &what) const;
    std::unique_ptr<Impl> m;
};

// The folder beside a project file: "a.sepproj" → "a.sepproj.d".
std::string projectFolderFor(const std::string &projectPath);

} // namespace sep::projects
