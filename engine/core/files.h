#pragma once
// Whole-file writes that never leave a half-written file behind: write to a temporary file in the
// same folder, flush to disk, then rename over the target. Errors name the file and the reason
// (disk full, permission denied, …) and remove the temporary.
//
//   sep::writeFileAtomic("runs/a/summary.json", text);

#include <filesystem>
#include <fstream>
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

// Every file opened by name goes through this check first: a FIFO would block the open forever and a
// device would never end, so anything but a regular file (links followed) is refused with a
// sep::Error that names the path, what it is, and what was expected (`what`, e.g. "vocabulary file").
void requireRegularFile(const std::string &path, const std::string &what);

// requireRegularFile, then opens it for binary reading; sep::Error naming the file when that fails.
std::ifstream openRegularFile(const std::string &path, const std::string &what);

// Where an archive entry goes when unpacked into `destination`. Entry names come from outside, so an
// absolute name, a '..' component, a backslash or an empty name is refused (sep::Error naming the
// archive and the entry); the result always lies inside `destination`.
std::filesystem::path entryPathInside(const std::filesystem::path &destination, const std::string &entry,
                                      const std::string &archive);

// Refuses an output folder that is, contains or lies inside `input` (a dataset the command reads):
// what is written there would be scanned as data the next time. Paths are compared after resolving
// links; `option` names the flag or field that chose the output ("--out").
void requireOutputOutside(const std::string &output, const std::string &input, const std::string &option);

} // namespace sep
