// PyTorch zip archives and our unpickler on arbitrary bytes: torch.save state dicts, training
// checkpoints and TorchScript archives, as the weight loader reads them.

#include "engine/io/torch_archive.h"
#include "tests/fuzz/fuzz_support.h"

#include <ATen/ATen.h>

namespace {

void touch(const sep::TensorMap &tensors)
{
    // Every element read once, so a tensor pointing outside its storage shows up under ASan.
    for (const auto &entry : tensors)
        if (entry.second.numel() > 0)
            (void)entry.second.to(at::kDouble).sum().item<double>();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sep::fuzz::Scratch scratch;
    const std::string path = scratch.write("input.pt", data, size);
    bool script = false;
    sep::fuzz::expectSepError([&] {
        if (sep::io::looksLikeTorchArchive(path))
            script = sep::io::isTorchScriptArchive(path);
    });
    sep::fuzz::expectSepError([&] {
        const sep::io::PickleValue root = sep::io::readTorchArchive(path);
        touch(sep::io::collectTensors(root));
        if (const auto *sd = root.find("state_dict"))
            touch(sep::io::collectTensors(*sd));
    });
    if (script)
        sep::fuzz::expectSepError([&] { touch(sep::io::readTorchScriptTensors(path)); });
    return 0;
}
