#include "engine/demo/demo.h"

#include "engine/core/data_paths.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/text.h"
#include "engine/train/metrics.h"
#include "engine/train/run.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

namespace sep::demo {
namespace fs = std::filesystem;
namespace {

struct DemoClass {
    std::string name, category;
    std::map<std::string, std::string> imageOfStyle;   // style → absolute path
};

// Links (or, where links are not possible, copies) `from` at `to`.
void place(const std::string &from, const fs::path &to)
{
    std::error_code ec;
    if (fs::exists(to, ec))
        return;
    makeDirectories(to.parent_path().string());
    fs::create_symlink(fs::absolute(from), to, ec);
    if (ec) {
        fs::copy_file(from, to, ec);
        if (ec)
            throw Error(to.string() + ": cannot be created (" + ec.message() + ")");
    }
}

std::string meanStd(const std::vector<double> &v)
{
    const auto ms = train::meanStd(v);
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << 100 * ms.mean;
    if (v.size() > 1)
        s << " ± " << 100 * ms.std;
    return s.str();
}

} // namespace

const OptionTable<DemoOptions> &DemoOptions::table()
{
    using D = DemoOptions;
    static const OptionTable<D> t{{
        textField(&D::data, "data", "Demo data", "Folder built by packaging/build-demo-data.sh"),
        textField(&D::model, "model", "Built-in model", "Folder of the built-in model (default: found automatically)"),
        textField(&D::out, "out", "Output folder", "Where the runs, the data views and the table are written"),
        textField(&D::methods, "methods", "Methods", "Comma-separated method names (sep train --help lists them)"),
        textField(&D::seeds, "seeds", "Seeds", "Comma-separated seeds; several give mean ± std"),
        intField(&D::classes, "classes", "Classes", "Emoji classes used (spread over the categories)", 2, 100000),
        intField(&D::shots, "shots", "Shots", "Training images per class, drawn from the held-out styles", 1, 64),
        intField(&D::epochs, "epochs", "Epochs", "Training epochs of CoOp and SEP", 1, 10000),
        intField(&D::batch, "batch", "Batch size", "Training images per step", 1, 4096),
        realField(&D::lr, "lr", "Learning rate", "Peak learning rate", 0, 10),
        boolField(&D::crossStyle, "cross_style", "Cross-style test", "Also tune on all but one held-out style and test on it"),
        textField(&D::device, "device", "Device", "auto, cpu, cuda or cuda:N"),
    }};
    return t;
}

nlohmann::json DemoResult::toJson() const
{
    nlohmann::json rowsJson = nlohmann::json::array();
    for (const auto &r : rows) {
        nlohmann::json values;
        for (const auto &[k, v] : r.values) {
            const auto ms = train::meanStd(v);
            values[k] = {{"per_seed", v}, {"mean", ms.mean}, {"std", ms.std}};
        }
        rowsJson.push_back({{"protocol", r.protocol}, {"method", r.method}, {"accuracy", values}});
    }
    return {{"rows", rowsJson}, {"seconds", seconds}};
}

std::string DemoResult::table() const
{
    std::ostringstream s;
    std::string protocol;
    for (const auto &r : rows) {
        if (r.protocol != protocol) {
            protocol = r.protocol;
            s << "\n" << protocol << "\n";
            if (r.values.count("base"))
                s << "  method        base           new            HM\n";
            else
                s << "  method        accuracy\n";
        }
        s << "  " << std::left << std::setw(12) << r.method;
        for (const char *key : {"base", "new", "hm", "all"})
            if (r.values.count(key))
                s << "  " << std::setw(13) << meanStd(r.values.at(key));
        s << "\n";
    }
    return s.str();
}

bool readFinishedSummary(const std::string &runDir, train::RunSummary &out)
{
    std::error_code ec;
    if (!fs::exists(runDir + "/summary.json", ec))
        return false;
    const auto j = nlohmann::json::parse(readFile(runDir + "/summary.json"));
    out.accuracy = j.at("accuracy").get<std::map<std::string, double>>();
    out.harmonicMean = j.value("harmonic_mean", 0.0);
    return true;
}

namespace {

// The default RunTrainer: run folders under OUT/runs/, finished ones reused.
train::RunSummary trainInFolder(const fs::path &out, const train::RunSpec &spec, const std::string &name, const Hooks &hooks)
{
    const std::string runDir = (out / "runs" / name).string();
    std::error_code ec;
    const bool exists = fs::exists(runDir + "/run.json", ec);
    train::RunSummary summary;
    if (exists && readFinishedSummary(runDir, summary)) {
        hooks.info(name + ": already done, reusing " + runDir);
        return summary;
    }
    return train::trainRun(spec, runDir, exists, hooks);
}

} // namespace

DemoResult runDemo(const DemoOptions &o, const Hooks &hooks, const RunTrainer &trainer)
{
    const auto started = std::chrono::steady_clock::now();
    const std::string modelDir = o.model.empty() ? builtinModelPath() : o.model;
    if (modelDir.empty())
        throw Error("no built-in model found: expected resources/models/builtin in the source tree, or set "
                    "SEP_BUILTIN_MODEL (sep pretrain makes one)");
    const std::string weights = fs::absolute(modelDir + "/model.safetensors").string();
    const auto provenance = nlohmann::json::parse(readFile(modelDir + "/provenance.json"));
    const auto heldOut = splitCommaList(provenance.at("options").at("hold_out_styles").get<std::string>());
    if (heldOut.size() < 2)
        throw Error(modelDir + "/provenance.json: the model holds out fewer than two styles; the demo needs them for shots "
                               "and tests");

    // The held-out emoji, by class.
    const fs::path emojiRoot = fs::path(o.data) / "emoji";
    std::ifstream manifest(emojiRoot / "manifest.jsonl");
    if (!manifest)
        throw Error(o.data + ": no emoji/manifest.jsonl; build the demo data with packaging/build-demo-data.sh");
    std::map<std::string, DemoClass> byName;
    const std::set<std::string> styles(heldOut.begin(), heldOut.end());
    std::string line;
    while (std::getline(manifest, line)) {
        if (line.empty())
            continue;
        const auto j = nlohmann::json::parse(line);
        const std::string style = j.at("style").get<std::string>();
        if (!styles.count(style))
            continue;
        auto &c = byName[j.at("class").get<std::string>()];
        c.name = j.at("class").get<std::string>();
        c.category = j.value("category", "");
        c.imageOfStyle[style] = (emojiRoot / j.at("path").get<std::string>()).string();
    }
    std::vector<DemoClass> complete;
    for (auto &[name, c] : byName)
        if (c.imageOfStyle.size() == styles.size())
            complete.push_back(c);
    if (static_cast<int64_t>(complete.size()) < o.classes)
        throw Error(o.data + ": only " + std::to_string(complete.size()) + " classes have all held-out styles ("
                    + provenance["options"]["hold_out_styles"].get<std::string>() + "); ask for fewer classes");
    // Spread over the categories: sorted by (category, name), evenly spaced.
    std::sort(complete.begin(), complete.end(),
              [](const DemoClass &a, const DemoClass &b) { return std::tie(a.category, a.name) < std::tie(b.category, b.name); });
    std::vector<DemoClass> chosen;
    for (int64_t i = 0; i < o.classes; ++i)
        chosen.push_back(complete[static_cast<size_t>(i * static_cast<int64_t>(complete.size()) / o.classes)]);

    // Data views: links into the demo data.
    const fs::path out = fs::absolute(o.out);
    const fs::path b2n = out / "data" / "base-to-new";
    for (const auto &c : chosen)
        for (const auto &[style, path] : c.imageOfStyle)
            place(path, b2n / c.name / (style + ".png"));
    const std::string testStyle = heldOut.back();
    const fs::path cross = out / "data" / ("cross-style-" + testStyle);
    if (o.crossStyle)
        for (const auto &c : chosen)
            for (const auto &[style, path] : c.imageOfStyle)
                place(path, cross / (style == testStyle ? "test" : "train") / c.name / (style + ".png"));
    std::string held;
    for (const auto &s : heldOut)
        held += (held.empty() ? "" : ", ") + s;
    hooks.info("demo: " + std::to_string(chosen.size()) + " classes, " + std::to_string(o.shots) + " shots from the held-out styles ("
               + held + "), " + std::to_string(o.epochs) + " epochs, seeds " + o.seeds + "; model " + modelDir);

    DemoResult result;
    struct Protocol {
        std::string name, data;
        bool baseToNew;
    };
    std::vector<Protocol> protocols = {{"base-to-new", b2n.string(), true}};
    if (o.crossStyle)
        protocols.push_back({"cross-style (test: " + testStyle + ")", cross.string(), false});
    const auto methods = splitCommaList(o.methods), seeds = splitCommaList(o.seeds);
    for (const auto &protocol : protocols) {
        for (const auto &method : methods) {
            DemoRow row;
            row.protocol = protocol.name;
            row.method = method;
            for (const auto &seedText : seeds) {
                train::RunSpec spec;
                spec.data = protocol.data;
                spec.weights = weights;
                spec.device = o.device;
                spec.method = method;
                spec.shots = protocol.baseToNew ? o.shots : std::min<int64_t>(o.shots, static_cast<int64_t>(styles.size()) - 1);
                spec.seed = std::stoull(seedText);
                spec.baseToNew = protocol.baseToNew;
                spec.clsAttention = true;   // for the inspector's heat maps; cheap on the small model
                spec.train.epochs = o.epochs;
                spec.train.batchSize = o.batch;
                spec.train.lr = o.lr;
                spec.train.evalEvery = std::max<int64_t>(1, o.epochs / 5);
                spec.evalBatch = 128;
                const std::string name =
                    std::string(protocol.baseToNew ? "base-to-new" : "cross-style") + "/" + method + "-seed" + seedText;
                hooks.info(method + " seed " + seedText + " (" + protocol.name + ")");
                const auto summary = trainer ? trainer(spec, name, hooks) : trainInFolder(out, spec, name, hooks);
                for (const auto &[set, acc] : summary.accuracy)
                    row.values[set].push_back(acc);
                if (protocol.baseToNew)
                    row.values["hm"].push_back(summary.harmonicMean);
            }
            result.rows.push_back(row);
        }
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    writeFileAtomic((out / "summary.json").string(), result.toJson().dump(2) + "\n");
    writeFileAtomic((out / "table.txt").string(), result.table());
    return result;
}

} // namespace sep::demo
