#pragma once
// Hooks that also append every log line, time-stamped, to a file (a run's log.txt), then pass it on.
//
//   sep::Hooks hooks = sep::withLogFile(terminalHooks, "runs/a/log.txt");

#include "engine/core/hooks.h"

#include <string>

namespace sep {

Hooks withLogFile(const Hooks &hooks, const std::string &path);

// "2026-11-28T17:40:02", local time.
std::string timestamp();

} // namespace sep
