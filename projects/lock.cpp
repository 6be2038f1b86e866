#include "projects/lock.h"

#include "engine/core/error.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sep::projects {
namespace {

struct ProcStat {
    char state = '?';
    std::string start;
};

// Fields 3 (state) and 22 (start time in clock ticks since boot) of /proc/PID/stat. The command
// name (field 2) may hold spaces and parentheses, so fields are counted after its last ')'.
std::optional<ProcStat> readProcStat(int64_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!in || !std::getline(in, line))
        return std::nullopt;
    const auto close = line.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream rest(line.substr(close + 1));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;)
        fields.push_back(f);
    if (fields.size() < 20)
        return std::nullopt;
    ProcStat s;
    s.state = fields[0].empty() ? '?' : fields[0][0];
    s.start = fields[19];
    return s;
}

std::string readAll(int fd)
{
    std::string text;
    char buffer[4096];
    off_t offset = 0;
    for (;;) {
        const ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
        if (n <= 0)
            break;
        text.append(buffer, static_cast<size_t>(n));
        offset += n;
        if (text.size() > 65536)
            break;
    }
    return text;
}

std::optional<ProcessIdentity> parseIdentity(const std::string &text)
{
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
        return std::nullopt;
    try {
        const auto j = nlohmann::json::parse(text);
        ProcessIdentity id;
        id.pid = j.value("pid", int64_t(0));
        id.host = j.value("host", "");
        id.start = j.value("start", "");
        id.since = j.value("since", "");
        id.purpose = j.value("purpose", "");
        return id;
    } catch (const nlohmann::json::exception &) {
        // A lock file cut short by a crash while it was written: nobody holds it by its contents.
        ProcessIdentity unknown;
        unknown.purpose = "unreadable lock file";
        return unknown;
    }
}

std::string identityJson(const ProcessIdentity &id)
{
    return nlohmann::json{{"pid", id.pid}, {"host", id.host}, {"start", id.start}, {"since", id.since}, {"purpose", id.purpose}}
               .dump()
           + "\n";
}

bool writeIdentity(int fd, const ProcessIdentity &id)
{
    const std::string text = identityJson(id);
    if (::ftruncate(fd, 0) != 0)
        return false;
    if (::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
        return false;
    ::fsync(fd);
    return true;
}

bool sameFile(int fd, const std::string &path)
{
    struct stat a {
    }, b{};
    if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0)
        return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

[[noreturn]] void throwInUse(const std::string &project, const std::optional<ProcessIdentity> &who)
{
    std::string by = "another process";
    if (who && who->pid > 0)
        by = who->describe();
    throw Error(project + " is in use by " + by
                + ". Close it there first, or open it read-only to look at it meanwhile (sep project runs/show do).");
}

bool flockUnsupported(int error) { return error == ENOLCK || error == EINVAL || error == EOPNOTSUPP; }

} // namespace

std::string hostName()
{
    char buffer[256] = {};
    if (::gethostname(buffer, sizeof buffer - 1) != 0)
        return "localhost";
    return buffer;
}

std::string utcNow()
{
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

ProcessIdentity ProcessIdentity::current(const std::string &purpose)
{
    ProcessIdentity id;
    id.pid = static_cast<int64_t>(::getpid());
    id.host = hostName();
    if (const auto s = readProcStat(id.pid))
        id.start = s->start;
    id.since = utcNow();
    id.purpose = purpose;
    return id;
}

std::string ProcessIdentity::describe() const
{
    std::string text = "PID " + std::to_string(pid) + " on " + (host.empty() ? "an unknown host" : host);
    if (!since.empty())
        text += " since " + since;
    if (!purpose.empty())
        text += " (" + purpose + ")";
    return text;
}

Liveness liveness(int64_t pid, const std::string &host, const std::string &start)
{
    if (host != hostName())
        return Liveness::Unknown;
    if (pid <= 0)
        return Liveness::Dead;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
        return Liveness::Dead;
    if (const auto s = readProcStat(pid)) {
        if (s->state == 'Z' || s->state == 'X')
            return Liveness::Dead;   // killed, waiting to be reaped: it will never write again
        if (!start.empty() && s->start != start)
            return Liveness::Dead;   // the PID now belongs to another process
    }
    return Liveness::Alive;
}

// ---------------------------------------------------------------------------------------------------

ProjectLock::~ProjectLock() { release(); }

ProjectLock::ProjectLock(ProjectLock &&other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)), m_path(std::move(other.m_path)), m_previous(std::move(other.m_previous))
{
}

