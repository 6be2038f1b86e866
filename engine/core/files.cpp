#include "engine/core/files.h"

#include "engine/core/error.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace sep {
namespace fs = std::filesystem;

std::string temporaryPathFor(const std::string &path)
{
    static std::atomic<unsigned> counter{0};
    return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

void commitTemporary(const std::string &tmp, const std::string &path)
{
    // fsync so that a crash after the rename cannot expose an empty file.
    const int fd = ::open(tmp.c_str(), O_RDONLY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(tmp.c_str());
        throw Error(path + ": cannot be written (" + reason + ")");
    }
}

void writeFileAtomic(const std::string &path, const std::string &contents)
{
    const std::string tmp = temporaryPathFor(path);
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) {
            const std::string reason = std::strerror(errno);
            throw Error(path + ": cannot be written (" + reason + "); check that the folder exists and is writable");
        }
        out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
        out.flush();
        if (!out) {
            const std::string reason = errno ? std::strerror(errno) : "write failed";
            out.close();
            std::remove(tmp.c_str());
            throw Error(path + ": writing failed (" + reason + "); is the disk full?");
        }
    }
    commitTemporary(tmp, path);
}

void makeDirectories(const std::string &path)
{
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec)
        throw Error(path + ": cannot create the folder (" + ec.message() + ")");
}

std::string readFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot be read (" + std::string(std::strerror(errno)) + ")");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace sep
