#include "ui/main_window.h"

#include "ui/curves_view.h"
#include "ui/dataset_view.h"
#include "ui/engine_facade.h"
#include "ui/export_dialog.h"
#include "ui/inspector_view.h"
#include "ui/jobs.h"
#include "ui/log_dock.h"
#include "ui/new_project_wizard.h"
#include "ui/project_session.h"
#include "ui/qt_convert.h"
#include "ui/results_view.h"
#include "ui/run_details_dialog.h"
#include "ui/run_progress.h"
#include "ui/runs_model.h"
#include "ui/settings.h"
#include "ui/theme.h"
#include "ui/train_wizard.h"
#include "ui/welcome_page.h"

#include <QAction>
#include <QActionGroup>
#include <QDir>
#include <QTextBrowser>
#include <QFile>
#include <QDialogButtonBox>
#include <QDialog>
#include <QUrl>
#include <QDesktopServices>
#include <QSortFilterProxyModel>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QThread>
#include <QToolBar>
#include <QUndoStack>
#include <QVBoxLayout>

// The icons live in a static library: their resource must be registered by hand (outside any namespace).
static void initSepResources() { Q_INIT_RESOURCE(sep_studio); }

namespace sep::ui {

namespace {
QIcon icon(const char *name) { return QIcon(QStringLiteral(":/icons/%1.svg").arg(QLatin1String(name))); }
} // namespace

MainWindow::MainWindow(QWidget *parent) : QMainWindow(parent)
{
    initSepResources();
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(tr("SEP Studio"));
    setWindowIcon(icon("sep-studio"));
    setAcceptDrops(true);
    setDockNestingEnabled(true);
    m_session = new ProjectSession(this);
    m_undo = new QUndoStack(this);

    m_welcome = new WelcomePage;
    m_tabs = new QTabWidget;
    m_tabs->setObjectName(QStringLiteral("mainTabs"));
    m_tabs->setDocumentMode(true);
    m_dataset = new DatasetView(m_session, m_undo);
    m_curves = new CurvesView;
    m_results = new ResultsView(m_session);
    m_inspector = new InspectorView(m_session);
    m_tabs->addTab(m_dataset, icon("dataset"), tr("Dataset"));
    m_tabs->addTab(m_curves, icon("curves"), tr("Curves"));
    m_tabs->addTab(m_results, icon("results"), tr("Results"));
    m_tabs->addTab(m_inspector, icon("inspect"), tr("Inspector"));
    m_pages = new QStackedWidget;
    m_pages->addWidget(m_welcome);
    m_pages->addWidget(m_tabs);
    setCentralWidget(m_pages);

    buildDocks();
    buildActions();

    connect(m_welcome, &WelcomePage::newProject, this, &MainWindow::newProject);
    connect(m_welcome, &WelcomePage::openProject, this, &MainWindow::openProjectDialog);
    connect(m_welcome, &WelcomePage::openPath, this, [this](const QString &p) { openProject(p); });
    connect(m_session, &ProjectSession::changed, this, &MainWindow::refresh);
    connect(m_results, &ResultsView::inspectImage, this, [this](qint64 run, qint64 evaluation, qint64 position) {
        m_inspector->inspect(run, evaluation, position);
        m_tabs->setCurrentWidget(m_inspector);
    });
    connect(m_inspector, &InspectorView::message, this, [this](const QString &m) { showProblem(m); });
    connect(m_dataset, &DatasetView::message, this, [this](const QString &m) {
        m_log->info(m);
        statusBar()->showMessage(m, 8000);
    });
    connect(m_dataset, &DatasetView::datasetChosen, this, &MainWindow::loadDataset);
    connect(m_dataset, &DatasetView::imageActivated, this, [this](const QString &path) {
        const qint64 run = selectedRun() ? selectedRun() : (m_session->runs().empty() ? 0 : m_session->runs().back().id);
        if (run && m_inspector->inspectPath(run, path))
            m_tabs->setCurrentWidget(m_inspector);
    });

    resize(1320, 860);
    m_defaultState = saveState();
    restoreGeometry(settings::windowGeometry());
    m_projectState = settings::windowState();
    restoreState(m_projectState);
    updateActions();
}

MainWindow::~MainWindow()
{
    // A running job stops at its next check; wait for it so no thread outlives the application.
    if (m_train) {
        QThread *worker = m_train->thread();
        m_train->cancel();
        if (worker != thread())
            worker->wait(60000);
    }
}

void MainWindow::buildDocks()
{
    m_runsModel = new RunsModel(this);
    m_runsView = new QTableView;
    m_runsView->setObjectName(QStringLiteral("runsTable"));
    // Newest first; any column sorts (by number where it is one).
    m_runsSorted = new QSortFilterProxyModel(this);
    m_runsSorted->setSourceModel(m_runsModel);
    m_runsSorted->setSortRole(RunsModel::SortRole);
    m_runsView->setModel(m_runsSorted);
    m_runsView->setSortingEnabled(true);
    m_runsView->sortByColumn(RunsModel::Id, Qt::DescendingOrder);
    m_runsView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_runsView->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_runsView->verticalHeader()->hide();
    m_runsView->horizontalHeader()->setStretchLastSection(true);
    m_runsView->setContextMenuPolicy(Qt::ActionsContextMenu);
    m_runsView->setAlternatingRowColors(true);
    m_runsDock = new QDockWidget(tr("Runs"), this);
    m_runsDock->setObjectName(QStringLiteral("runsDock"));
    m_runsDock->setWidget(m_runsView);
    addDockWidget(Qt::BottomDockWidgetArea, m_runsDock);

    auto *progress = new QWidget;
    m_progressTitle = new QLabel(tr("No job is running."));
    m_progressTitle->setWordWrap(true);
    m_progressBar = new QProgressBar;
    m_progressBar->setObjectName(QStringLiteral("progressBar"));
    m_progressBar->hide();   // shown while a job runs
    m_progressText = new QLabel;
    m_progressText->setWordWrap(true);
    m_cancelButton = new QPushButton(icon("cancel"), tr("Cancel"));
    m_cancelButton->setObjectName(QStringLiteral("cancelButton"));
    m_resumeButton = new QPushButton(icon("resume"), tr("Resume selected run"));
    m_resumeButton->setObjectName(QStringLiteral("resumeButton"));
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_cancelButton);
    buttons->addWidget(m_resumeButton);
    auto *pl = new QVBoxLayout(progress);
    pl->addWidget(m_progressTitle);
    pl->addWidget(m_progressBar);
    pl->addWidget(m_progressText);
    pl->addLayout(buttons);
    pl->addStretch();
    m_progressDock = new QDockWidget(tr("Progress"), this);
    m_progressDock->setObjectName(QStringLiteral("progressDock"));
    m_progressDock->setWidget(progress);
    addDockWidget(Qt::BottomDockWidgetArea, m_progressDock);
    splitDockWidget(m_runsDock, m_progressDock, Qt::Horizontal);

