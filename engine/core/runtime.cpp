#include "engine/core/runtime.h"

#include "engine/core/error.h"

#include <torch/torch.h>

#include <atomic>
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
}

void configureThreads(int threads)
{
    g_threadsConfigured = true;
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

} // namespace sep
