#pragma once
// How a long engine call talks to whoever started it: log lines, progress, and a cancel flag.
// The callbacks run on the calling (worker) thread; a GUI forwards them through queued signals.
//
//   sep::Hooks hooks;
//   hooks.log = [](sep::LogLevel l, const std::string &m) { std::cerr << m << '\n'; };
//   hooks.progress = [](const sep::ProgressEvent &e) { … e.done, e.total, e.what … };
//   hooks.cancel = &cancelFlag;   // std::atomic<bool>, set from any thread

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace sep {

enum class LogLevel { Debug, Info, Warning, Error };

struct ProgressEvent {
    int64_t done = 0;
    int64_t total = 0;
    std::string what;          // "encoding images", "epoch 3/10", …
    double secondsElapsed = 0;
    double secondsLeft = -1;   // estimate; negative when unknown
};

struct Hooks {
    std::function<void(LogLevel, const std::string &)> log;
    std::function<void(const ProgressEvent &)> progress;
    const std::atomic<bool> *cancel = nullptr;

    void info(const std::string &message) const { emit(LogLevel::Info, message); }
    void warn(const std::string &message) const { emit(LogLevel::Warning, message); }
    void debug(const std::string &message) const { emit(LogLevel::Debug, message); }
    void emitError(const std::string &message) const { emit(LogLevel::Error, message); }
    void report(const ProgressEvent &event) const
    {
        if (progress)
            progress(event);
    }
    bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }

private:
    void emit(LogLevel level, const std::string &message) const
    {
        if (log)
            log(level, message);
    }
};

// Thrown (and caught by the caller's top level) when the cancel flag was seen.
struct Cancelled {
};

} // namespace sep