    m_log = new LogDock(this);
    addDockWidget(Qt::BottomDockWidgetArea, m_log);
    tabifyDockWidget(m_runsDock, m_log);
    m_runsDock->raise();
    resizeDocks({m_runsDock, m_progressDock}, {900, 320}, Qt::Horizontal);
    resizeDocks({m_runsDock}, {220}, Qt::Vertical);

    m_statusBar = new QProgressBar;
    m_statusBar->setMaximumWidth(220);
    m_statusBar->setVisible(false);
    m_statusEta = new QLabel;
    statusBar()->addPermanentWidget(m_statusEta);
    statusBar()->addPermanentWidget(m_statusBar);

    connect(m_cancelButton, &QPushButton::clicked, this, &MainWindow::cancelTraining);
    connect(m_resumeButton, &QPushButton::clicked, this, [this] { resumeRun(selectedRun()); });
    connect(m_runsView->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        updateActions();
        loadCurves();
        // Results show the run picked in the Runs dock, as the curves do; the Dataset tab marks its
        // shots and its tested images.
        if (const qint64 run = selectedRun(); run && run != m_results->currentRun())
            m_results->showRun(run);
        markRunInDataset(selectedRun());
    });
    connect(m_runsView, &QTableView::doubleClicked, this, [this](const QModelIndex &i) {
        m_results->showRun(i.data(RunsModel::RunIdRole).toLongLong());
        m_tabs->setCurrentWidget(m_results);
    });
}

