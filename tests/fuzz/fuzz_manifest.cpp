// A bundle's manifest.json: JSON text, then Manifest::fromJson's field checks, then a round trip
// through toJson (what writing the manifest back, e.g. into a project's export record, does).

#include "engine/export/manifest.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // readBundle turns a JSON syntax error into its own sep::Error; what follows parsing is fuzzed here.
    const auto j = nlohmann::json::parse(data, data + size, nullptr, false);
    if (j.is_discarded())
        return 0;
    sep::fuzz::expectSepError([&] {
        const auto manifest = sep::exporting::Manifest::fromJson(j, "fuzz.sepmodel");
        (void)manifest.toJson().dump();
    });
    return 0;
}
