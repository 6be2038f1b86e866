#include "engine/core/files.h"

#include "engine/core/error.h"
#include "engine/core/text.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
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
    std::ifstream in = openRegularFile(path, "file");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

namespace {

const char *kindOf(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISFIFO(mode))
        return "a named pipe (FIFO)";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

} // namespace

void requireRegularFile(const std::string &path, const std::string &what)
{
    struct stat st {
    };
    if (::stat(path.c_str(), &st) != 0) {
        const int error = errno;
        if (error == ENOENT) {
            struct stat link {
            };
            if (::lstat(path.c_str(), &link) == 0)
                throw Error(path + ": a link to a file that does not exist; expected a " + what);
            throw Error(path + ": not found; expected a " + what);
        }
        if (error == ELOOP)
            throw Error(path + ": a loop of symbolic links; expected a " + what);
        throw Error(path + ": cannot be read (" + std::strerror(error) + ")");
    }
    if (!S_ISREG(st.st_mode))
        throw Error(path + ": is " + kindOf(st.st_mode) + ", not a " + what + "; give the path of a regular file");
}

std::ifstream openRegularFile(const std::string &path, const std::string &what)
{
    requireRegularFile(path, what);
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int error = errno;
        throw Error(path + ": cannot be read (" + (error ? std::strerror(error) : "unknown reason") + ")");
    }
    return in;
}

fs::path entryPathInside(const fs::path &destination, const std::string &entry, const std::string &archive)
{
    auto refuse = [&](const std::string &why) {
        return Error(archive + ": holds an entry named '" + shortened(entry, 200) + "' (" + why
                     + "); refused, nothing of it was unpacked. The archive is damaged or not from SEP Studio.");
    };
    if (entry.empty())
        throw refuse("an empty name");
    if (entry.find('\0') != std::string::npos || entry.find('\\') != std::string::npos)
        throw refuse("a name with a backslash or NUL");
    const fs::path rel(entry);
    if (rel.is_absolute() || entry.front() == '/')
        throw refuse("an absolute path");
    fs::path out = destination;
    for (const auto &part : rel) {
        const std::string p = part.string();
        if (p == "..")
            throw refuse("a '..' component that leads outside the folder");
        if (p.empty() || p == "." || p == "/")
            continue;
        out /= part;
    }
    if (out == destination)
        throw refuse("no file name");
    return out;
}

void requireOutputOutside(const std::string &output, const std::string &input, const std::string &option)
{
    std::error_code ec;
    const fs::path out = fs::weakly_canonical(fs::absolute(output, ec), ec);
    const fs::path in = fs::weakly_canonical(fs::absolute(input, ec), ec);
    if (ec || out.empty() || in.empty())
        return;   // nothing to compare; the open that follows names the problem
    auto within = [](const fs::path &inner, const fs::path &outer) {
        auto i = inner.begin();
        for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
            if (o->empty())
                continue;   // a trailing separator
            if (i == inner.end() || *i != *o)
                return false;
        }
        return true;
    };
    if (within(out, in))
        throw Error(option + " " + output + ": lies inside the dataset folder " + input
                    + " that is being read; what is written there would be read as images or classes the next time. "
                      "Choose a folder outside it, e.g. beside it: "
                    + (in.parent_path() / (in.filename().string() + "-results")).string());
    if (within(in, out))
        throw Error(option + " " + output + ": contains the dataset folder " + input
                    + " that is being read; choose an output folder that does not hold the data, e.g. "
                    + (in.parent_path() / (in.filename().string() + "-results")).string());
}

} // namespace sep
