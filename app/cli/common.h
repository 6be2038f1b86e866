#pragma once
// What the `sep` subcommands share: the options for loading a model, output in text or JSON, and
// the hooks that print progress and warnings to the terminal.

#include "engine/clip/weights.h"
#include "engine/core/hooks.h"

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

// Prints JSON to stdout (pretty, one document).
void printJson(const nlohmann::json &j);

// "12.3%" style
std::string percent(double fraction);

void addEncodeCommand(CLI::App &app);
void addZeroShotCommand(CLI::App &app);
void addBenchCommand(CLI::App &app);
void addInfoCommand(CLI::App &app);

} // namespace sep::cli
