#pragma once
// Long work off the UI thread: one Job (a QObject) per operation, run on its own QThread.
//
//   auto *job = new sep::ui::TrainJob(request);
//   connect(job, &sep::ui::Job::progress, bar, …);          // queued: the job runs on its thread
//   connect(job, &sep::ui::Job::done, this, [job](sep::ui::Job::Status s, const QString &m) { … job->outcome() … });
//   sep::ui::startJob(job);                                  // job->cancel() from any thread
//
// A job's run() catches everything at its top: sep::Error (and any std::exception) becomes
// done(Failed, message), sep::Cancelled becomes done(Cancelled). Before it emits done() the job moves
// itself back to the UI thread, so the slots connected to done() may read its results; the job
// deletes itself after them (deleteLater), and its thread ends.

#include "engine/core/hooks.h"
#include "engine/data/image_folder.h"
#include "ui/engine_facade.h"

#include <QObject>
#include <QString>

#include <atomic>
#include <map>
#include <vector>

namespace sep::ui {

class Job : public QObject {
    Q_OBJECT
public:
    enum Status { Succeeded, Cancelled, Failed };
    Q_ENUM(Status)

    explicit Job(QObject *parent = nullptr);
    ~Job() override;

    // Thread-safe: asks the engine to stop at its next check.
    void cancel() { m_cancel.store(true); }
    bool cancelRequested() const { return m_cancel.load(); }
    QString title() const { return m_title; }

Q_SIGNALS:
    // At most ~20 per second; secondsLeft < 0 when unknown.
    void progress(qint64 done, qint64 total, const QString &what, double secondsLeft);
    void logged(int level, const QString &message);   // sep::LogLevel
    void done(sep::ui::Job::Status status, const QString &message);

public Q_SLOTS:
    void run();

protected:
    virtual void work() = 0;
    // Hooks whose log and progress become this job's signals and whose cancel flag is this job's.
    Hooks hooks();
    QString m_title;

private:
    std::atomic<bool> m_cancel{false};
    qint64 m_lastProgressMs = -1000;
};

// Moves the job to a new QThread and starts it. The thread quits when the job is done.
void startJob(Job *job);

// Jobs started and not yet done (any thread).
int runningJobs();
// Asks every running job to stop and waits (processing events) until none runs or `timeoutMs` passed;
// called before the application ends so no worker outlives it. Returns whether all ended.
bool stopAllJobs(int timeoutMs = 60000);

// ---- the jobs

class InspectModelJob : public Job {
    Q_OBJECT
public:
    InspectModelJob(QString weights, QString vocab);
    facade::ModelSummary summary;

protected:
    void work() override;

private:
    QString m_weights, m_vocab;
};

class ScanFolderJob : public Job {
    Q_OBJECT
public:
    explicit ScanFolderJob(QString root);
    data::ImageFolder folder;

protected:
    void work() override;

private:
    QString m_root;
};

class CreateProjectJob : public Job {
    Q_OBJECT
public:
    // classNames: folder → name given in the wizard, kept in the project.
    CreateProjectJob(QString project, QString dataRoot, std::map<std::string, std::string> classNames = {});
    projects::ScanReport report;

protected:
    void work() override;

private:
    QString m_project, m_data;
    std::map<std::string, std::string> m_classNames;
};

class TrainJob : public Job {
    Q_OBJECT
public:
    explicit TrainJob(facade::TrainRequest request);
    facade::TrainOutcome outcome;
    const facade::TrainRequest &request() const { return m_request; }

Q_SIGNALS:
    void runCreated(qint64 runId);
    // Every epoch row recorded so far (the curves replace what they had for this run).
    void epochsRecorded(qint64 runId, const std::vector<sep::projects::EpochRow> &rows);

protected:
    void work() override;

private:
    facade::TrainRequest m_request;
};

class ExportJob : public Job {
    Q_OBJECT
public:
    explicit ExportJob(facade::ExportRequest request);
    facade::ExportOutcome outcome;

protected:
    void work() override;

private:
    facade::ExportRequest m_request;
};

} // namespace sep::ui

Q_DECLARE_METATYPE(std::vector<sep::projects::EpochRow>)
