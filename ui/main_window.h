#pragma once
// SEP Studio's main window: the welcome page until a project is open, then tabs (Dataset, Curves,
// Results, Inspector) with docks for the runs, the progress of the running job and the log. Dock
// layout and window geometry persist (QSettings); project files can be dropped on the window.
// Training runs in a TrainJob (jobs.h) on its own thread; the window only receives its signals.

#include "ui/run_progress.h"

#include <QElapsedTimer>
#include <QMainWindow>

#include <memory>
#include <utility>
#include <vector>

class QAction;
class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QSortFilterProxyModel;
class QPushButton;
class QStackedWidget;
class QTabWidget;
class QTableView;
class QUndoStack;

namespace sep::ui {

class CurvesView;
class DatasetView;
class InspectorView;
class LogDock;
class ProjectSession;
class ResultsView;
class RunsModel;
class TrainJob;
class WelcomePage;
struct TrainRequestHolder;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    bool openProject(const QString &path);
    void closeProject();
    ProjectSession *session() const { return m_session; }
    // Off in tests and scripted runs: problems go to the log and status bar only, no modal boxes.
    void setInteractive(bool on) { m_interactive = on; }

    // Starts a run (spec as JSON text, train::RunSpec::toJson) or resumes one; false when a job runs.
    bool startTraining(const QString &specJson);
    bool resumeRun(qint64 runId);
    void cancelTraining();
    bool isTraining() const { return m_train != nullptr; }
    qint64 liveRun() const { return m_liveRun; }

    // For tests and screenshots.
    QTabWidget *tabs() const { return m_tabs; }
    QStackedWidget *pages() const { return m_pages; }
    RunsModel *runsModel() const { return m_runsModel; }
    QTableView *runsView() const { return m_runsView; }
    CurvesView *curves() const { return m_curves; }
    ResultsView *results() const { return m_results; }
    InspectorView *inspector() const { return m_inspector; }
    DatasetView *datasetView() const { return m_dataset; }
    WelcomePage *welcome() const { return m_welcome; }
    LogDock *logDock() const { return m_log; }
    QUndoStack *undoStack() const { return m_undo; }
    QString statusText() const;
    // Every menu action with a shortcut: (what it does, its keys), as Help ▸ Keyboard shortcuts lists.
    std::vector<std::pair<QString, QString>> shortcuts() const;
    qint64 selectedRun() const;
    void selectRun(qint64 runId);

public Q_SLOTS:
    void newProject();
    void openProjectDialog();
    // The train wizard; with a run, filled in with every setting of that run.
    void trainDialog(qint64 settingsOfRun = 0);
    // Deletes a run after asking (when interactive); refused while it trains.
    void deleteRun(qint64 runId);
    // A run's name and notes (edited here) and its reproducibility record (RunDetailsDialog).
    void runDetailsDialog(qint64 runId);
    void showUserGuide();   // docs/USER_GUIDE.md, embedded
    void markRunInDataset(qint64 runId);   // the run's shots and tested images in the Dataset tab
    void exportDialog();
    void refresh();

Q_SIGNALS:
    void trainingFinished(qint64 runId, const QString &status, const QString &message);
    void trainingProgress(qint64 done, qint64 total);

protected:
    void closeEvent(QCloseEvent *event) override;
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void buildActions();
    void buildDocks();
    void updateActions();
    void updateRecentMenu();
    void loadCurves();
    // Lists the project's datasets and scans one (in a job) for the Dataset tab: `datasetId`, or the
    // first when there is no such dataset.
    void loadDataset(qint64 datasetId = 0);
    void showProblem(const QString &text);
    void startJobFor(TrainJob *job);

    ProjectSession *m_session;
    QUndoStack *m_undo;
    QStackedWidget *m_pages;
    WelcomePage *m_welcome;
    QTabWidget *m_tabs;
    DatasetView *m_dataset;
    CurvesView *m_curves;
    ResultsView *m_results;
    InspectorView *m_inspector;
    LogDock *m_log;
    QDockWidget *m_runsDock, *m_progressDock;
    RunsModel *m_runsModel;
    QTableView *m_runsView;
    QSortFilterProxyModel *m_runsSorted;
    QAction *m_trainAgainAction, *m_openFolderAction, *m_deleteRunAction, *m_detailsAction;
    quint64 m_datasetRequest = 0;
    std::unique_ptr<RunProgress> m_runProgress;   // the live run's overall progress
    QElapsedTimer m_runClock;   // counts dataset loads; a scan is shown only if it is the latest
    QLabel *m_progressTitle, *m_progressText, *m_statusEta;
    QProgressBar *m_progressBar, *m_statusBar;
    QPushButton *m_cancelButton, *m_resumeButton;
    QMenu *m_recentMenu;
    QAction *m_trainAction, *m_exportAction, *m_cancelAction, *m_resumeAction, *m_closeAction;
    TrainJob *m_train = nullptr;
    qint64 m_liveRun = 0;
    QByteArray m_defaultState;
    bool m_interactive = true;
    bool m_docksShown = true;
    QByteArray m_projectState;   // dock layout while a project is open
};

} // namespace sep::ui
