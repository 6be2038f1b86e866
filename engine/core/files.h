#pragma once
// Whole-file writes that never leave a half-written file behind: write to a temporary file in the
// same folder, flush to disk, then rename over the target. Errors name the file and the reason
// (disk full, permission denied, …) and remove the temporary.
//
//   sep::writeFileAtomic("runs/a/summary.json", text);

#include <string>

namespace sep {

void writeFileAtomic(const std::string &path, const std::string &contents);

// Creates a folder and its parents; sep::Error naming it when that fails.
void makeDirectories(const std::string &path);

// Reads a whole file; sep::Error naming it when that fails.
std::string readFile(const std::string &path);

// A temporary name beside `path` unique to this process and call.
std::string temporaryPathFor(const std::string &path);

// Flushes and renames `tmp` over `path`, or removes `tmp` and throws.
void commitTemporary(const std::string &tmp, const std::string &path);

} // namespace sep
