#pragma once
// Export: writes a finished run's tuned model as a bundle (engine/export/bundle.h, *.sepmodel) in a
// job, and shows where it went.

#include "projects/project_store.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QProgressBar;

namespace sep::ui {

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    ExportDialog(const QString &project, const std::vector<projects::RunInfo> &runs, int64_t preselect, QWidget *parent = nullptr);
    void setOutput(const QString &path);
    QString output() const;
    QString resultText() const;
    bool succeeded() const { return m_ok; }
    // The shell command that runs the bundle (paths quoted for a POSIX shell).
    static QString predictCommand(const QString &bundle, const QString &weights);

public Q_SLOTS:
    void startExport();

Q_SIGNALS:
    void exported(const QString &path);
    void log(int level, const QString &message);

private:
    void suggestPath();
    void runChanged();
    QString m_project;
    std::vector<projects::RunInfo> m_runs;
    QComboBox *m_run;
    QLineEdit *m_out, *m_extraClasses;
    QCheckBox *m_backbone, *m_zip, *m_newClasses;
    QLabel *m_result;
    QProgressBar *m_progress;
    QPushButton *m_export, *m_openFolder;
    bool m_ok = false;
};

} // namespace sep::ui
