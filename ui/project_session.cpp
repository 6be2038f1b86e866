#include "ui/project_session.h"

#include "engine/core/error.h"
#include "ui/qt_convert.h"
#include "ui/settings.h"

#include <QFileInfo>

namespace sep::ui {

ProjectSession::ProjectSession(QObject *parent) : QObject(parent) {}
ProjectSession::~ProjectSession() = default;

bool ProjectSession::open(const QString &path, QString *error)
{
    try {
        projects::OpenOptions o;
        o.readOnly = true;
        o.purpose = "SEP Studio";
        auto store = std::make_unique<projects::ProjectStore>(projects::ProjectStore::open(ss(path), o));
        close();
        m_store = std::move(store);
        m_path = qs(m_store->path());
        settings::addRecentProject(m_path);
        refresh();
        Q_EMIT opened();
        return true;
    } catch (const std::exception &e) {
        if (error)
            *error = qs(e.what());
        return false;
    }
}

void ProjectSession::close()
{
    if (!m_store)
        return;
    m_store.reset();
    m_path.clear();
    m_runs.clear();
    m_datasets.clear();
    m_evaluations.clear();
    m_predictions.clear();
    Q_EMIT closed();
}

QString ProjectSession::name() const { return QFileInfo(m_path).completeBaseName(); }

const projects::RunInfo *ProjectSession::run(int64_t id) const
{
    for (const auto &r : m_runs)
        if (r.id == id)
            return &r;
    return nullptr;
}

QStringList ProjectSession::notes() const
{
    QStringList out;
    if (m_store)
        for (const auto &n : m_store->notes())
            out << qs(n);
    return out;
}

void ProjectSession::refresh()
{
    if (!m_store)
        return;
    m_evaluations.clear();
    m_predictions.clear();
    try {
        m_runs = m_store->runs();
        m_datasets = m_store->datasets();
    } catch (const std::exception &) {
        // A write in progress elsewhere can make a read fail for a moment; the next refresh retries.
    }
    Q_EMIT changed();
}

bool ProjectSession::writeOnce(const char *purpose, const std::function<void(projects::ProjectStore &)> &write,
                              AfterWrite after, const QString &failure, QString *error)
{
    try {
        if (!m_store)
            throw Error("no project is open");
        projects::OpenOptions o;
        o.purpose = purpose;
        auto store = projects::ProjectStore::open(m_store->path(), o);
        write(store);
    } catch (const std::exception &e) {
        if (error)
            *error = failure + QStringLiteral(": ") + qs(e.what());
        return false;
    }
    if (after == AfterWrite::Refresh)
        refresh();
    return true;
}

bool ProjectSession::setClassNames(int64_t datasetId, const std::map<std::string, std::optional<std::string>> &names,
                                   QString *error)
{
    return writeOnce(
        "SEP Studio (class names)", [&](projects::ProjectStore &store) { store.setClassNames(datasetId, names); }, AfterWrite::Keep,
        tr("Class names are unchanged"), error);
}

bool ProjectSession::removeRun(int64_t runId, QString *error)
{
    return writeOnce(
        "SEP Studio (delete a run)", [&](projects::ProjectStore &store) { store.removeRun(runId); }, AfterWrite::Refresh,
        tr("Run %1 was not deleted").arg(runId), error);
}

bool ProjectSession::describeRun(int64_t runId, const QString &name, const QString &notes, QString *error)
{
    return writeOnce(
        "SEP Studio (run name and notes)",
        [&](projects::ProjectStore &store) {
            // Both or neither: when the notes are refused, the name written just before is put back.
            const auto before = store.run(runId);
            store.setRunName(runId, ss(name));
            try {
                store.setRunNotes(runId, ss(notes));
            } catch (...) {
                store.setRunName(runId, before.name);
                throw;
            }
        },
        AfterWrite::Refresh, tr("Run %1 is unchanged").arg(runId), error);
}

namespace {

// The value kept for `key`, read by `read` the first time it is asked for.
template <class Cache, class Read>
const typename Cache::mapped_type &cached(Cache &cache, int64_t key, Read read)
{
    auto it = cache.find(key);
    if (it == cache.end())
        it = cache.emplace(key, read(key)).first;
    return it->second;
}

} // namespace

const std::vector<projects::StoredEvaluation> &ProjectSession::evaluations(int64_t runId)
{
    if (!m_store)
        throw Error("no project is open");
    return cached(m_evaluations, runId, [this](int64_t id) { return m_store->evaluations(id); });
}

const std::vector<projects::StoredPrediction> &ProjectSession::predictions(int64_t evaluationId)
{
    if (!m_store)
        throw Error("no project is open");
    return cached(m_predictions, evaluationId, [this](int64_t id) { return m_store->predictions(id); });
}

} // namespace sep::ui