ProjectLock &ProjectLock::operator=(ProjectLock &&other) noexcept
{
    if (this != &other) {
        release();
        m_fd = std::exchange(other.m_fd, -1);
        m_path = std::move(other.m_path);
        m_previous = std::move(other.m_previous);
    }
    return *this;
}

void ProjectLock::release()
{
    if (m_fd < 0)
        return;
    // Removed while still held, so that nobody can lock the doomed file in between (acquire checks
    // that the file it locked is still the one at the path).
    if (sameFile(m_fd, m_path))
        ::unlink(m_path.c_str());
    ::close(m_fd);
    m_fd = -1;
}

ProjectLock ProjectLock::acquire(const std::string &lockPath, const std::string &project, const std::string &purpose)
{
    using namespace std::chrono_literals;
    const auto deadline = std::chrono::steady_clock::now() + 500ms;
    for (;;) {
        const int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            const int error = errno;
            if (error == EACCES || error == EPERM || error == EROFS)
                throw Error(project + ": cannot be opened for writing, its folder is not writable (" + std::strerror(error)
                            + "). Open it read-only, or make the folder writable.");
            throw Error(project + ": cannot create the lock file " + lockPath + " (" + std::strerror(error) + ")");
        }
        ProjectLock lock;
        lock.m_fd = fd;
        lock.m_path = lockPath;
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (!sameFile(fd, lockPath)) {
                // The holder removed the file as we opened it: lock the new one.
                ::close(std::exchange(lock.m_fd, -1));
                continue;
            }
            auto previous = parseIdentity(readAll(fd));
            if (previous && previous->pid > 0)
                lock.m_previous = previous;
        } else {
            const int error = errno;
            if (error == EWOULDBLOCK) {
                // Held. A reader peeking at the lock holds it for an instant, so look again briefly.
                const auto who = parseIdentity(readAll(fd));
                ::close(std::exchange(lock.m_fd, -1));
                if (std::chrono::steady_clock::now() < deadline) {
                    std::this_thread::sleep_for(20ms);
                    continue;
                }
                throwInUse(project, who);
            }
            if (!flockUnsupported(error)) {
                ::close(std::exchange(lock.m_fd, -1));
                throw Error(project + ": cannot lock " + lockPath + " (" + std::strerror(error) + ")");
            }
            // No flock here (some network file systems): the recorded owner decides.
            const auto who = parseIdentity(readAll(fd));
            if (who && who->pid > 0) {
                if (liveness(who->pid, who->host, who->start) != Liveness::Dead) {
                    ::close(std::exchange(lock.m_fd, -1));
                    throwInUse(project, who);
                }
                lock.m_previous = who;
            }
        }
        if (!writeIdentity(fd, ProcessIdentity::current(purpose))) {
            const int error = errno;
            throw Error(project + ": cannot write the lock file " + lockPath + " (" + std::strerror(error)
                        + "); is the disk full?");
        }
        return lock;
    }
}

std::optional<ProcessIdentity> ProjectLock::holder(const std::string &lockPath)
{
    const int fd = ::open(lockPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    std::optional<ProcessIdentity> who;
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
        ::flock(fd, LOCK_UN);
    } else if (errno == EWOULDBLOCK) {
        who = parseIdentity(readAll(fd));
        if (!who)
            who = ProcessIdentity{};
    } else {
        who = parseIdentity(readAll(fd));
        if (who && (who->pid <= 0 || liveness(who->pid, who->host, who->start) == Liveness::Dead))
            who.reset();
    }
    ::close(fd);
    return who;
}

} // namespace sep::projects
