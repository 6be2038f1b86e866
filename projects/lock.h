#pragma once
// Who may write a project: one process at a time, named in a lock file beside the project
// (`NAME.sepproj.lock`). Exclusion comes from flock() on that file, which the kernel drops when the
// holder dies however it dies (kill -9, power loss), so a crashed process never locks a project for
// good; the file's contents (PID, host, process start, since when, what for) only serve the message a
// second writer gets and the records of running runs. On a file system without flock the contents
// decide alone: a lock whose process is gone from this host is taken over.
//
//   sep::projects::ProjectLock lock = sep::projects::ProjectLock::acquire("a.sepproj.lock", "sep train");
//   // … write …; the destructor removes the file and releases the lock
//
// Not thread-safe; one lock object per open project.

#include <cstdint>
#include <optional>
#include <string>

namespace sep::projects {

// A process as the project records it: enough to tell later whether it still runs.
struct ProcessIdentity {
    int64_t pid = 0;
    std::string host;
    std::string start;   // the kernel's start time of the process (Linux /proc), "" when unknown
    std::string since;   // when it took the project (UTC, ISO 8601)
    std::string purpose; // "sep train", "SEP Studio", …

    static ProcessIdentity current(const std::string &purpose = {});
    std::string describe() const;   // "PID 123 on host since 2025-…Z (sep train)"
};

enum class Liveness { Alive, Dead, Unknown };   // Unknown: another host, can't tell

// Whether the process still runs: same host, the PID exists, is not a zombie, and (when the start
// time is known) started when the record says, so a reused PID does not count.
Liveness liveness(int64_t pid, const std::string &host, const std::string &start);

std::string hostName();
std::string utcNow();   // "2025-01-31T12:00:00Z"

class ProjectLock {
public:
    ProjectLock() = default;
    ~ProjectLock();
    ProjectLock(ProjectLock &&other) noexcept;
    ProjectLock &operator=(ProjectLock &&other) noexcept;
    ProjectLock(const ProjectLock &) = delete;
    ProjectLock &operator=(const ProjectLock &) = delete;

    // Takes the lock or throws sep::Error: "<project> is in use by PID … on HOST since … (what); …".
    // `project` names the project in messages. When a dead process's lock was taken over,
    // takenOver() describes it.
    static ProjectLock acquire(const std::string &lockPath, const std::string &project, const std::string &purpose);

    // The holder of the lock, when some live process holds it (never takes it).
    static std::optional<ProcessIdentity> holder(const std::string &lockPath);

    bool held() const { return m_fd >= 0; }
    const std::optional<ProcessIdentity> &takenOver() const { return m_previous; }
    void release();

private:
    int m_fd = -1;
    std::string m_path;
    std::optional<ProcessIdentity> m_previous;
};

} // namespace sep::projects