void MainWindow::buildActions()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    QAction *newAct = file->addAction(icon("new"), tr("&New project…"), this, &MainWindow::newProject);
    newAct->setShortcut(QKeySequence::New);
    QAction *openAct = file->addAction(icon("open"), tr("&Open project…"), this, &MainWindow::openProjectDialog);
    openAct->setShortcut(QKeySequence::Open);
    m_recentMenu = file->addMenu(tr("Open &recent"));
    connect(m_recentMenu, &QMenu::aboutToShow, this, &MainWindow::updateRecentMenu);
    m_closeAction = file->addAction(tr("&Close project"), this, &MainWindow::closeProject);
    m_closeAction->setShortcut(QKeySequence::Close);
    file->addSeparator();
    m_exportAction = file->addAction(icon("export"), tr("&Export tuned model…"), this, &MainWindow::exportDialog);
    m_exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu *edit = menuBar()->addMenu(tr("&Edit"));
    QAction *undo = m_undo->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    QAction *redo = m_undo->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);

    QMenu *run = menuBar()->addMenu(tr("&Run"));
    m_trainAction = run->addAction(icon("train"), tr("&Train…"), this, [this] { trainDialog(); });
    m_trainAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_T));
    m_cancelAction = run->addAction(icon("cancel"), tr("&Cancel training"), this, &MainWindow::cancelTraining);
    m_cancelAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
    m_resumeAction = run->addAction(icon("resume"), tr("&Resume selected run"), this, [this] { resumeRun(selectedRun()); });
    QAction *refreshAct = run->addAction(tr("Re&fresh"), this, &MainWindow::refresh);
    refreshAct->setShortcut(QKeySequence::Refresh);
    m_runsView->addAction(m_resumeAction);
    m_runsView->addAction(m_exportAction);
    m_trainAgainAction = new QAction(icon("train"), tr("Train &again with these settings…"), this);
    connect(m_trainAgainAction, &QAction::triggered, this, [this] { trainDialog(selectedRun()); });
    m_openFolderAction = new QAction(tr("Open run &folder"), this);
    connect(m_openFolderAction, &QAction::triggered, this, [this] {
        if (const projects::RunInfo *r = m_session->run(selectedRun()))
            QDesktopServices::openUrl(QUrl::fromLocalFile(qs(r->folder)));
    });
    m_detailsAction = new QAction(tr("Run &details, name and notes…"), this);
    m_detailsAction->setShortcut(QKeySequence(Qt::Key_F2));
    m_detailsAction->setShortcutContext(Qt::WidgetShortcut);
    connect(m_detailsAction, &QAction::triggered, this, [this] { runDetailsDialog(selectedRun()); });
    m_deleteRunAction = new QAction(tr("&Delete run…"), this);
    m_deleteRunAction->setShortcut(QKeySequence::Delete);
    m_deleteRunAction->setShortcutContext(Qt::WidgetShortcut);
    connect(m_deleteRunAction, &QAction::triggered, this, [this] { deleteRun(selectedRun()); });
    for (QAction *a : {m_detailsAction, m_trainAgainAction, m_openFolderAction, m_deleteRunAction})
        m_runsView->addAction(a);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    // Keyboard-only use: every view and the runs list one shortcut away.
    for (int i = 0; i < m_tabs->count(); ++i) {
        QAction *go = view->addAction(m_tabs->tabIcon(i), tr("Go to %1").arg(m_tabs->tabText(i)), this, [this, i] {
            if (m_session->isOpen())
                m_tabs->setCurrentIndex(i);
        });
        go->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
    }
    QAction *goRuns = view->addAction(tr("Go to the runs list"), this, [this] {
        if (!m_session->isOpen())
            return;
        m_runsDock->show();
        m_runsDock->raise();
        m_runsView->setFocus(Qt::ShortcutFocusReason);
        if (!m_runsView->currentIndex().isValid() && m_runsSorted->rowCount() > 0)
            m_runsView->setCurrentIndex(m_runsSorted->index(0, 0));
    });
    goRuns->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    view->addSeparator();
    view->addAction(m_runsDock->toggleViewAction());
    view->addAction(m_progressDock->toggleViewAction());
    view->addAction(m_log->toggleViewAction());
    view->addSeparator();
    view->addAction(tr("Restore default layout"), this, [this] { restoreState(m_defaultState); });
    QMenu *theme = view->addMenu(tr("&Theme"));
    theme->setObjectName(QStringLiteral("themeMenu"));
    auto *themes = new QActionGroup(this);
    for (const auto &[value, title] : {std::pair{settings::Theme::System, tr("&System")},
                                       {settings::Theme::Light, tr("&Light")},
                                       {settings::Theme::Dark, tr("&Dark")}}) {
        QAction *a = theme->addAction(title);
        a->setCheckable(true);
        a->setChecked(settings::theme() == value);
        themes->addAction(a);
        connect(a, &QAction::triggered, this, [value = value] {
            settings::setTheme(value);
            applyTheme(value);
        });
    }

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    QAction *guide = help->addAction(tr("&User guide"), this, &MainWindow::showUserGuide);
    guide->setShortcut(QKeySequence::HelpContents);
    help->addAction(tr("&Keyboard shortcuts"), this, [this] {
        QString html = QStringLiteral("<table cellspacing='6'>");
        for (const auto &[action, keys] : shortcuts())
            html += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>").arg(keys.toHtmlEscaped(), action.toHtmlEscaped());
        html += QStringLiteral("</table><p>%1</p>").arg(tr("In the Runs list: Delete deletes the selected run; the right mouse "
                                                          "button shows what else can be done with it."));
        QMessageBox::information(this, tr("Keyboard shortcuts"), html);
    });
    help->addSeparator();
    help->addAction(tr("&About SEP Studio"), this, [this] {
        QMessageBox::about(this, tr("About SEP Studio"),
                           tr("<h3>SEP Studio %1</h3><p>Few-shot prompt tuning of CLIP models: zero-shot CLIP, CoOp and "
                              "SEP (Self-Enhanced Prompt Tuning).</p><p>Every operation has a command-line twin: <tt>sep</tt>.</p>")
                               .arg(QApplication::applicationVersion()));
    });

    auto *tb = addToolBar(tr("Main"));
    tb->setObjectName(QStringLiteral("mainToolBar"));
    tb->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    tb->addAction(newAct);
    tb->addAction(openAct);
    tb->addSeparator();
    tb->addAction(m_trainAction);
    tb->addAction(m_cancelAction);
    tb->addAction(m_resumeAction);
    tb->addSeparator();
    tb->addAction(m_exportAction);
}

