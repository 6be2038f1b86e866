#pragma once
// Internals of ProjectStore shared by its source files (project_store.cpp, dataset_scan.cpp).

#include "projects/lock.h"
#include "projects/project_store.h"
#include "projects/sqlite.h"

#include <optional>
#include <string>
#include <vector>

namespace sep::projects {

struct ProjectStore::Impl {
    std::string path;        // the project file as named (with its extension)
    Database db;
    ProjectLock lock;        // held unless read-only
    bool readOnly = false;
    int version = 0;
    std::vector<std::string> notes;
    std::optional<ProcessIdentity> inUseBy;
    ProcessIdentity me;      // this process, as runs record their owner
};

// A dataset root as the project records it: absolute, normalised, without a trailing slash.
std::string normaliseRoot(const std::string &root);

} // namespace sep::projects
