#pragma once
// The first page: recent projects (QSettings), New project, Open project, Open demo project.

#include <QWidget>

class QListWidget;
class QPushButton;
class QLabel;

namespace sep::ui {

class WelcomePage : public QWidget {
    Q_OBJECT
public:
    explicit WelcomePage(QWidget *parent = nullptr);
    void refresh();
    // $SEP_DEMO_PROJECT, else demo/demo.sepproj under the application's data folder; "" when none.
    static QString demoProjectPath();
    QListWidget *recentList() const { return m_recent; }

Q_SIGNALS:
    void newProject();
    void openProject();
    void openPath(const QString &path);

private:
    QListWidget *m_recent;
    QPushButton *m_demo;
    QLabel *m_demoNote;
};

} // namespace sep::ui
