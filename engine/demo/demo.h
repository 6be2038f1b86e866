#pragma once
// The demo: the whole SEP story on the built-in model and the demo data, in minutes on a laptop.
//
// Base-to-new few-shot tuning with zero-shot CLIP, CoOp and SEP on emoji of the styles the built-in
// model never saw in pretraining (per class, the shot styles are drawn by seed and the other held-out
// styles are its test images), plus a cross-style test (tune on some held-out styles, test on
// another). Every run is an ordinary run folder (sep eval, sep export read it).
//
//   sep::demo::DemoOptions o;  o.data = "demo-data";  o.out = "demo-run";
//   auto table = sep::demo::runDemo(o, hooks);   // rows: method × protocol, mean ± std over seeds

#include "engine/core/hooks.h"
#include "engine/core/options.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sep::train {
struct RunSpec;
struct RunSummary;
} // namespace sep::train

namespace sep::demo {

struct DemoOptions {
    std::string data = "demo-data";    // built by packaging/build-demo-data.sh
    std::string model;                 // the built-in model folder; "" → found (see builtinModelPath)
    std::string out = "demo-run";
    std::string methods = "zeroshot,coop,kgcoop,prograd,sep";
    std::string seeds = "1";           // comma-separated
    int64_t classes = 100;             // classes taken from the demo data (spread over its categories)
    int64_t shots = 2;                 // of the held-out styles per class; the rest are test images
    int64_t epochs = 10;
    int64_t batch = 32;
    double lr = 0.0025;
    bool crossStyle = true;            // also tune on all but one held-out style and test on that one
    std::string device = "auto";

    static DemoOptions defaults() { return {}; }
    static const OptionTable<DemoOptions> &table();
};

struct DemoRow {
    std::string protocol;              // "base-to-new" or "cross-style (test: <style>)"
    std::string method;
    std::map<std::string, std::vector<double>> values;   // "base", "new", "hm", "all": one per seed
};

struct DemoResult {
    std::vector<DemoRow> rows;
    double seconds = 0;
    nlohmann::json toJson() const;
    std::string table() const;         // a plain-text table with mean ± std
};

// How the demo trains one of its runs; `name` is like "base-to-new/sep-seed1". Without one, each run
// goes to OUT/runs/<name>/ and a finished run found there is reused. The command line passes one
// that records the runs in a project (OUT/demo.sepproj) that SEP Studio opens.
using RunTrainer = std::function<train::RunSummary(const train::RunSpec &spec, const std::string &name, const Hooks &hooks)>;

// A finished run folder's results (its summary.json) into `out`; false when the run has not finished.
bool readFinishedSummary(const std::string &runDir, train::RunSummary &out);

DemoResult runDemo(const DemoOptions &options, const Hooks &hooks, const RunTrainer &trainer = {});

} // namespace sep::demo