void MainWindow::updateRecentMenu()
{
    m_recentMenu->clear();
    for (const QString &p : settings::recentProjects())
        m_recentMenu->addAction(p, this, [this, p] { openProject(p); });
    if (m_recentMenu->isEmpty())
        m_recentMenu->addAction(tr("(none)"))->setEnabled(false);
}

void MainWindow::updateActions()
{
    const bool open = m_session->isOpen();
    // The docks belong to a project; the welcome page stands alone.
    if (open != m_docksShown) {
        m_docksShown = open;
        if (open) {
            restoreState(m_projectState.isEmpty() ? m_defaultState : m_projectState);
        } else {
            m_projectState = saveState();
            for (QDockWidget *d : {m_runsDock, m_progressDock, static_cast<QDockWidget *>(m_log)})
                d->hide();
        }
    }
    const qint64 run = selectedRun();
    const projects::RunInfo *info = m_session->run(run);
    const bool resumable = info && info->status != "finished" && (info->interrupted || info->status == "cancelled" || info->status == "failed");
    m_trainAction->setEnabled(open && !m_train);
    m_exportAction->setEnabled(open);
    m_closeAction->setEnabled(open);
    m_cancelAction->setEnabled(m_train != nullptr);
    m_cancelButton->setEnabled(m_train != nullptr);
    m_resumeAction->setEnabled(open && !m_train && resumable);
    m_resumeButton->setEnabled(open && !m_train && resumable);
    m_trainAgainAction->setEnabled(open && !m_train && info);
    m_openFolderAction->setEnabled(info != nullptr);
    m_detailsAction->setEnabled(info != nullptr);
    m_deleteRunAction->setEnabled(info && !(m_train && run == m_liveRun));
}

