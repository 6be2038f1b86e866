#pragma once
// The prompt-tuning methods, one entry each. What the command line, the desktop application, run
// folders and bundles know of a method (its name, title, description, whether it trains, its
// options, its recipe presets, how to make it) comes from here; nothing outside keeps a list.
//
//   for (const auto &m : sep::prompt::methodRegistry()) std::cout << m.name << ": " << m.title << '\n';
//   auto coop = sep::prompt::methodEntry("coop").make(clip, {{"n_ctx", 4}});   // validated options
//
// Adding a method: its own pair of files (an options struct with table(), a Method subclass) and one
// entry in registry.cpp (see CONTRIBUTING.md). Torch-free header; the table is built once and never
// changes, so reading it is thread-safe.

#include "engine/core/options.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sep::clip {
struct LoadedClip;
}

namespace sep::prompt {

class Method;

// A recipe a person can start from: the run-spec keys it sets ({"shots": 16, "train": {…}}).
struct MethodPreset {
    std::string title;
    std::string description;
    nlohmann::json patch;
};

struct MethodEntry {
    std::string name;          // "sep": the CLI's --method, run.json, a bundle's manifest
    std::string title;         // "SEP": what a person reads in lists and tables
    std::string description;   // one or two sentences: what it learns and when to pick it
    bool trains = true;        // false: evaluation only (zero-shot)
    std::vector<OptionSpec> options;                                   // its options table, described
    std::function<void(const nlohmann::json &)> checkOptions;           // sep::Error naming the option
    std::function<std::unique_ptr<Method>(clip::LoadedClip &, const nlohmann::json &)> make;
    std::vector<MethodPreset> presets;
};

// Every method, in the order lists show them.
const std::vector<MethodEntry> &methodRegistry();

// The entry of `name`, or nullptr (a name read from an old or damaged file may be unknown).
const MethodEntry *findMethod(const std::string &name);

// The entry of `name`; sep::Error listing the known names when there is none.
const MethodEntry &methodEntry(const std::string &name);

} // namespace sep::prompt
