#include "ui/settings.h"

#include <QFileInfo>
#include <QSettings>

namespace sep::ui {
namespace {

const QString kRecentProjects = QStringLiteral("recentProjects");
const QString kWindowGeometry = QStringLiteral("mainWindow/geometry");
const QString kWindowState = QStringLiteral("mainWindow/state");
const QString kLastProjectLocation = QStringLiteral("newProject/location");
const QString kTheme = QStringLiteral("appearance/theme");

// Per-project groups are keyed by the project's absolute path, with '/' (a group separator) escaped.
QString projectGroup(const QString &projectPath)
{
    QString key = QFileInfo(projectPath).absoluteFilePath();
    key.replace(QLatin1Char('/'), QLatin1Char('|'));
    return QStringLiteral("projectDefaults/") + key;
}

// A value of the expected type, or the default: QVariant conversions would turn a damaged entry
// into 0 or "" silently.
int intOr(const QSettings &s, const QString &key, int fallback)
{
    bool ok = false;
    const int v = s.value(key, fallback).toInt(&ok);
    return ok ? v : fallback;
}

} // namespace

ProjectDefaults ProjectDefaults::load(const QString &projectPath)
{
    QSettings s;
    s.beginGroup(projectGroup(projectPath));
    ProjectDefaults d;
    d.weights = s.value(QStringLiteral("weights")).toString();
    d.vocab = s.value(QStringLiteral("vocab")).toString();
    d.data = s.value(QStringLiteral("data")).toString();
    d.shots = intOr(s, QStringLiteral("shots"), d.shots);
    d.seed = intOr(s, QStringLiteral("seed"), d.seed);
    d.baseToNew = s.value(QStringLiteral("baseToNew"), d.baseToNew).toBool();
    d.method = s.value(QStringLiteral("method"), d.method).toString();
    d.preset = s.value(QStringLiteral("preset")).toString();
    return d;
}

void ProjectDefaults::save(const QString &projectPath) const
{
    QSettings s;
    s.beginGroup(projectGroup(projectPath));
    s.setValue(QStringLiteral("weights"), weights);
    s.setValue(QStringLiteral("vocab"), vocab);
    s.setValue(QStringLiteral("data"), data);
    s.setValue(QStringLiteral("shots"), shots);
    s.setValue(QStringLiteral("seed"), seed);
    s.setValue(QStringLiteral("baseToNew"), baseToNew);
    s.setValue(QStringLiteral("method"), method);
    s.setValue(QStringLiteral("preset"), preset);
}

namespace settings {

QStringList recentProjects()
{
    QStringList list = QSettings().value(kRecentProjects).toStringList();
    list.removeAll(QString());
    while (list.size() > kMaxRecentProjects)
        list.removeLast();
    return list;
}

void addRecentProject(const QString &path)
{
    QStringList list = recentProjects();
    const QString absolute = QFileInfo(path).absoluteFilePath();
    list.removeAll(absolute);
    list.prepend(absolute);
    while (list.size() > kMaxRecentProjects)
        list.removeLast();
    QSettings().setValue(kRecentProjects, list);
}

QByteArray windowGeometry() { return QSettings().value(kWindowGeometry).toByteArray(); }
void setWindowGeometry(const QByteArray &geometry) { QSettings().setValue(kWindowGeometry, geometry); }
QByteArray windowState() { return QSettings().value(kWindowState).toByteArray(); }
void setWindowState(const QByteArray &state) { QSettings().setValue(kWindowState, state); }

QString lastProjectLocation() { return QSettings().value(kLastProjectLocation).toString(); }
void setLastProjectLocation(const QString &folder) { QSettings().setValue(kLastProjectLocation, folder); }

Theme theme()
{
    const QString name = QSettings().value(kTheme).toString();
    if (name == QLatin1String("light"))
        return Theme::Light;
    if (name == QLatin1String("dark"))
        return Theme::Dark;
    return Theme::System;
}

void setTheme(Theme theme)
{
    QSettings().setValue(kTheme, theme == Theme::Light  ? QStringLiteral("light")
                                 : theme == Theme::Dark ? QStringLiteral("dark")
                                                        : QStringLiteral("system"));
}

} // namespace settings
} // namespace sep::ui
