#include "ui/jobs.h"

#include "engine/core/error.h"
#include "engine/core/runtime.h"
#include "ui/qt_convert.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDeadlineTimer>
#include <QMutex>
#include <QSet>
#include <QThread>

namespace sep::ui {

namespace {
QMutex g_jobsMutex;
QSet<Job *> g_jobs;   // started, not yet done
} // namespace

int runningJobs()
{
    QMutexLocker lock(&g_jobsMutex);
    return static_cast<int>(g_jobs.size());
}

bool stopAllJobs(int timeoutMs)
{
    {
        QMutexLocker lock(&g_jobsMutex);
        for (Job *job : std::as_const(g_jobs))
            job->cancel();
    }
    QDeadlineTimer deadline(timeoutMs);
    while (runningJobs() > 0 && !deadline.hasExpired()) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        QThread::msleep(5);
    }
    return runningJobs() == 0;
}

QString duration(double seconds)
{
    if (seconds < 0)
        return QStringLiteral("unknown");
    const qint64 s = static_cast<qint64>(seconds + 0.5);
    if (s < 60)
        return QStringLiteral("%1 s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

Job::Job(QObject *parent) : QObject(parent)
{
    static const int registered = [] {
        qRegisterMetaType<std::vector<sep::projects::EpochRow>>();
        qRegisterMetaType<sep::ui::Job::Status>();
        return 0;
    }();
    Q_UNUSED(registered);
}

Job::~Job() = default;

Hooks Job::hooks()
{
    Hooks h;
    h.cancel = &m_cancel;
    h.log = [this](LogLevel level, const std::string &message) { Q_EMIT logged(static_cast<int>(level), qs(message)); };
    h.progress = [this](const ProgressEvent &e) {
        // Engines report per step; the UI needs a few updates a second, never a flood of events.
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        if (e.done < e.total && now - m_lastProgressMs < 50)
            return;
        m_lastProgressMs = now;
        Q_EMIT progress(e.done, e.total, qs(e.what), e.secondsLeft);
    };
    return h;
}

void Job::run()
{
    Status status = Succeeded;
    QString message;
    try {
        work();
        if (m_cancel.load())
            status = Cancelled;
    } catch (const sep::Cancelled &) {
        status = Cancelled;
    } catch (const Error &e) {
        status = Failed;
        message = qs(e.what());
    } catch (const std::exception &e) {
        status = Failed;
        message = QStringLiteral("unexpected error: %1").arg(qs(describeFailure(e)));
    } catch (...) {
        status = Failed;
        message = QStringLiteral("unexpected error");
    }
    sep::releaseFreedMemory();   // the heap keeps a job's peak for reuse while it runs
    // Hand the object back to the UI thread: slots connected to done() read its results there.
    QThread *worker = thread();
    if (QCoreApplication *app = QCoreApplication::instance())
        moveToThread(app->thread());
    {
        QMutexLocker lock(&g_jobsMutex);
        g_jobs.remove(this);
    }
    Q_EMIT done(status, message);
    worker->quit();
}

void startJob(Job *job)
{
    {
        QMutexLocker lock(&g_jobsMutex);
        g_jobs.insert(job);
    }
    auto *thread = new QThread;
    thread->setObjectName(job->metaObject()->className());
    job->moveToThread(thread);
    // Queued: run() starts inside the thread's event loop. Called directly from started(), it could
    // hand the job back and have it deleted before QThread::exec() has finished adopting the
    // objects moved to it, and exec() would then touch a deleted object.
    QObject::connect(thread, &QThread::started, job, &Job::run, Qt::QueuedConnection);
    QObject::connect(thread, &QThread::finished, thread, &QObject::deleteLater);
    // Connected last, so it runs after the slots that read the job's results.
    QObject::connect(job, &Job::done, job, &QObject::deleteLater, Qt::QueuedConnection);
    thread->start();
}

InspectModelJob::InspectModelJob(QString weights, QString vocab) : m_weights(std::move(weights)), m_vocab(std::move(vocab))
{
    m_title = QStringLiteral("Reading %1").arg(m_weights);
}

void InspectModelJob::work() { summary = facade::inspectModel(ss(m_weights), ss(m_vocab)); }

ScanFolderJob::ScanFolderJob(QString root) : m_root(std::move(root)) { m_title = QStringLiteral("Scanning %1").arg(m_root); }

void ScanFolderJob::work()
{
    folder = data::ImageFolder::scan(ss(m_root));
    if (folder.numClasses() == 0 || folder.split("all").empty())
        throw Error(ss(m_root) + ": no images were found in it (expected one sub-folder of images per class, e.g. "
                    + ss(m_root) + "/cat/1.jpg)");
}

CreateProjectJob::CreateProjectJob(QString project, QString dataRoot, std::map<std::string, std::string> classNames)
    : m_project(std::move(project)), m_data(std::move(dataRoot)), m_classNames(std::move(classNames))
{
    m_title = QStringLiteral("Creating %1").arg(m_project);
}

void CreateProjectJob::work() { report = facade::createProject(ss(m_project), ss(m_data), hooks(), m_classNames); }

TrainJob::TrainJob(facade::TrainRequest request) : m_request(std::move(request))
{
    m_title = m_request.resumeRun > 0 ? QStringLiteral("Resuming run %1").arg(m_request.resumeRun) : QStringLiteral("Training");
}

void TrainJob::work()
{
    const facade::TrainOutcome result = facade::trainInProject(
        m_request, hooks(),
        [this](int64_t id) {
            outcome.runId = id;
            Q_EMIT runCreated(id);
        },
        [this](const std::vector<projects::EpochRow> &rows) { Q_EMIT epochsRecorded(outcome.runId, rows); });
    outcome = result;
    if (outcome.status == "cancelled")
        throw sep::Cancelled{};
    if (outcome.status == "failed")
        throw Error(outcome.message);
}

ExportJob::ExportJob(facade::ExportRequest request) : m_request(std::move(request))
{
    m_title = QStringLiteral("Exporting run %1").arg(m_request.runId);
}

void ExportJob::work() { outcome = facade::exportRun(m_request, hooks()); }

} // namespace sep::ui
