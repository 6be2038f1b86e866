#include "ui/project_session.h"

#include "engine/core/error.h"
#include "ui/qt_convert.h"

#include <QFileInfo>
#include <QSettings>

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
        addRecentProject(m_path);
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
    try {
        m_runs = m_store->runs();
        m_datasets = m_store->datasets();
    } catch (const std::exception &) {
        // A write in progress elsewhere can make a read fail for a moment; the next refresh retries.
    }
    Q_EMIT changed();
}

bool ProjectSession::setClassNames(int64_t datasetId, const std::map<std::string, std::optional<std::string>> &names,
                                   QString *error)
{
    try {
        if (!m_store)
            throw Error("no project is open");
        projects::OpenOptions o;
        o.purpose = "SEP Studio (class names)";
        projects::ProjectStore::open(m_store->path(), o).setClassNames(datasetId, names);
        return true;
    } catch (const std::exception &e) {
        if (error)
            *error = tr("Class names are unchanged: %1").arg(qs(e.what()));
        return false;
    }
}

bool ProjectSession::removeRun(int64_t runId, QString *error)
{
    try {
        if (!m_store)
            throw Error("no project is open");
        projects::OpenOptions o;
        o.purpose = "SEP Studio (delete a run)";
        projects::ProjectStore::open(m_store->path(), o).removeRun(runId);
        refresh();
        return true;
    } catch (const std::exception &e) {
        if (error)
            *error = tr("Run %1 was not deleted: %2").arg(runId).arg(qs(e.what()));
        return false;
    }
}

QStringList ProjectSession::recentProjects()
{
    QSettings settings;
    return settings.value(QStringLiteral("recentProjects")).toStringList();
}

void ProjectSession::addRecentProject(const QString &path)
{
    QSettings settings;
    QStringList list = settings.value(QStringLiteral("recentProjects")).toStringList();
    const QString absolute = QFileInfo(path).absoluteFilePath();
    list.removeAll(absolute);
    list.prepend(absolute);
    while (list.size() > 10)
        list.removeLast();
    settings.setValue(QStringLiteral("recentProjects"), list);
}

} // namespace sep::ui
