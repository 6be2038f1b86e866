#pragma once
// Image-folder datasets: one sub-folder per class, optionally under train/, val/ and test/.
// Scanning lists files only (no decoding); every file or folder that is not used is reported with a
// reason, never skipped silently.
//
//   sep::data::ImageFolder f = sep::data::ImageFolder::scan("pets/");
//   for (const auto &issue : f.issues) std::cerr << issue.path << ": " << issue.reason << '\n';
//   f.classNames[f.split("all")[0].label];
//
// Class names come from folder names with '_' shown as ' ', unless `classnames.txt` in the root
// names them: one line per class, "<folder> <display name>". Images are sorted by path (byte order),
// so the same folder contents give the same order on every machine. Thread-safe (plain data).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sep::data {

struct ImageRecord {
    std::string path;      // absolute or as given + relative part; usable to open the file
    int64_t label = -1;    // index into classNames
};

struct ScanIssue {
    std::string path;
    std::string reason;
};

struct ImageFolder {
    std::string root;
    std::vector<std::string> classFolders;    // sorted folder names; label i ↔ classFolders[i]
    std::vector<std::string> classNames;      // display names, same order
    std::map<std::string, std::vector<ImageRecord>> splits;   // "train"/"val"/"test" when present, else "all"
    std::vector<ScanIssue> issues;

    static ImageFolder scan(const std::string &root);

    bool hasSplits() const { return !splits.count("all"); }
    // The images of one split; "all" on a split layout gives every split's images together.
    std::vector<ImageRecord> split(const std::string &name) const;
    std::vector<int64_t> imagesPerClass(const std::string &splitName = "all") const;
    int64_t numClasses() const { return static_cast<int64_t>(classFolders.size()); }
};

// Lower-case file extensions treated as images.
bool hasImageExtension(const std::string &path);

// "golden_retriever" → "golden retriever"
std::string classNameFromFolder(const std::string &folder);

} // namespace sep::data
