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

// A training step allocates and frees tensors of tens of megabytes many times over. glibc serves
// blocks above its mmap threshold with fresh mappings and unmaps them on free, so each such tensor
// page-faults its memory in again, and trims the heap top likewise; on a 2-core machine that was 40%
// of a SEP step at ViT-B/16 shape (10.6 s → 6.2 s with blocks kept). Keep blocks up to glibc's
// largest threshold in the heap and keep freed memory for reuse. Peak memory is unchanged: it is
// reached within a step. Settings the user made through glibc's environment variables win.
void keepFreedMemoryForReuse()
{
#ifdef __GLIBC__
    if (!std::getenv("MALLOC_MMAP_THRESHOLD_"))
        mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);   // glibc's maximum on 64-bit systems
    if (!std::getenv("MALLOC_TRIM_THRESHOLD_"))
        mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
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

} // namespace sep
