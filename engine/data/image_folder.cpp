#include "engine/data/image_folder.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/text.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <sys/stat.h>

namespace sep::data {
namespace fs = std::filesystem;
namespace {

const std::set<std::string> kSplitNames = {"train", "val", "test"};

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::vector<fs::path> sortedEntries(const fs::path &dir, std::vector<ScanIssue> &issues)
{
    std::vector<fs::path> out;
    std::error_code ec;
    fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) {
        issues.push_back({dir.string(), "cannot list this folder (" + ec.message() + ")"});
        return out;
    }
    for (; it != end; it.increment(ec)) {
        if (ec) {
            issues.push_back({dir.string(), "listing stopped early (" + ec.message() + ")"});
            break;
        }
        // Names are recorded as text (JSON reports, the project database), which must be UTF-8.
        if (!isValidUtf8(it->path().filename().string())) {
            issues.push_back({asUtf8(it->path().string()), "its name is not valid UTF-8 (an old or foreign "
                                                                   "encoding); rename it to use it"});
            continue;
        }
        out.push_back(it->path());
    }
    std::sort(out.begin(), out.end(), [](const fs::path &a, const fs::path &b) { return a.string() < b.string(); });
    return out;
}

bool isDir(const fs::path &p)
{
    std::error_code ec;
    return fs::is_directory(p, ec);
}

// Names starting with '.' are other programs' state (.git, .thumbnails, .DS_Store, macOS "._x.jpg"
// resource forks), never classes or images.
bool isHidden(const fs::path &p) { return p.filename().string().rfind('.', 0) == 0; }

// The real files and folders a scan has reached, by device and inode: a link loop or a second link
// to the same folder would otherwise scan (and count) the same images again and again.
class Visited {
public:
    // False, with an issue naming the path, when `p` (links followed) was reached before.
    bool firstVisit(const fs::path &p, bool folder, std::vector<ScanIssue> &issues)
    {
        struct stat st {
        };
        if (::stat(p.c_str(), &st) != 0)
            return true;   // reported by whoever opens it
        const auto [it, fresh] = m_seen.emplace(std::make_pair(st.st_dev, st.st_ino), p.string());
        if (!fresh)
            issues.push_back({p.string(), std::string(folder ? "the same folder as " : "the same file as ") + it->second
                                              + " (a link or a link loop); scanned once, skipped here"});
        return fresh;
    }

private:
    std::map<std::pair<dev_t, ino_t>, std::string> m_seen;
};

// Every image file under a class folder (sub-folders included), sorted by path.
void collectImages(const fs::path &dir, int64_t label, std::vector<ImageRecord> &out, std::vector<ScanIssue> &issues,
                   Visited &visited, int depth = 0)
{
    if (depth > 64) {
        issues.push_back({dir.string(), "folders nested more than 64 deep; not scanned further"});
        return;
    }
    // The class folder itself was marked by the caller; a sub-folder reached twice is skipped.
    if (depth > 0 && !visited.firstVisit(dir, true, issues))
        return;
    for (const auto &entry : sortedEntries(dir, issues)) {
        if (isHidden(entry)) {
            issues.push_back({entry.string(), "hidden (its name starts with '.'); ignored"});
            continue;
        }
        if (isDir(entry)) {
            collectImages(entry, label, out, issues, visited, depth + 1);
            continue;
        }
        std::error_code ec;
        if (!fs::is_regular_file(entry, ec)) {
            issues.push_back({entry.string(), fs::exists(entry, ec) ? "not a regular file (a pipe, device or socket); ignored"
                                                                    : "broken link or vanished file; ignored"});
            continue;
        }
        if (!hasImageExtension(entry.string())) {
            issues.push_back({entry.string(), "not an image file (by its extension); ignored"});
            continue;
        }
        if (!visited.firstVisit(entry, false, issues))
            continue;
        out.push_back({entry.string(), label});
    }
}

std::map<std::string, std::string> readClassNames(const fs::path &file, const std::set<std::string> &folders,
                                                  std::vector<ScanIssue> &issues)
{
    std::map<std::string, std::string> names;
    std::ifstream in;
    try {
        in = openRegularFile(file.string(), "text file of class names");
    } catch (const Error &e) {
        issues.push_back({file.string(), reasonAbout(file.string(), e.what()) + "; folder names are used as class names"});
        return names;
    }
    std::string line;
    for (int lineNo = 1; std::getline(in, line); ++lineNo) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        std::istringstream s(line);
        std::string folder;
        s >> folder;
        std::string name;
        std::getline(s, name);
        name.erase(0, name.find_first_not_of(" \t"));
        if (!folders.count(folder)) {
            issues.push_back({file.string(), "line " + std::to_string(lineNo) + ": no class folder named '" + shortened(folder) + "'"});
            continue;
        }
        if (name.empty()) {
            issues.push_back({file.string(), "line " + std::to_string(lineNo) + ": no class name after '" + shortened(folder) + "'"});
            continue;
        }
        names[folder] = name;
    }
    return names;
}

} // namespace

