#include "engine/core/runtime.h"

#include "engine/core/error.h"

#include <torch/torch.h>

#include <atomic>
#include <cstdlib>
#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>

namespace sep {

int availableCores()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return std::max(1, CPU_COUNT(&set));
    return std::max(1u, std::thread::hardware_concurrency());
}

namespace {
std::atomic<bool> g_threadsConfigured{false};

// A training step allocates and frees tensors of tens to hundreds of megabytes, the same sizes step
// after step. By default glibc serves blocks above 128 kB–32 MB with fresh mappings and unmaps them on
// free, trims the heap top when much is free, and gives each thread its own arena (which cannot hold
// blocks over 64 MB, so those are mapped afresh too). Each such tensor then page-faults its memory in
// again: 40% of a SEP step at ViT-B/16 shape, batch 8 (10.6 s → 6.2 s), and at batch 32 24.5 s →
// 13.2 s. So: one heap for all threads (the GUI trains in a worker thread), no mappings for large
// blocks, no trimming; every step after the first reuses memory already paged in. Peak memory is the
// same (it is reached within a step); releaseFreedMemory() gives the memory back when a job ends.
// Settings the user made through glibc's environment variables win.
void keepFreedMemoryForReuse()
{
#ifdef __GLIBC__
    if (!std::getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 1);
    if (!std::getenv("MALLOC_MMAP_MAX_"))
        mallopt(M_MMAP_MAX, 0);
    if (!std::getenv("MALLOC_TRIM_THRESHOLD_"))
        mallopt(M_TRIM_THRESHOLD, -1);   // -1: never trim on free
#endif
}
} // namespace

void configureThreads(int threads)
{
    g_threadsConfigured = true;
    keepFreedMemoryForReuse();
    if (threads <= 0)
        if (const char *env = std::getenv("SEP_THREADS"); env && std::atoi(env) > 0)
            threads = std::atoi(env);
    at::set_num_threads(threads > 0 ? threads : availableCores());
}

void releaseFreedMemory()
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void ensureThreadsConfigured()
{
    if (!g_threadsConfigured.exchange(true))
        configureThreads();
}

c10::Device resolveDevice(const std::string &name)
{
    if (name.empty() || name == "auto")
        return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    if (name == "cpu")
        return c10::Device(c10::kCPU);
    if (name.rfind("cuda", 0) == 0) {
        if (!torch::cuda::is_available())
            throw Error("device '" + name + "' was asked for, but this LibTorch build sees no CUDA GPU; "
                        "use --device cpu (or auto)");
        c10::Device d(name);
        if (d.index() >= static_cast<int>(torch::cuda::device_count()))
            throw Error("device '" + name + "' does not exist: " + std::to_string(torch::cuda::device_count())
                        + " CUDA device(s) present");
        return d.has_index() ? d : c10::Device(c10::kCUDA, 0);
    }
    throw Error("unknown device '" + name + "'; use auto, cpu, cuda or cuda:N");
}

std::string describeDevice(const c10::Device &device)
{
    return device.str();
}

std::string describeCpuMath()
{
    std::string out = "BLAS: ";
    // Debian's LibTorch calls whichever libblas.so.3 is installed; OpenBLAS names its kernels.
    using CoreName = char *(*)();
    if (auto corename = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
        out += "OpenBLAS, " + std::string(corename()) + " kernels";
        if (const char *forced = std::getenv("OPENBLAS_CORETYPE"); forced && *forced)
            out += " (OPENBLAS_CORETYPE=" + std::string(forced) + ")";
    } else {
        out += "not OpenBLAS";
    }
    return out + ", " + std::to_string(at::get_num_threads()) + " thread(s)";
}

std::string describeFailure(const std::exception &e)
{
    if (dynamic_cast<const std::bad_alloc *>(&e))
        return "out of memory; try a smaller batch (--batch, --eval-batch), a smaller model, or close other programs";
    // LibTorch throws c10::Error or (Debian's build, for most checks) std::runtime_error; either may
    // carry a C++ backtrace after the first line, which tells a user nothing.
    const auto *torchError = dynamic_cast<const c10::Error *>(&e);
    std::string text = torchError ? torchError->what_without_backtrace() : e.what();
    text = text.substr(0, text.find('\n'));
    if (text.find("DefaultCPUAllocator") != std::string::npos || text.find("CUDA out of memory") != std::string::npos)
        return "out of memory (" + text + "); try a smaller batch (--batch, --eval-batch) or a smaller model";
    return text;
}

} // namespace sep
