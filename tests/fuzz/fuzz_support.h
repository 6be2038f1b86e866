#pragma once
// What every fuzz target shares: the rule that sep::Error is an expected outcome and any other
// exception is a finding, and a private scratch folder for readers that only take a path.
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
//       static sep::fuzz::Scratch scratch;
//       const std::string path = scratch.write("input.safetensors", data, size);
//       sep::fuzz::expectSepError([&] { sep::io::readSafetensors(path); });
//       return 0;
//   }

#include "engine/core/error.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>

#include <unistd.h>

namespace sep::fuzz {

// Runs `f`. A sep::Error is how the engine refuses a bad file, so it ends the input quietly; anything
// else escaping (c10::Error, std::bad_alloc, nlohmann's exceptions, …) would reach a person as a
// crash or a message without the file's name, so it aborts and libFuzzer records the input.
template <typename F>
void expectSepError(F &&f)
{
    try {
        f();
    } catch (const sep::Error &) {
    } catch (const std::exception &e) {
        std::fprintf(stderr, "\nFINDING: an exception other than sep::Error escaped: %s: %s\n", typeid(e).name(),
                     e.what());
        std::abort();
    } catch (...) {
        std::fprintf(stderr, "\nFINDING: a non-std exception escaped\n");
        std::abort();
    }
}

// One folder per process (libFuzzer's workers are processes), reused for every input and removed at
// exit. Files keep the names a reader may look for (manifest.json, config.json, …).
class Scratch {
public:
    Scratch()
    {
        const char *tmp = std::getenv("TMPDIR");
        m_dir = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") / ("sep-fuzz-" + std::to_string(::getpid()));
        std::filesystem::remove_all(m_dir);
        std::filesystem::create_directories(m_dir);
    }
    ~Scratch()
    {
        std::error_code ec;
        std::filesystem::remove_all(m_dir, ec);
    }
    Scratch(const Scratch &) = delete;
    Scratch &operator=(const Scratch &) = delete;

    const std::filesystem::path &dir() const { return m_dir; }

    std::string write(const std::string &name, const uint8_t *data, size_t size) const
    {
        const std::string path = (m_dir / name).string();
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char *>(data), static_cast<std::streamsize>(size));
        out.close();
        if (!out) {
            std::fprintf(stderr, "cannot write the fuzz input to %s\n", path.c_str());
            std::abort();
        }
        return path;
    }

    // Removes everything a reader left beside the inputs (unpacked bundles, lock files, backups).
    void clear() const
    {
        std::error_code ec;
        for (const auto &e : std::filesystem::directory_iterator(m_dir, ec))
            std::filesystem::remove_all(e.path(), ec);
    }

private:
    std::filesystem::path m_dir;
};

} // namespace sep::fuzz