void MainWindow::showUserGuide()
{
    QFile file(QStringLiteral(":/docs/USER_GUIDE.md"));
    file.open(QIODevice::ReadOnly);
    auto *dialog = new QDialog(this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setObjectName(QStringLiteral("userGuide"));
    dialog->setWindowTitle(tr("SEP Studio user guide"));
    auto *text = new QTextBrowser;
    text->setMarkdown(QString::fromUtf8(file.readAll()));
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    auto *layout = new QVBoxLayout(dialog);
    layout->addWidget(text);
    layout->addWidget(buttons);
    dialog->resize(std::min(760, width()), std::min(640, height()));
    dialog->show();
}

std::vector<std::pair<QString, QString>> MainWindow::shortcuts() const
{
    // From the menus themselves, so the list cannot drift from what the keys do.
    std::vector<std::pair<QString, QString>> out;
    for (QAction *menu : menuBar()->actions())
        if (menu->menu())
            for (QAction *a : menu->menu()->actions())
                if (!a->shortcut().isEmpty())
                    out.emplace_back(a->text().remove(QLatin1Char('&')), a->shortcut().toString(QKeySequence::NativeText));
    // And the runs list's own (its context menu).
    for (QAction *a : m_runsView->actions())
        if (!a->shortcut().isEmpty() && a->shortcutContext() == Qt::WidgetShortcut)
            out.emplace_back(tr("%1 (runs list)").arg(a->text().remove(QLatin1Char('&'))),
                             a->shortcut().toString(QKeySequence::NativeText));
    return out;
}

QString MainWindow::statusText() const { return m_progressTitle->text() + QLatin1Char('\n') + m_progressText->text(); }

qint64 MainWindow::selectedRun() const
{
    const auto rows = m_runsView->selectionModel()->selectedRows();
    return rows.isEmpty() ? 0 : rows.first().data(RunsModel::RunIdRole).toLongLong();
}

void MainWindow::selectRun(qint64 runId)
{
    const int row = m_runsModel->rowOf(runId);
    if (row >= 0)
        m_runsView->selectRow(m_runsSorted->mapFromSource(m_runsModel->index(row, 0)).row());
}

void MainWindow::showProblem(const QString &text)
{
    m_log->warning(text);
    statusBar()->showMessage(text, 10000);
}

bool MainWindow::openProject(const QString &path)
{
    if (path.isEmpty())
        return false;
    if (m_train) {
        showProblem(tr("A run is training; cancel it before opening another project."));
        return false;
    }
    QString error;
    if (!m_session->open(path, &error)) {
        m_log->error(error);
        statusBar()->showMessage(error, 15000);
        if (m_interactive)
            QMessageBox::warning(this, tr("Open project"), error);
        m_welcome->refresh();
        return false;
    }
    m_undo->clear();
    for (const QString &n : m_session->notes())
        m_log->info(n);
    m_log->info(tr("opened %1").arg(m_session->path()));
    setWindowTitle(tr("%1 — SEP Studio").arg(m_session->name()));
    m_pages->setCurrentWidget(m_tabs);
    m_curves->clear();   // the previous project's runs; this one's are loaded below
    loadCurves();
    loadDataset();
    m_tabs->setCurrentWidget(m_session->runs().empty() ? static_cast<QWidget *>(m_dataset) : m_curves);
    updateActions();
    return true;
}

void MainWindow::closeProject()
{
    if (m_train) {
        showProblem(tr("A run is training; cancel it before closing the project."));
        return;
    }
    m_session->close();
    m_runsModel->setRuns({});
    m_curves->clear();
    m_dataset->clear();
    ++m_datasetRequest;   // a scan still running belongs to the project closed
    m_undo->clear();
    setWindowTitle(tr("SEP Studio"));
    m_welcome->refresh();
    m_pages->setCurrentWidget(m_welcome);
    updateActions();
}

void MainWindow::refresh()
{
    if (!m_session->isOpen())
        return;
    const qint64 selected = selectedRun();
    m_runsModel->setRuns(m_session->runs());
    m_runsView->resizeColumnsToContents();
    if (selected)
        selectRun(selected);
    loadCurves();
    updateActions();
}

void MainWindow::loadCurves()
{
    if (!m_session->store())
        return;
    // The selected runs, or the most recent five, plus the live one.
    QList<qint64> wanted;
    for (const auto &i : m_runsView->selectionModel()->selectedRows())
        wanted << i.data(RunsModel::RunIdRole).toLongLong();
    if (wanted.isEmpty())
        for (auto it = m_session->runs().rbegin(); it != m_session->runs().rend() && wanted.size() < 5; ++it)
            wanted << it->id;
    if (m_liveRun && !wanted.contains(m_liveRun))
        wanted << m_liveRun;
    for (int64_t id : m_curves->runs())
        if (!wanted.contains(id))
            m_curves->removeRun(id);
    for (qint64 id : wanted) {
        const projects::RunInfo *r = m_session->run(id);
        if (!r || (id == m_liveRun && m_curves->pointCount(id) > 0))
            continue;   // the live run's points come from its job
        try {
            m_curves->setRun(id, tr("run %1 · %2 · seed %3").arg(id).arg(qs(facade::methodTitle(r->method))).arg(r->seed),
                             m_session->store()->epochs(id), r->accuracy);
        } catch (const std::exception &e) {
            m_log->warning(qs(e.what()));
        }
    }
}

void MainWindow::loadDataset(qint64 datasetId)
{
    const auto &datasets = m_session->datasets();
    if (datasets.empty()) {
        m_dataset->clear();
        return;
    }
    m_dataset->setDatasets(datasets);
    auto chosen = std::find_if(datasets.begin(), datasets.end(), [&](const projects::DatasetInfo &d) { return d.id == datasetId; });
    const auto d = chosen != datasets.end() ? *chosen : datasets.front();
    QHash<QString, QString> unreadable;
    if (d.lastScan.contains("unreadable"))
        for (const auto &u : d.lastScan.at("unreadable"))
            if (u.contains("path"))
                unreadable.insert(qs(u.at("path").get<std::string>()), qs(u.value("reason", std::string())));
    auto *job = new ScanFolderJob(qs(d.root));
    // Only the latest request is shown: a scan that ends after another project or dataset was chosen
    // is dropped.
    const quint64 request = ++m_datasetRequest;
    connect(job, &Job::done, this, [this, job, unreadable, request, id = d.id](Job::Status status, const QString &message) {
        if (request != m_datasetRequest)
            return;
        if (status == Job::Succeeded)
            m_dataset->setDataset(id, job->folder, unreadable);
        else
            showProblem(tr("The dataset could not be listed: %1").arg(message));
    });
    startJob(job);
}

void MainWindow::newProject()
{
    auto *wizard = new NewProjectWizard(this);
    wizard->setAttribute(Qt::WA_DeleteOnClose);
    connect(wizard, &NewProjectWizard::projectCreated, this, [this](const QString &path, const QString &summary) {
        m_log->info(tr("created %1").arg(summary));
        openProject(path);
    });
    wizard->open();
}

void MainWindow::openProjectDialog()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open project"), QString(), tr("SEP Studio projects (*.sepproj)"));
    if (!path.isEmpty())
        openProject(path);
}

