#include "engine/core/log_file.h"

#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>

namespace sep {

std::string timestamp()
{
    const std::time_t t = std::time(nullptr);
    std::tm local{};
    localtime_r(&t, &local);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &local);
    return buf;
}

Hooks withLogFile(const Hooks &hooks, const std::string &path)
{
    auto file = std::make_shared<std::ofstream>(path, std::ios::app);
    auto mutex = std::make_shared<std::mutex>();
    Hooks out = hooks;
    out.log = [inner = hooks.log, file, mutex](LogLevel level, const std::string &message) {
        {
            std::lock_guard<std::mutex> lock(*mutex);
            if (*file)
                *file << timestamp() << " "
                      << (level == LogLevel::Warning ? "warning: " : level == LogLevel::Error ? "error: " : "") << message
                      << std::endl;
        }
        if (inner)
            inner(level, message);
    };
    return out;
}

} // namespace sep
