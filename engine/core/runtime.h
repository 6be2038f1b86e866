#pragma once
// Process-wide runtime set-up: LibTorch's thread count and the compute device.
//
//   sep::configureThreads();                         // once, at start-up
//   torch::Device d = sep::resolveDevice("auto");    // CUDA when present, else CPU

#include "engine/core/error.h"

#include <c10/core/Device.h>

#include <exception>
#include <string>

namespace sep {

// The CPUs this process may run on (affinity mask, as `nproc` counts them), at least 1.
int availableCores();

// Sets LibTorch's intra-op threads to `threads` (0 → $SEP_THREADS if set, else availableCores()). LibTorch starts with 1 on
// some machines, which leaves cores idle. Also keeps freed memory in the heap for reuse by the next
// training step (see runtime.cpp). Call from the main thread before any torch work.
void configureThreads(int threads = 0);

// Returns the heap's free memory to the system. Call when a long job (training, evaluation) ends:
// configureThreads() keeps freed memory for reuse, so without this a process holds its peak.
void releaseFreedMemory();

// Calls configureThreads() unless it was called before. The engine's entry points call this, since
// letting LibTorch start its thread pool lazily makes the first BLAS results differ in the last bits
// from later ones.
void ensureThreadsConfigured();

// "auto" → CUDA if available, else CPU; "cpu"; "cuda" or "cuda:N" (sep::Error when there is no GPU).
c10::Device resolveDevice(const std::string &name);

// "cpu", or "cuda:0 (NVIDIA H200)" where the name is known.
std::string describeDevice(const c10::Device &device);

// A failure's message for a person: its first line (LibTorch's errors carry a C++ backtrace after
// it), running out of memory said as such with what to try. Used wherever an engine entry point or
// a front end reports a failure.
std::string describeFailure(const std::exception &e);

// Runs `work` as an engine entry point: sep::Error (and Cancelled) pass through, and any other
// failure (LibTorch's c10::Error, bad_alloc, the standard library's) leaves as a sep::Error that
// starts with `context`, the file or run at stake, followed by describeFailure().
template <typename Work>
auto asEntryPoint(const std::string &context, Work &&work) -> decltype(work())
{
    try {
        return work();
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(context + ": " + describeFailure(e));
    }
}

// The CPU math library and its kernels, e.g. "BLAS: OpenBLAS, Haswell kernels, 2 thread(s)".
std::string describeCpuMath();

} // namespace sep