void MainWindow::markRunInDataset(qint64 runId)
{
    const projects::RunInfo *r = m_session->run(runId);
    if (!r || !m_session->store()) {
        m_dataset->setRunMarks(0, {}, {});
        return;
    }
    QSet<QString> shots;
    QHash<QString, DatasetView::Tested> tested;
    try {
        auto *store = m_session->store();
        for (const auto &p : store->trainingImagePaths(runId))
            shots.insert(QDir::cleanPath(qs(p)));
        const QDir data(qs(r->spec.is_object() ? r->spec.value("data", std::string()) : std::string()));
        for (const auto &e : m_session->evaluations(runId))
            for (const auto &p : m_session->predictions(e.id)) {
                if (p.top.empty())
                    continue;
                const auto name = [&](int64_t i) {
                    return i >= 0 && i < static_cast<int64_t>(e.classes.size()) ? qs(e.classes[static_cast<size_t>(i)]) : QString();
                };
                tested.insert(QDir::cleanPath(data.absoluteFilePath(qs(p.path))), {name(p.top.front()), p.top.front() == p.label});
            }
    } catch (const std::exception &e) {
        m_log->warning(qs(e.what()));
    }
    m_dataset->setRunMarks(runId, shots, tested);
}

void MainWindow::runDetailsDialog(qint64 runId)
{
    // A copy: the session's list may be refreshed (a live run) while the dialog is open.
    const projects::RunInfo *found = m_session->run(runId);
    if (!found || !m_session->store())
        return;
    const projects::RunInfo run = *found;
    std::vector<projects::RecordLine> record;
    try {
        record = m_session->store()->reproducibilityRecord(runId);
    } catch (const std::exception &e) {
        showProblem(tr("Run %1's record cannot be read: %2").arg(runId).arg(qs(e.what())));
        return;
    }
    RunDetailsDialog dialog(run, record, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    if (dialog.name() == qs(run.name) && dialog.notes() == qs(run.notes))
        return;
    QString error;
    if (!m_session->describeRun(runId, dialog.name(), dialog.notes(), &error))
        showProblem(error);
}

void MainWindow::deleteRun(qint64 runId)
{
    const projects::RunInfo *r = m_session->run(runId);
    if (!r)
        return;
    if (runId == m_liveRun && m_train) {
        showProblem(tr("Run %1 is training; cancel it before deleting it.").arg(runId));
        return;
    }
    if (m_interactive
        && QMessageBox::question(this, tr("Delete run"),
                                 tr("Delete run %1 (%2, seed %3)? Its records and its folder, with checkpoints and "
                                    "evaluations, are removed. This cannot be undone.")
                                     .arg(runId)
                                     .arg(qs(facade::methodTitle(r->method)))
                                     .arg(r->seed))
               != QMessageBox::Yes)
        return;
    QString error;
    if (!m_session->removeRun(runId, &error)) {
        showProblem(error);
        return;
    }
    m_log->info(tr("run %1 deleted").arg(runId));
    if (m_results->currentRun() == runId) {
        m_results->clear();
        m_results->refresh();   // clear() forgot the summary too; the session's refresh came before it
    }
    if (m_inspector->currentRun() == runId)
        m_inspector->clear();
}

void MainWindow::trainDialog(qint64 settingsOfRun)
{
    if (!m_session->isOpen() || m_train)
        return;
    ProjectDefaults defaults = ProjectDefaults::load(m_session->path());
    if (defaults.weights.isEmpty() && !m_session->runs().empty()) {
        // A project made elsewhere (sep project, another user): start from its latest run's model.
        const projects::RunInfo *latest = &m_session->runs().back();
        for (const auto &r : m_session->runs())
            if (r.status == "finished")
                latest = &r;   // runs come oldest first: the last finished one wins
        const auto &spec = latest->spec;
        defaults.weights = qs(spec.value("weights", std::string()));
        defaults.vocab = qs(spec.value("vocab", std::string()));
        defaults.data = qs(spec.value("data", std::string()));
    }
    auto *wizard = new TrainWizard(m_session->datasets(), defaults, this);
    wizard->setAttribute(Qt::WA_DeleteOnClose);
    if (const projects::RunInfo *r = m_session->run(settingsOfRun))
        wizard->applySpec(r->spec);
    connect(wizard, &QWizard::accepted, this, [this, wizard] {
        wizard->choices().save(m_session->path());
        startTraining(qs(wizard->spec().dump()));
    });
    wizard->open();
}

void MainWindow::exportDialog()
{
    if (!m_session->isOpen())
        return;
    auto *dialog = new ExportDialog(m_session->path(), m_session->runs(), selectedRun(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &ExportDialog::log, m_log, &LogDock::append);
    connect(dialog, &ExportDialog::exported, this, [this](const QString &p) { m_log->info(tr("exported %1").arg(p)); });
    dialog->open();
}

bool MainWindow::startTraining(const QString &specJson)
{
    if (!m_session->isOpen() || m_train)
        return false;
    facade::TrainRequest request;
    request.project = ss(m_session->path());
    try {
        request.spec = facade::checkSpec(nlohmann::json::parse(ss(specJson)));
    } catch (const std::exception &e) {
        showProblem(qs(e.what()));
        return false;
    }
    startJobFor(new TrainJob(request));
    return true;
}

bool MainWindow::resumeRun(qint64 runId)
{
    if (!m_session->isOpen() || m_train || runId <= 0)
        return false;
    facade::TrainRequest request;
    request.project = ss(m_session->path());
    request.resumeRun = runId;
    m_liveRun = runId;
    startJobFor(new TrainJob(request));
    return true;
}

void MainWindow::startJobFor(TrainJob *job)
{
    m_train = job;
    m_progressTitle->setText(job->title());
    m_progressBar->show();
    m_progressBar->setRange(0, 0);
    m_progressText->setText(tr("loading the model and images …"));
    m_statusBar->setVisible(true);
    m_statusBar->setRange(0, 0);
    m_progressDock->show();
    connect(job, &Job::logged, m_log, &LogDock::append);
    connect(job, &TrainJob::runCreated, this, [this](qint64 id) {
        m_liveRun = id;
        m_progressTitle->setText(tr("Run %1").arg(id));
        m_session->refresh();
        selectRun(id);
    });
    connect(job, &TrainJob::epochsRecorded, this, [this](qint64 id, const std::vector<projects::EpochRow> &rows) {
        const projects::RunInfo *r = m_session->run(id);
        m_curves->setRun(id, tr("run %1 · %2 · seed %3").arg(id).arg(r ? qs(facade::methodTitle(r->method)) : QString()).arg(r ? r->seed : 0),
                         rows);
        m_session->refresh();   // epochs and accuracy columns of the runs table
    });
    // One overall progress: training, then the final evaluation (ui/run_progress.h).
    std::string method;
    bool baseToNew = false;
    if (const auto &r = job->request(); r.resumeRun > 0) {
        if (const projects::RunInfo *info = m_session->run(r.resumeRun)) {
            method = info->method;
            baseToNew = info->baseToNew;
        }
    } else {
        method = r.spec.value("method", std::string());
        baseToNew = r.spec.value("base_to_new", false);
    }
    m_runProgress = std::make_unique<RunProgress>(baseToNew ? 2 : 1, facade::methodTrains(method));
    m_runClock.start();
    connect(job, &Job::progress, this, [this](qint64 done, qint64 total, const QString &what, double left) {
        const auto p = m_runProgress->update(done, total, what, left, m_runClock.elapsed() / 1000.0);
        for (QProgressBar *bar : {m_progressBar, m_statusBar}) {
            bar->setRange(0, 1000);
            bar->setValue(p.permille);
        }
        const QString eta = p.secondsLeft >= 0 ? tr("%1 left").arg(duration(p.secondsLeft)) : QString();
        m_progressText->setText(p.text + (eta.isEmpty() ? QString() : QStringLiteral("\n") + eta));
        m_statusEta->setText(eta.isEmpty() ? p.text : QStringLiteral("%1 · %2").arg(p.text, eta));
        m_runsModel->setLiveStatus(m_liveRun, QStringLiteral("%1%").arg(p.permille / 10));
        Q_EMIT trainingProgress(p.permille, 1000);
    });
    connect(job, &Job::done, this, [this, job](Job::Status status, const QString &message) {
        const qint64 run = job->outcome.runId ? job->outcome.runId : m_liveRun;
        m_train = nullptr;
        m_statusBar->setVisible(false);
        m_statusEta->clear();
        // A cancelled or failed run keeps the bar where it stopped; a finished one fills it.
        m_progressBar->setRange(0, 1000);
        m_progressBar->setValue(status == Job::Succeeded ? 1000 : (m_runProgress ? m_runProgress->state().permille : 0));
        const QString statusText = status == Job::Succeeded ? QStringLiteral("finished")
                                   : status == Job::Cancelled ? QStringLiteral("cancelled")
                                                              : QStringLiteral("failed");
        m_progressTitle->setText(tr("Run %1 %2").arg(run).arg(statusText));
        m_progressText->setText(status == Job::Cancelled ? tr("The last finished epoch's checkpoint is kept: select the run and Resume.")
                                                         : message);
        if (status == Job::Failed)
            m_log->error(tr("run %1 failed: %2").arg(run).arg(message));
        else
            m_log->info(tr("run %1 %2").arg(run).arg(statusText));
        m_runsModel->setLiveStatus(0, {});
        m_session->refresh();
        m_liveRun = 0;
        if (status == Job::Succeeded)
            m_results->showRun(run);
        updateActions();
        Q_EMIT trainingFinished(run, statusText, message);
    });
    updateActions();
    startJob(job);
}

void MainWindow::cancelTraining()
{
    if (!m_train)
        return;
    m_train->cancel();
    m_progressText->setText(tr("cancelling after the current step …"));
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    if (m_train) {
        const auto answer = QMessageBox::question(this, tr("Quit"),
                                                  tr("A run is training. Cancel it and quit? Its last finished epoch is kept and it can be resumed later."));
        if (answer != QMessageBox::Yes) {
            event->ignore();
            return;
        }
        m_train->cancel();
    }
    settings::setWindowGeometry(saveGeometry());
    settings::setWindowState(m_session->isOpen() ? saveState() : m_projectState);
    QMainWindow::closeEvent(event);
}

void MainWindow::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent *event)
{
    const auto urls = event->mimeData()->urls();
    if (urls.isEmpty())
        return;
    const QString path = urls.first().toLocalFile();
    if (!path.endsWith(QLatin1String(".sepproj"))) {
        showProblem(tr("%1 is not a SEP Studio project (.sepproj). To start a project from an image folder, use File ▸ New project.").arg(path));
        return;
    }
    openProject(path);
}

} // namespace sep::ui
