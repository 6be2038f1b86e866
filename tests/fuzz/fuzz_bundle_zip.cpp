// A zipped bundle (`*.sepmodel` file) as `sep predict` and the GUI open it: unpacking into the
// cache, manifest.json, prompt.safetensors. The cache goes to this process's scratch folder and is
// emptied after every input, so each input is unpacked afresh.

#include "engine/export/bundle.h"
#include "tests/fuzz/fuzz_support.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sep::fuzz::Scratch scratch;
    static const bool cacheSet = [] {
        const std::string cache = (scratch.dir() / "cache").string();
        return ::setenv("XDG_CACHE_HOME", cache.c_str(), 1) == 0;
    }();
    (void)cacheSet;
    const std::string path = scratch.write("input.sepmodel", data, size);
    sep::fuzz::expectSepError([&] { (void)sep::exporting::readBundle(path); });
    std::error_code ec;
    std::filesystem::remove_all(scratch.dir() / "cache", ec);
    return 0;
}