bool hasImageExtension(const std::string &path)
{
    static const std::set<std::string> exts = {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".gif", ".webp",
                                               ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm"};
    return exts.count(lower(fs::path(path).extension().string())) > 0;
}

std::string classNameFromFolder(const std::string &folder)
{
    std::string name = folder;
    std::replace(name.begin(), name.end(), '_', ' ');
    return name;
}

ImageFolder ImageFolder::scan(const std::string &rootPath)
{
    ImageFolder f;
    f.root = rootPath;
    const fs::path root(rootPath);
    std::error_code ec;
    if (!isValidUtf8(rootPath))
        throw Error(asUtf8(rootPath) + ": the folder's path is not valid UTF-8 (an old or foreign encoding); "
                                               "rename the folder, or move the images to a folder with a UTF-8 name");
    if (!fs::exists(root, ec))
        throw Error(rootPath + ": folder not found");
    if (!fs::is_directory(root, ec))
        throw Error(rootPath + ": not a folder; give a folder with one sub-folder of images per class");

    const auto top = sortedEntries(root, f.issues);
    std::vector<fs::path> topDirs;
    for (const auto &e : top) {
        if (isHidden(e))
            f.issues.push_back({e.string(), "hidden (its name starts with '.'); not a class"});
        else if (isDir(e))
            topDirs.push_back(e);
        else if (e.filename() != "classnames.txt")
            f.issues.push_back({e.string(), "file outside any class folder; ignored"});
    }
    if (topDirs.empty())
        throw Error(rootPath + ": holds no sub-folders; put each class's images in a sub-folder named after the class");

    const bool splitLayout = std::all_of(topDirs.begin(), topDirs.end(),
                                         [](const fs::path &d) { return kSplitNames.count(d.filename().string()); });

    // (split name, class folder path) pairs
    std::vector<std::pair<std::string, fs::path>> classDirs;
    std::set<std::string> folderSet;
    if (splitLayout) {
        for (const auto &splitDir : topDirs) {
            for (const auto &e : sortedEntries(splitDir, f.issues)) {
                if (isHidden(e)) {
                    f.issues.push_back({e.string(), "hidden (its name starts with '.'); not a class"});
                } else if (isDir(e)) {
                    classDirs.emplace_back(splitDir.filename().string(), e);
                    folderSet.insert(e.filename().string());
                } else {
                    f.issues.push_back({e.string(), "file outside any class folder; ignored"});
                }
            }
        }
    } else {
        for (const auto &d : topDirs) {
            classDirs.emplace_back("all", d);
            folderSet.insert(d.filename().string());
        }
    }
    if (folderSet.empty())
        throw Error(rootPath + ": the train/val/test folders hold no class folders");

    f.classFolders.assign(folderSet.begin(), folderSet.end());
    std::map<std::string, int64_t> labelOf;
    for (size_t i = 0; i < f.classFolders.size(); ++i)
        labelOf[f.classFolders[i]] = static_cast<int64_t>(i);

    std::map<std::string, std::string> custom;
    if (fs::exists(fs::symlink_status(root / "classnames.txt", ec)))
        custom = readClassNames(root / "classnames.txt", folderSet, f.issues);
    for (const auto &folder : f.classFolders)
        f.classNames.push_back(custom.count(folder) ? custom[folder] : classNameFromFolder(folder));

    // The root, the split folders and every class folder first, so that a link inside a class to
    // any of them (a loop, or a sibling class) is skipped instead of scanned under the wrong class.
    Visited visited;
    visited.firstVisit(root, true, f.issues);
    if (splitLayout)
        for (const auto &d : topDirs)
            visited.firstVisit(d, true, f.issues);
    std::vector<std::pair<std::string, fs::path>> distinct;
    for (const auto &entry : classDirs)
        if (visited.firstVisit(entry.second, true, f.issues))
            distinct.push_back(entry);
    classDirs = std::move(distinct);
    for (const auto &[splitName, dir] : classDirs) {
        auto &records = f.splits[splitName];
        const size_t before = records.size();
        collectImages(dir, labelOf.at(dir.filename().string()), records, f.issues, visited);
        if (records.size() == before)
            f.issues.push_back({dir.string(), "class folder holds no images"});
    }
    for (auto &[name, records] : f.splits)
        std::sort(records.begin(), records.end(),
                  [](const ImageRecord &a, const ImageRecord &b) { return a.path < b.path; });
    if (splitLayout) {
        for (const auto &folder : f.classFolders)
            for (const auto &[splitName, records] : f.splits)
                if (!fs::exists(root / splitName / folder, ec))
                    f.issues.push_back({(root / splitName / folder).string(), "class has no images in this split"});
    }
    return f;
}

std::vector<ImageRecord> ImageFolder::split(const std::string &name) const
{
    if (auto it = splits.find(name); it != splits.end())
        return it->second;
    if (name == "all") {
        std::vector<ImageRecord> out;
        for (const auto &[_, records] : splits)
            out.insert(out.end(), records.begin(), records.end());
        return out;
    }
    throw Error(root + ": has no '" + name + "' split");
}

std::vector<int64_t> ImageFolder::imagesPerClass(const std::string &splitName) const
{
    std::vector<int64_t> counts(classFolders.size(), 0);
    for (const auto &r : split(splitName))
        ++counts[static_cast<size_t>(r.label)];
    return counts;
}

} // namespace sep::data
