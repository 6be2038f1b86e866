// Opening a project file, as `sep project show` and the GUI's Open do: the file checks, SQLite's own
// look, the schema version, then reading everything the overview shows. Read-only first (never
// modifies the file), then for writing, which upgrades an older schema after keeping a copy.
//
// SEP_FUZZ_PROJECT_WRITE=0 skips the writable open, which syncs to disk.

#include "projects/project_store.h"
#include "tests/fuzz/fuzz_support.h"

#include <cstdlib>
#include <cstring>

namespace {

// Text in a project need not be UTF-8 (file names, a damaged file), so it is serialised the way
// `sep project show --json` prints it: with replacement characters.
std::string printed(const nlohmann::json &j)
{
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

void readAll(sep::projects::ProjectStore &store)
{
    (void)printed(store.summary());
    for (const auto &run : store.runs()) {
        (void)printed(run.toJson());
        (void)printed(store.runDetails(run.id));
        for (const auto &e : store.evaluations(run.id))
            (void)store.predictions(e.id);   // top-k BLOBs and the true class's rank
    }
    (void)store.datasets();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sep::fuzz::Scratch scratch;
    static const bool write = [] {
        const char *v = std::getenv("SEP_FUZZ_PROJECT_WRITE");
        return !(v && std::strcmp(v, "0") == 0);
    }();
    const std::string path = scratch.write("input.sepproj", data, size);
    sep::fuzz::expectSepError([&] {
        sep::projects::OpenOptions options;
        options.readOnly = true;
        auto store = sep::projects::ProjectStore::open(path, options);
        readAll(store);
    });
    if (write) {
        sep::fuzz::expectSepError([&] {
            auto store = sep::projects::ProjectStore::open(path);
            readAll(store);
            (void)store.check();
        });
    }
    scratch.clear();
    return 0;
}
