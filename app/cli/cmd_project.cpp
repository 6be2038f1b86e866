// sep project new|import|runs|show|resume|rm-run|check: projects (projects/) on the command line.
#include "app/cli/common.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "projects/project_store.h"
#include "projects/run_recorder.h"

#include <iomanip>
#include <optional>
#include <iostream>
#include <set>
#include <sstream>

namespace sep::cli {
namespace {

using projects::ProjectStore;

struct ProjectCommand {
    std::string project, data, device;
    std::optional<std::string> name, notes, notesFile;
    int64_t run = 0;
    bool json = false, rehash = false, noDecodeCheck = false;
};

ProjectStore openForWriting(const std::string &path, const std::string &purpose)
{
    projects::OpenOptions o;
    o.purpose = purpose;
    return ProjectStore::open(path, o);
}

// Reading commands never take the writer's lock, so they work while a run records into the project.
ProjectStore openForReading(const std::string &path)
{
    projects::OpenOptions o;
    o.readOnly = true;
    return ProjectStore::open(path, o);
}

void printNotes(const ProjectStore &store, bool json)
{
    if (json)
        return;   // in the JSON document instead
    for (const auto &note : store.notes())
        std::cerr << "note: " << note << "\n";
}

std::string fixed(double v, int digits)
{
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

// A table cell of at least `width` characters. A value wider than its column (a 20-digit seed, a
// long method name) keeps a space on its open side, so that neighbouring cells never run together.
std::string pad(const std::string &s, size_t width, bool right = false)
{
    if (s.size() >= width)
        return right ? " " + s : s + " ";
    return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

void printScanReport(const projects::ScanReport &r)
{
    std::cout << r.root << ": " << r.images << " images in " << r.classes << " classes";
    if (r.firstScan) {
        std::cout << " (imported)\n";
    } else {
        std::cout << "; added " << r.added.size() << ", removed " << r.removed.size() << ", changed " << r.changed.size();
        if (!r.restored.empty())
            std::cout << ", back again " << r.restored.size();
        std::cout << ", unchanged " << r.unchanged << "\n";
    }
    auto list = [](const char *what, const std::vector<std::string> &paths) {
        const size_t shown = std::min<size_t>(paths.size(), 10);
        for (size_t i = 0; i < shown; ++i)
            std::cout << "  " << what << " " << paths[i] << "\n";
        if (paths.size() > shown)
            std::cout << "  … and " << paths.size() - shown << " more " << what << "\n";
    };
    if (!r.firstScan) {
        list("added", r.added);
        list("removed", r.removed);
        list("changed", r.changed);
        list("back", r.restored);
    }
    if (r.keptMissing > 0)
        std::cout << "  " << r.keptMissing
                  << " removed file(s) stay recorded as missing, because runs used them (their results are kept)\n";
    if (r.stillMissing > 0)
        std::cout << "  " << r.stillMissing << " file(s) recorded as missing earlier are still missing\n";
    for (const auto &u : r.unreadable)
        std::cerr << "warning: " << u.path << ": " << u.reason << "\n";
    for (const auto &i : r.issues)
        std::cerr << "warning: " << i.path << ": " << i.reason << "\n";
}

projects::ScanOptions scanOptions(const ProjectCommand &c)
{
    projects::ScanOptions o;
    o.rehash = c.rehash;
    o.decodeCheck = !c.noDecodeCheck;
    return o;
}

void runNew(const ProjectCommand &c)
{
    projects::OpenOptions o;
    o.purpose = "sep project new";
    // Checked before the project file is made, so that nothing is written into the data.
    if (!c.data.empty())
        requireOutputOutside(projects::projectFolderFor(c.project), c.data, "the project folder");
    auto store = ProjectStore::create(c.project, o);
    nlohmann::json j = {{"project", store.path()}, {"folder", store.folder()}, {"schema_version", store.schemaVersion()}};
    if (!c.json)
        std::cout << "created " << store.path() << " (run folders and exports go to " << store.folder() << ")\n";
    if (!c.data.empty()) {
        const auto report = store.importDataset(c.data, scanOptions(c), terminalHooks(c.json));
        j["import"] = report.toJson();
        if (!c.json)
            printScanReport(report);
    }
    if (c.json)
        printJson(j);
}

void runImport(const ProjectCommand &c)
{
    auto store = openForWriting(c.project, "sep project import");
    printNotes(store, c.json);
    const auto report = store.importDataset(c.data, scanOptions(c), terminalHooks(c.json));
    if (c.json) {
        auto j = report.toJson();
        j["notes"] = store.notes();
        printJson(j);
    } else {
        printScanReport(report);
    }
}

std::string resultColumn(const projects::RunInfo &r)
{
    if (r.accuracy.count("base") && r.accuracy.count("new"))
        return "base " + fixed(100 * r.accuracy.at("base"), 1) + "  new " + fixed(100 * r.accuracy.at("new"), 1) + "  HM "
               + fixed(100 * r.harmonicMean.value_or(0), 1);
    std::string s;
    for (const auto &[set, acc] : r.accuracy)
        s += (s.empty() ? "" : "  ") + set + " " + fixed(100 * acc, 1);
    return s.empty() ? "-" : s;
}

void runRuns(const ProjectCommand &c)
{
    auto store = openForReading(c.project);
    printNotes(store, c.json);
    const auto runs = store.runs();
    if (c.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto &r : runs) {
            auto j = r.toJson();
            j.erase("spec");
            j.erase("plan");
            list.push_back(j);
        }
        printJson({{"project", store.path()}, {"runs", list}, {"notes", store.notes()}});
        return;
    }
    if (runs.empty()) {
        std::cout << "no runs yet; start one with 'sep train --project " << store.path() << " …'\n";
        return;
    }
    std::cout << pad("id", 5, true) << "  " << pad("method", 9) << pad("shots", 6, true) << pad("seed", 6, true) << "  "
              << pad("status", 12) << pad("epochs", 8) << pad("started", 22) << "accuracy %\n";
    for (const auto &r : runs) {
        const std::string epochs =
            r.epochs > 0 ? std::to_string(r.epochsRecorded) + "/" + std::to_string(r.epochs) : std::string("-");
        std::cout << pad(std::to_string(r.id), 5, true) << "  " << pad(r.method, 9) << pad(std::to_string(r.shots), 6, true)
                  << pad(std::to_string(r.seed), 6, true) << "  " << pad(r.displayStatus(), 12) << pad(epochs, 8)
                  << pad(r.startedAt.empty() ? r.createdAt : r.startedAt, 22) << resultColumn(r)
                  << (r.name.empty() ? std::string() : "  '" + r.name + "'") << "\n";
    }
}

void printSummary(ProjectStore &store)
{
    const auto j = store.summary();
    std::cout << "project  " << store.path() << " (schema version " << store.schemaVersion() << ", created "
              << j.value("created_at", "") << ", " << j.value("file_bytes", int64_t(0)) / 1024 << " KiB)\n"
              << "folder   " << store.folder() << "\n";
    if (j.contains("in_use_by"))
        std::cout << "in use   by " << j["in_use_by"].get<std::string>() << "\n";
    std::cout << "datasets\n";
    for (const auto &d : j["datasets"])
        std::cout << "  " << d["id"].get<int64_t>() << "  " << d["root"].get<std::string>() << ": "
                  << d["classes"].get<int64_t>() << " classes, " << d["images"].get<int64_t>() << " images ("
                  << d["missing"].get<int64_t>() << " missing, " << d["unreadable"].get<int64_t>() << " unreadable), "
                  << d["layout"].get<std::string>() << " layout, scanned " << d.value("scanned_at", "") << "\n";
    if (j["datasets"].empty())
        std::cout << "  none yet ('sep project import " << store.path() << " --data FOLDER')\n";
    std::cout << "runs     " << j["runs"]["total"].get<int64_t>();
    std::string parts;
    for (auto it = j["runs"]["by_status"].begin(); it != j["runs"]["by_status"].end(); ++it)
        parts += (parts.empty() ? "" : ", ") + std::to_string(it.value().get<int64_t>()) + " " + it.key();
    std::cout << (parts.empty() ? "" : " (" + parts + ")") << "\n"
              << "exports  " << j["exports"].get<int64_t>() << "\n";
}

void printRun(ProjectStore &store, int64_t id)
{
    const auto d = store.runDetails(id);
    const auto r = store.run(id);
    std::cout << "run " << r.id << ": " << r.method << ", " << r.shots << " shots, seed " << r.seed
              << (r.baseToNew ? ", base-to-new" : "") << " — " << r.displayStatus() << "\n";
    if (!r.name.empty())
        std::cout << "  name        " << r.name << "\n";
    if (!r.message.empty())
        std::cout << "  message     " << r.message << "\n";
    std::cout << "  folder      " << r.folder << "\n"
              << "  created     " << r.createdAt << (r.startedAt.empty() ? "" : ", started " + r.startedAt)
              << (r.finishedAt.empty() ? "" : ", finished " + r.finishedAt) << "\n"
              << "  process     " << r.owner.describe() << "\n";
    for (const auto &ck : d["checkpoints"])
        std::cout << "  checkpoint  epoch " << ck["epoch"].get<int64_t>() << ": " << ck["path"].get<std::string>() << "\n";
    if (!r.notes.empty()) {
        std::cout << "  notes\n";
        std::istringstream lines(r.notes);
        for (std::string line; std::getline(lines, line);)
            std::cout << "    " << line << "\n";
    }
    if (r.interrupted)
        std::cout << "  interrupted: resume with 'sep project resume " << store.path() << " " << r.id << "'\n";
    std::cout << "reproducibility record (records equal but for the device: the same computation)\n";
    for (const auto &line : store.reproducibilityRecord(id))
        std::cout << "  " << pad(line.label, 18) << line.value << "\n";

    const auto epochs = store.epochs(id);
    if (!epochs.empty()) {
        std::set<std::string> sets;
        for (const auto &e : epochs)
            for (const auto &[k, v] : e.testAccuracy)
                sets.insert(k);
        std::cout << "epochs\n  " << pad("epoch", 6, true) << pad("lr", 11, true) << pad("loss", 9, true)
                  << pad("train %", 9, true);
        for (const auto &s : sets)
            std::cout << pad(s + " %", 9, true);
        std::cout << pad("seconds", 9, true) << "\n";
        for (const auto &e : epochs) {
            std::ostringstream lr;
            lr << std::setprecision(3) << e.lr;
            std::cout << "  " << pad(std::to_string(e.epoch), 6, true) << pad(lr.str(), 11, true)
                      << pad(fixed(e.loss, 4), 9, true) << pad(fixed(100 * e.trainAccuracy, 1), 9, true);
            for (const auto &s : sets)
                std::cout << pad(e.testAccuracy.count(s) ? fixed(100 * e.testAccuracy.at(s), 1) : "", 9, true);
            std::cout << pad(fixed(e.seconds, 1), 9, true) << "\n";
        }
    }
    for (const auto &e : store.evaluations(id)) {
        std::cout << "evaluation '" << e.set << "': " << percent(e.accuracy) << " (" << e.correct << "/" << e.total
                  << "), " << e.predictions << " predictions, " << e.selections << " selections stored\n";
        size_t width = 5;
        for (const auto &name : e.classes)
            width = std::max(width, name.size());
        for (size_t c = 0; c < e.classes.size(); ++c)
            std::cout << "  " << pad(e.classes[c], width + 2)
                      << (c < e.perClassAccuracy.size() && e.perClassAccuracy[c] ? pad(percent(*e.perClassAccuracy[c]), 7, true)
                                                                                 : pad("-", 7, true))
                      << "  of " << (c < e.perClassCount.size() ? e.perClassCount[c] : 0) << "\n";
        const size_t n = e.classes.size();
        if (n > 0 && n <= 12 && e.confusion.size() == n * n) {
            std::cout << "  confusion (rows: true class, columns: predicted)\n";
            for (size_t row = 0; row < n; ++row) {
                std::cout << "    ";
                for (size_t col = 0; col < n; ++col)
                    std::cout << pad(std::to_string(e.confusion[row * n + col]), 5, true);
                std::cout << "\n";
            }
        }
        for (const auto &f : e.failures)
            std::cout << "  unreadable: " << f.path << ": " << f.reason << "\n";
    }
}

void runShow(const ProjectCommand &c)
{
    auto store = openForReading(c.project);
    printNotes(store, c.json);
    if (c.json) {
        auto j = c.run > 0 ? store.runDetails(c.run) : store.summary();
        j["notes"] = store.notes();
        printJson(j);
        return;
    }
    if (c.run > 0)
        printRun(store, c.run);
    else
        printSummary(store);
}

void runResume(const ProjectCommand &c)
{
    auto store = openForWriting(c.project, "sep project resume");
    printNotes(store, c.json);
    const Hooks hooks = terminalHooks(c.json);
    const auto summary = projects::resumeRecorded(store, c.run, c.device, hooks);
    if (c.json) {
        auto j = summary.toJson();
        j["id"] = c.run;
        j["run"] = store.runFolder(c.run);
        printJson(j);
        return;
    }
    std::cout << "run " << c.run << " finished:";
    for (const auto &[set, acc] : summary.accuracy)
        std::cout << "  " << set << " " << percent(acc);
    if (summary.accuracy.count("base") && summary.accuracy.count("new"))
        std::cout << "  HM " << percent(summary.harmonicMean);
    std::cout << "\n";
}

void runRemove(const ProjectCommand &c)
{
    auto store = openForWriting(c.project, "sep project rm-run");
    printNotes(store, c.json);
    const std::string folder = store.runFolder(c.run);
    store.removeRun(c.run);
    if (c.json)
        printJson({{"removed", c.run}, {"folder", folder}, {"notes", store.notes()}});
    else
        std::cout << "removed run " << c.run << " and its folder " << folder << "\n";
}

void runEditRun(const ProjectCommand &c)
{
    if (!c.name && !c.notes && !c.notesFile)
        throw Error("sep project edit-run: nothing to change; give --name, --notes or --notes-file");
    auto store = openForWriting(c.project, "sep project edit-run");
    printNotes(store, c.json);
    store.run(c.run);   // an unknown run is named before anything is read
    if (c.name)
        store.setRunName(c.run, *c.name);
    if (c.notes || c.notesFile)
        store.setRunNotes(c.run, c.notes ? *c.notes : readFile(*c.notesFile));
    const auto r = store.run(c.run);
    if (c.json)
        printJson({{"id", r.id}, {"name", r.name}, {"notes", r.notes}});
    else
        std::cout << "run " << r.id << (r.name.empty() ? std::string(" has no name") : " is named '" + r.name + "'")
                  << (r.notes.empty() ? ", no notes" : ", notes of " + std::to_string(r.notes.size()) + " bytes") << "\n";
}

void runCheck(const ProjectCommand &c)
{
    auto store = openForReading(c.project);
    printNotes(store, c.json);
    const auto problems = store.check();
    if (c.json)
        printJson({{"project", store.path()}, {"ok", problems.empty()}, {"problems", problems}});
    else if (problems.empty())
        std::cout << store.path() << ": ok\n";
    else
        for (const auto &p : problems)
            std::cout << p << "\n";
    if (!problems.empty())
        throw Error(store.path() + ": " + std::to_string(problems.size()) + " problem(s) found");
}

} // namespace

void addProjectCommands(CLI::App &app)
{
    auto *project = app.add_subcommand("project", "Projects: datasets, runs, curves and results in one file (NAME.sepproj)");
    project->require_subcommand(1);
    auto c = std::make_shared<ProjectCommand>();
    auto target = [&](CLI::App *cmd) { cmd->add_option("project", c->project, "Project file (NAME.sepproj)")->required(); };
    auto json = [&](CLI::App *cmd) { cmd->add_flag("--json", c->json, "Machine-readable output"); };
    auto scanFlags = [&](CLI::App *cmd) {
        cmd->add_flag("--rehash", c->rehash, "Hash every file again, not only those whose size or time changed");
        cmd->add_flag("--no-decode-check", c->noDecodeCheck, "Do not decode new images to find unreadable ones");
    };

    auto *create = project->add_subcommand("new", "Create a project (and optionally import an image folder into it)");
    target(create);
    create->add_option("--data", c->data, "Image folder to import: one sub-folder per class");
    scanFlags(create);
    json(create);
    create->callback([c] { runNew(*c); });

    auto *import = project->add_subcommand(
        "import", "Import an image folder, or scan it again: reports added, removed and changed files (by content hash)");
    target(import);
    import->add_option("--data", c->data, "Image folder: one sub-folder per class")->required();
    scanFlags(import);
    json(import);
    import->callback([c] { runImport(*c); });

    auto *runs = project->add_subcommand("runs", "List the project's runs (read-only; works while a run records)");
    target(runs);
    json(runs);
    runs->callback([c] { runRuns(*c); });

    auto *show = project->add_subcommand("show", "Show the project, or one run: options, metrics per epoch, evaluation");
    target(show);
    show->add_option("run", c->run, "Run id (see 'sep project runs')")->check(wholeNumberAtLeast(1));
    json(show);
    show->callback([c] { runShow(*c); });

    auto *resume = project->add_subcommand("resume", "Continue an interrupted, cancelled or failed run after its last checkpoint");
    target(resume);
    resume->add_option("run", c->run, "Run id")->required()->check(wholeNumberAtLeast(1));
    resume->add_option("--device", c->device, "auto, cpu, cuda or cuda:N (default: the run's own)");
    json(resume);
    resume->callback([c] { runResume(*c); });

    auto *remove = project->add_subcommand("rm-run", "Delete a run's records and its folder (not while it runs)");
    target(remove);
    remove->add_option("run", c->run, "Run id")->required()->check(wholeNumberAtLeast(1));
    json(remove);
    remove->callback([c] { runRemove(*c); });

    auto *edit = project->add_subcommand("edit-run", "Give a run a name and notes (shown in 'sep project runs' and SEP Studio)");
    target(edit);
    edit->add_option("run", c->run, "Run id")->required()->check(wholeNumberAtLeast(1));
    edit->add_option("--name", c->name, "One line; an empty name takes the name back");
    auto *notes = edit->add_option("--notes", c->notes, "Notes about the run (replace the old ones; empty clears them)");
    edit->add_option("--notes-file", c->notesFile, "Read the notes from this text file")->excludes(notes);
    json(edit);
    edit->callback([c] { runEditRun(*c); });

    auto *check = project->add_subcommand(
        "check", "Check the project: SQLite integrity, references, the files it records, interrupted runs");
    target(check);
    json(check);
    check->callback([c] { runCheck(*c); });
}

} // namespace sep::cli
