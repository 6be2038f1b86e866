#pragma once
// What the `sep` subcommands share: the options for loading a model, output in text or JSON, and
// the hooks that print progress and warnings to the terminal.

#include "engine/clip/weights.h"
#include "engine/core/hooks.h"
#include "engine/core/options.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>

namespace sep::cli {

struct ModelOptions {
    std::string weights;
    std::string vocab;
    std::string config;
    std::string device = "auto";

    // Adds --weights (required when `required`), --vocab, --config, --device.
    void addTo(CLI::App &cmd, bool required = true);
    clip::LoadedClip load(bool quiet) const;
};

// Hooks that write warnings to stderr and, unless quiet, a one-line progress bar.
Hooks terminalHooks(bool quiet);

// Flags generated from options tables: every OptionSpec becomes --key-with-dashes, so the CLI holds no
// second list of names, defaults or ranges. `values` receives the text given for each key.
std::string flagName(const std::string &key);
void addOptionFlags(CLI::App &cmd, const std::vector<OptionSpec> &specs, std::map<std::string, std::string> &values,
                    const std::string &group, const std::string &owner = {});
// The given text as the JSON value the spec's type wants (sep::Error naming the flag when it is not).
nlohmann::json parseOptionValue(const OptionSpec &spec, const std::string &text);

// For flags not generated from an options table: the text must be a whole number ≥ min, checked
// before CLI11 converts it (an unsigned seed would otherwise take "-5" as 2^64-5), with a message
// a person reads: "--shots: must be a whole number ≥ 1, got '0'".
CLI::Validator wholeNumberAtLeast(long long min);

// Prints JSON to stdout (pretty, one document).
void printJson(const nlohmann::json &j);

// "12.3%" style
std::string percent(double fraction);

void addEncodeCommand(CLI::App &app);
void addZeroShotCommand(CLI::App &app);
void addBenchCommand(CLI::App &app);
void addInfoCommand(CLI::App &app);
void addTrainCommands(CLI::App &app);
void addPretrainCommand(CLI::App &app);
void addExportCommands(CLI::App &app);
void addProjectCommands(CLI::App &app);
void addDemoCommand(CLI::App &app);

} // namespace sep::cli
