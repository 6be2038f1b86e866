#pragma once
// Everything SEP Studio remembers between sessions, typed, with each QSettings key spelled once,
// here. A value that is missing or of the wrong type reads as its default, so an old or hand-edited
// settings file never breaks the application.
//
//   settings::addRecentProject(path);
//   for (const QString &p : settings::recentProjects()) …
//   auto d = ProjectDefaults::load(projectPath);   d.shots = 4;   d.save(projectPath);
//
// UI thread only (QSettings is per thread).

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace sep::ui {

// Per-project choices the store has no place for (the model and protocol defaults for new runs),
// kept per user under the project's path.
struct ProjectDefaults {
    QString weights, vocab, data;
    int shots = 16;
    int seed = 1;
    bool baseToNew = true;
    QString method = QStringLiteral("sep");
    QString preset;                   // the recipe's name, "" for the method's first
    static ProjectDefaults load(const QString &projectPath);
    void save(const QString &projectPath) const;
};

namespace settings {

// Projects opened, newest first, at most kMaxRecentProjects, as absolute paths.
constexpr int kMaxRecentProjects = 10;
QStringList recentProjects();
void addRecentProject(const QString &path);

// The main window's geometry and its docks' layout (QMainWindow::saveGeometry / saveState).
QByteArray windowGeometry();
void setWindowGeometry(const QByteArray &geometry);
QByteArray windowState();
void setWindowState(const QByteArray &state);

// The folder the last project was created in; "" when none was.
QString lastProjectLocation();
void setLastProjectLocation(const QString &folder);

// The colours of the whole application: the platform's, or SEP Studio's own light or dark palette.
enum class Theme { System, Light, Dark };
Theme theme();
void setTheme(Theme theme);

} // namespace settings
} // namespace sep::ui
