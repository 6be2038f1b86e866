// The safetensors reader on arbitrary bytes: header length, JSON header, dtypes, shapes, offsets.

#include "engine/io/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sep::fuzz::Scratch scratch;
    const std::string path = scratch.write("input.safetensors", data, size);
    sep::fuzz::expectSepError([&] { sep::io::looksLikeSafetensors(path); });
    sep::fuzz::expectSepError([&] {
        std::map<std::string, std::string> metadata;
        const sep::TensorMap tensors = sep::io::readSafetensors(path, &metadata);
        // Touch every element so a tensor pointing outside its storage would show up under ASan.
        for (const auto &entry : tensors)
            if (entry.second.numel() > 0)
                (void)entry.second.to(at::kDouble).sum().item<double>();
    });
    return 0;
}
