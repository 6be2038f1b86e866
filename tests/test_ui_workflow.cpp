// The desktop application end to end on a tiny model: a training worker runs to the end with
// progress and curves, cancel stops it (status cancelled) and resume finishes it; the main window
// opens the project and shows its runs, curves, results and an image in the inspector; export writes
// a bundle; screenshots of the main views are written to the build folder and must show content.
#include "engine/export/bundle.h"
#include "engine/core/runtime.h"
#include "engine/train/run.h"
#include "support/fixtures.h"
#include "support/folder_snapshot.h"
#include "ui/confusion_heatmap.h"
#include "ui/confusion_model.h"
#include "ui/curves_view.h"
#include "ui/dataset_view.h"
#include "ui/engine_facade.h"
#include "ui/export_dialog.h"
#include "ui/inspector_view.h"
#include "ui/jobs.h"
#include "ui/main_window.h"
#include "ui/train_wizard.h"
#include "ui/translations.h"
#include "ui/project_session.h"
#include "ui/results_view.h"
#include "ui/runs_model.h"

#include <QApplication>
#include <QLineEdit>
#include <QDialog>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTextBrowser>
#include <QTimer>
#include <QTemporaryDir>
#include <QUndoStack>
#include <QComboBox>
#include <QtTest>

using namespace sep;
using namespace sep::ui;

namespace {

int distinctColours(const QImage &image)
{
    QSet<QRgb> colours;
    const QImage small = image.scaled(240, 160);
    for (int y = 0; y < small.height(); ++y)
        for (int x = 0; x < small.width(); ++x)
            colours.insert(small.pixel(x, y));
    return colours.size();
}

} // namespace

class TestUiWorkflow : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void workerTrainsToTheEnd();
    void cancelThenResume();
    void failureBecomesASignal();
    void windowShowsTheProject();
    void inspectorRendersSelection();
    void exportWritesBundle();
    void screenshotsShowContent();
    void anotherProjectClearsEveryView();
    void classRenameStaysInTheProject();
    void datasetTabShowsEveryDataset();
    void runsDockNewestFirstDeleteAndTrainAgain();
    void keyboardOnlyReachesViewsRunsAndDetails();
    void helpHasGuideAndShortcuts();
    void resultsOfAThousandClasses();
    void trueClassRankAndRunNames();
    void everyViewFits800x600();

private:
    nlohmann::json spec(int epochs) const;
    // A new project at `project` with one finished zero-shot run evaluated on `classes` classes
    // ("class 0" …) with these predictions; returns the run's id.
    int64_t writeEvaluatedProject(const QString &project, int classes, const std::vector<train::ImagePrediction> &predictions) const;
    QString path(const QString &name) const { return m_keep.isEmpty() ? m_dir.filePath(name) : m_keep + QLatin1Char('/') + name; }
    QTemporaryDir m_dir;
    QString m_keep;
    test::ModelFiles m_model;
    QString m_data, m_project;
    qint64 m_finishedRun = 0;
    std::unique_ptr<MainWindow> m_window;
};

void TestUiWorkflow::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    // SEP_TEST_KEEP=DIR keeps the project, model and images there (for screenshots by hand).
    const QString keep = qEnvironmentVariable("SEP_TEST_KEEP");
    if (!keep.isEmpty()) {
        QDir(keep).removeRecursively();
        m_dir.setAutoRemove(false);
        QVERIFY(QDir().mkpath(keep));
        m_keep = keep;
    }
    QVERIFY(QDir().mkpath(path(QStringLiteral("model"))));
    m_model = test::writeTinyModelFiles(path(QStringLiteral("model")).toStdString(), 2);
    m_data = path(QStringLiteral("colours"));
    test::writeColourFolder(m_data, {"amber", "blue", "crimson", "green"}, 5, 3);
    m_project = path(QStringLiteral("ui.sepproj"));
    auto *job = new CreateProjectJob(m_project, m_data);
    QSignalSpy done(job, &Job::done);
    startJob(job);
    QVERIFY(done.wait(60000));
    QCOMPARE(done.first().first().value<Job::Status>(), Job::Succeeded);
}

int64_t TestUiWorkflow::writeEvaluatedProject(const QString &project, int classes,
                                              const std::vector<train::ImagePrediction> &predictions) const
{
    auto store = projects::ProjectStore::create(project.toStdString());
    train::RunSpec zeroShot = train::RunSpec::fromJson(spec(1), "test");
    zeroShot.method = "zeroshot";
    zeroShot.methodOptions = nlohmann::json::object();
    const int64_t run = store.createRun(zeroShot, std::nullopt);
    store.runStarted(run, zeroShot, nlohmann::json::object(), "cpu", {}, false);
    std::vector<std::string> names;
    for (int c = 0; c < classes; ++c)
        names.push_back("class " + std::to_string(c));
    train::EvalResult result;
    result.confusion = train::Confusion(classes);
    for (const auto &p : predictions) {
        result.confusion.add(p.label, p.top.front());
        result.predictions.push_back(p);
    }
    store.recordEvaluation(run, "all", names, result, {});
    store.runEnded(run, "finished", "");
    return run;
}

nlohmann::json TestUiWorkflow::spec(int epochs) const
{
    nlohmann::json s = facade::defaultSpec();
    s["data"] = m_data.toStdString();
    s["weights"] = m_model.weights;
    s["vocab"] = m_model.vocab;
    s["config"] = m_model.config;
    s["device"] = "cpu";
    s["method"] = "sep";
    s["shots"] = 2;
    s["base_to_new"] = true;
    s["cls_attention"] = true;
    s["train"]["epochs"] = epochs;
    s["train"]["batch"] = 4;
    s["train"]["lr"] = 0.01;
    s["eval_batch"] = 16;
    return facade::checkSpec(s);
}

void TestUiWorkflow::workerTrainsToTheEnd()
{
    facade::TrainRequest request;
    request.project = m_project.toStdString();
    request.spec = spec(3);
    auto *job = new TrainJob(request);
    QSignalSpy progress(job, &Job::progress);
    QSignalSpy created(job, &TrainJob::runCreated);
    QSignalSpy epochs(job, &TrainJob::epochsRecorded);
    QSignalSpy done(job, &Job::done);
    QThread *uiThread = QThread::currentThread();
    startJob(job);
    QVERIFY(job->thread() != uiThread);   // the engine works on its own thread
    QVERIFY(done.wait(120000));
    QCOMPARE(done.first().first().value<Job::Status>(), Job::Succeeded);
    QCOMPARE(created.count(), 1);
    QVERIFY(progress.count() > 0);
    QVERIFY(epochs.count() > 0);
    const auto rows = epochs.last().at(1).value<std::vector<projects::EpochRow>>();
    QCOMPARE(rows.size(), size_t(3));
    QVERIFY(rows.back().testAccuracy.count("base"));
    m_finishedRun = created.first().first().toLongLong();
    ProjectSession session;
    QString error;
    QVERIFY2(session.open(m_project, &error), qPrintable(error));
    QCOMPARE(session.run(m_finishedRun)->status, std::string("finished"));
}

void TestUiWorkflow::cancelThenResume()
{
    facade::TrainRequest request;
    request.project = m_project.toStdString();
    request.spec = spec(40);
    auto *job = new TrainJob(request);
    QSignalSpy epochs(job, &TrainJob::epochsRecorded);
    QSignalSpy created(job, &TrainJob::runCreated);
    QSignalSpy done(job, &Job::done);
    connect(job, &TrainJob::epochsRecorded, job, [job] { job->cancel(); }, Qt::DirectConnection);
    startJob(job);
    QVERIFY(done.wait(120000));
    QCOMPARE(done.first().first().value<Job::Status>(), Job::Cancelled);
    const qint64 run = created.first().first().toLongLong();
    {
        ProjectSession session;
        QString error;
        QVERIFY2(session.open(m_project, &error), qPrintable(error));
        QCOMPARE(session.run(run)->status, std::string("cancelled"));
        QVERIFY(session.run(run)->epochsRecorded < 40);
    }
    // Resume from the window (as the Progress panel's button does) and see it finish.
    MainWindow window;
    window.setInteractive(false);
    QVERIFY(window.openProject(m_project));
    window.selectRun(run);
    QSignalSpy finished(&window, &MainWindow::trainingFinished);
    QVERIFY(window.resumeRun(run));
    QVERIFY(window.isTraining());
    QVERIFY(finished.wait(300000));
    QCOMPARE(finished.first().at(1).toString(), QStringLiteral("finished"));
    QCOMPARE(window.session()->run(run)->status, std::string("finished"));
    QCOMPARE(window.session()->run(run)->epochsRecorded, int64_t(40));
    QVERIFY(window.curves()->pointCount(run) > 0);
}

void TestUiWorkflow::failureBecomesASignal()
{
    facade::TrainRequest request;
    request.project = m_project.toStdString();
    request.spec = spec(1);
    request.spec["weights"] = path(QStringLiteral("missing.safetensors")).toStdString();
    auto *job = new TrainJob(request);
    QSignalSpy done(job, &Job::done);
    startJob(job);
    QVERIFY(done.wait(60000));
    QCOMPARE(done.first().first().value<Job::Status>(), Job::Failed);
    QVERIFY2(done.first().at(1).toString().contains(QStringLiteral("missing.safetensors")), qPrintable(done.first().at(1).toString()));
}

void TestUiWorkflow::windowShowsTheProject()
{
    m_window = std::make_unique<MainWindow>();
    m_window->setInteractive(false);
    m_window->resize(1300, 850);
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    QVERIFY(m_window->openProject(m_project));
    QCOMPARE(m_window->pages()->currentWidget(), static_cast<QWidget *>(m_window->tabs()));
    RunsModel *runs = m_window->runsModel();
    QVERIFY(runs->rowCount() >= 3);   // finished, resumed, failed
    const int row = runs->rowOf(m_finishedRun);
    QVERIFY(row >= 0);
    QCOMPARE(runs->data(runs->index(row, RunsModel::Status), Qt::DisplayRole).toString(), QStringLiteral("finished"));
    QCOMPARE(runs->data(runs->index(row, RunsModel::Method), Qt::DisplayRole).toString(), QStringLiteral("SEP"));
    QVERIFY(runs->data(runs->index(row, RunsModel::Base), Qt::DisplayRole).toString().endsWith(QLatin1Char('%')));
    QVERIFY(m_window->curves()->pointCount(m_finishedRun) == 3);
    // Results: the confusion matrix of the finished run and its images.
    m_window->results()->showRun(m_finishedRun);
    ConfusionModel *cm = m_window->results()->confusionModel();
    QVERIFY(cm->classCount() >= 2);
    int64_t total = 0;
    for (int t = 0; t < cm->classCount(); ++t)
        for (int p = 0; p < cm->classCount(); ++p)
            total += cm->count(t, p);
    QVERIFY(total > 0);
    QVERIFY(m_window->results()->summaryModel()->rowCount() >= 1);
    // Clicking a cell lists exactly its images.
    for (int t = 0; t < cm->classCount(); ++t)
        for (int p = 0; p < cm->classCount(); ++p)
            if (cm->count(t, p) > 0) {
                m_window->results()->filterGallery(t, p);
                QCOMPARE(static_cast<int64_t>(m_window->results()->galleryModel()->rowCount()), cm->count(t, p));
            }
    // The dataset view lists the classes.
    QTRY_VERIFY_WITH_TIMEOUT(m_window->datasetView()->classNames().size() == 4, 20000);
    // The run's few-shot sample and tested images are marked in the Dataset tab.
    m_window->selectRun(m_finishedRun);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->datasetView()->headerText().contains(QStringLiteral("run %1:").arg(m_finishedRun)), 5000);
    const QString marks = m_window->datasetView()->headerText();
    QVERIFY2(marks.contains(QStringLiteral("● 4 shots")), qPrintable(marks));   // 2 base classes × 2 shots
    const auto evaluated = m_window->session()->store()->evaluations(m_finishedRun);
    int64_t testedImages = 0;
    for (const auto &e : evaluated)
        testedImages += e.total;
    QVERIFY2(marks.contains(QStringLiteral("%1 tested").arg(testedImages)), qPrintable(marks));
    // Runs on the same seed, shots and classes trained on the same images: the same split fingerprint.
    auto *store = m_window->session()->store();
    const std::string split = store->splitFingerprint(m_finishedRun);
    QCOMPARE(split.size(), size_t(64));
    for (const auto &r : m_window->session()->runs())
        if (r.id != m_finishedRun && r.seed == 1 && r.shots == 2 && r.baseToNew && !store->trainingImages(r.id).empty())
            QCOMPARE(store->splitFingerprint(r.id), split);
    // Picking a run in the Runs dock shows it in Results too, as in Curves.
    for (const auto &r : m_window->session()->runs()) {
        m_window->selectRun(r.id);
        QCOMPARE(m_window->results()->currentRun(), r.id);
    }
    m_window->selectRun(m_finishedRun);
}

void TestUiWorkflow::inspectorRendersSelection()
{
    QVERIFY(m_window);
    auto *store = m_window->session()->store();
    const auto evaluations = store->evaluations(m_finishedRun);
    QVERIFY(!evaluations.empty());
    const auto &e = evaluations.front();
    const auto selection = store->imageSelection(e.id, 0);
    QVERIFY(!selection.layers.empty());
    InspectorView *inspector = m_window->inspector();
    m_window->tabs()->setCurrentWidget(inspector);
    QSignalSpy rendered(inspector, &InspectorView::rendered);
    inspector->inspect(m_finishedRun, e.id, 0);
    QVERIFY(rendered.wait(30000));
    QVERIFY2(inspector->pictures().error.isEmpty(), qPrintable(inspector->pictures().error));
    QCOMPARE(static_cast<size_t>(inspector->pictures().selection.size()), selection.layers.size());
    for (const QImage &img : inspector->pictures().selection) {
        QVERIFY(!img.isNull());
        QVERIFY(distinctColours(img) > 4);
    }
    QVERIFY(!inspector->pictures().attention.value(0).isNull());   // [CLS] attention was recorded
    // Different layers select different tokens or at least draw their own tile.
    inspector->setLayer(static_cast<int>(selection.layers.size()) - 1);
    QCOMPARE(inspector->layer(), static_cast<int>(selection.layers.size()) - 1);
    QVERIFY(inspector->headline().contains(QStringLiteral("true class")));
}

void TestUiWorkflow::exportWritesBundle()
{
    QVERIFY(m_window);
    ExportDialog dialog(m_window->session()->path(), m_window->session()->runs(), m_finishedRun);
    const QString out = path(QStringLiteral("exports/tuned.sepmodel"));
    dialog.setOutput(out);
    QSignalSpy exported(&dialog, &ExportDialog::exported);
    dialog.startExport();
    QVERIFY(exported.wait(120000));
    QVERIFY(dialog.succeeded());
    QVERIFY(QFileInfo::exists(out + QStringLiteral("/manifest.json")));
    QVERIFY2(dialog.resultText().contains(out), qPrintable(dialog.resultText()));
    // Base-to-new: the bundle knows the new classes as well, and says which were tuned on.
    const auto manifest = exporting::readBundle(out.toStdString()).manifest;
    QCOMPARE(manifest.classNames.size(), size_t(4));
    QCOMPARE(manifest.trainedClasses.size(), size_t(2));
    QVERIFY2(dialog.resultText().contains(QStringLiteral("--weights")), qPrintable(dialog.resultText()));
    // Exporting over it again is refused, the bundle kept.
    dialog.startExport();
    QVERIFY(dialog.resultText().contains(QStringLiteral("already exists")));
    QVERIFY(QFileInfo::exists(out + QStringLiteral("/manifest.json")));
}

void TestUiWorkflow::screenshotsShowContent()
{
    QVERIFY(m_window);
    const QString folder = QStringLiteral(SEP_TEST_BINARY_DIR "/screenshots");
    QDir().mkpath(folder);
    m_window->results()->showRun(m_finishedRun);
    QList<QImage> shots;
    const QStringList names{QStringLiteral("dataset"), QStringLiteral("curves"), QStringLiteral("results"), QStringLiteral("inspector")};
    for (int i = 0; i < names.size(); ++i) {
        m_window->tabs()->setCurrentIndex(i);
        QTest::qWait(400);   // thumbnails and the plot's timer
        const QImage shot = m_window->grab().toImage();
        QVERIFY(shot.save(folder + QStringLiteral("/") + names[i] + QStringLiteral(".png")));
        QVERIFY2(distinctColours(shot) > 40, qPrintable(names[i] + QStringLiteral(" looks blank")));
        for (const QImage &other : shots)
            QVERIFY2(other != shot, qPrintable(names[i] + QStringLiteral(" is unchanged from another view")));
        shots << shot;
    }
}

void TestUiWorkflow::anotherProjectClearsEveryView()
{
    // Results and Inspector show the finished run (earlier tests); a second project has no runs.
    QVERIFY(m_window);
    m_window->results()->showRun(m_finishedRun);
    QVERIFY(m_window->results()->confusionModel()->classCount() > 0);
    QVERIFY(!m_window->inspector()->pictures().selection.isEmpty());
    const QString otherData = path(QStringLiteral("other-colours"));
    test::writeColourFolder(otherData, {"teal", "violet"}, 3, 9);
    const QString other = path(QStringLiteral("other.sepproj"));
    auto *job = new CreateProjectJob(other, otherData);
    QSignalSpy done(job, &Job::done);
    startJob(job);
    QVERIFY(done.wait(60000));
    QVERIFY(m_window->openProject(other));

    ResultsView *results = m_window->results();
    QCOMPARE(results->currentRun(), int64_t(0));
    QCOMPARE(results->confusionModel()->classCount(), 0);
    QCOMPARE(results->galleryModel()->rowCount(), 0);
    QCOMPARE(results->summaryModel()->rowCount(), 0);
    InspectorView *inspector = m_window->inspector();
    QVERIFY2(inspector->headline().startsWith(QStringLiteral("Pick an image")), qPrintable(inspector->headline()));
    QVERIFY(inspector->pictures().selection.isEmpty());
    QVERIFY(inspector->selection().layers.empty());

    // Back to the first project for the tests that follow.
    QVERIFY(m_window->openProject(m_project));
    QVERIFY(results->summaryModel()->rowCount() >= 1);
}

void TestUiWorkflow::classRenameStaysInTheProject()
{
    QVERIFY(m_window);
    DatasetView *view = m_window->datasetView();
    const QStringList before = view->classNames();
    QCOMPARE(before.size(), 4);
    const QStringList data = test::folderSnapshot(m_data);
    auto given = [this] {
        auto *session = m_window->session();
        return session->store()->givenClassNames(session->datasets().front().id);
    };
    const std::map<std::string, std::string> renamed{{"amber", "golden amber"}};
    QSignalSpy messages(view, &DatasetView::message);
    QString error;
    view->classTable()->setCurrentCell(0, 0);   // the grid and its header show the class renamed
    QVERIFY(view->headerText().contains(before.first()));
    QVERIFY2(view->renameClass(0, QStringLiteral("golden amber"), &error), qPrintable(error));
    QCOMPARE(view->classNames().first(), QStringLiteral("golden amber"));
    QVERIFY2(view->headerText().contains(QStringLiteral("golden amber")), qPrintable(view->headerText()));
    QCOMPARE(given(), renamed);
    QVERIFY(!messages.isEmpty() && messages.last().first().toString().contains(QStringLiteral("saved in the project")));
    QCOMPARE(test::folderSnapshot(m_data), data);   // no classnames.txt, nothing touched
    QVERIFY(m_window->undoStack()->canUndo());
    m_window->undoStack()->undo();
    QCOMPARE(view->classNames(), before);
    QVERIFY(given().empty());
    m_window->undoStack()->redo();
    QCOMPARE(view->classNames().first(), QStringLiteral("golden amber"));
    QCOMPARE(given(), renamed);
    // Refused, changing nothing: an empty name, and any name while another process writes the project.
    QVERIFY(!view->renameClass(1, QString(), &error));
    QVERIFY(!error.isEmpty());
    {
        auto writer = projects::ProjectStore::open(m_project.toStdString());
        QVERIFY(!view->renameClass(1, QStringLiteral("navy"), &error));
        QVERIFY2(error.contains(QStringLiteral("in use")), qPrintable(error));
    }
    QCOMPARE(view->classNames().mid(1), before.mid(1));
    QCOMPARE(given(), renamed);

    // A rescan keeps the name, and the view shows it again from the project.
    projects::ProjectStore::open(m_project.toStdString()).importDataset(m_data.toStdString());
    view->clear();
    QVERIFY(m_window->openProject(m_project));
    QTRY_VERIFY_WITH_TIMEOUT(view->classNames().size() == 4, 20000);
    QCOMPARE(view->classNames().first(), QStringLiteral("golden amber"));

    // A run started in the project names the class so.
    facade::TrainRequest request;
    request.project = m_project.toStdString();
    nlohmann::json s = spec(1);
    s["method"] = "zeroshot";
    s["method_options"] = nlohmann::json::object();
    request.spec = facade::checkSpec(s);
    auto *job = new TrainJob(request);
    QSignalSpy created(job, &TrainJob::runCreated);
    QSignalSpy done(job, &Job::done);
    startJob(job);
    QVERIFY(done.wait(120000));
    QCOMPARE(done.first().first().value<Job::Status>(), Job::Succeeded);
    const qint64 run = created.first().first().toLongLong();
    bool named = false;
    for (const auto &e : m_window->session()->store()->evaluations(run))
        named |= e.set == "base" && e.classes.front() == "golden amber";
    QVERIFY(named);
    QCOMPARE(test::folderSnapshot(m_data), data);
}

void TestUiWorkflow::datasetTabShowsEveryDataset()
{
    // A project with two image folders (as the demo has): the Dataset tab offers both.
    QVERIFY(m_window);
    const QString second = path(QStringLiteral("second-colours"));
    test::writeColourFolder(second, {"ochre", "plum", "sage"}, 2, 11);
    const QString project = path(QStringLiteral("two-datasets.sepproj"));
    {
        auto store = projects::ProjectStore::create(project.toStdString());
        store.importDataset(m_data.toStdString());
        store.importDataset(second.toStdString());
    }
    QVERIFY(m_window->openProject(project));
    DatasetView *view = m_window->datasetView();
    QTRY_VERIFY_WITH_TIMEOUT(view->classNames().size() == 4, 20000);
    QComboBox *chooser = view->datasetChooser();
    QVERIFY(chooser->isVisibleTo(view));
    QCOMPARE(chooser->count(), 2);
    QVERIFY(chooser->itemText(1).contains(QStringLiteral("second-colours")));
    chooser->setCurrentIndex(1);
    Q_EMIT chooser->activated(1);
    QTRY_VERIFY_WITH_TIMEOUT(view->classNames().size() == 3, 20000);
    QCOMPARE(view->classNames().first(), QStringLiteral("ochre"));
    QCOMPARE(view->gridModel()->rowCount(), 6);
    QVERIFY(view->headerText().contains(QStringLiteral("6 images")));

    // A project with one dataset shows no chooser.
    QVERIFY(m_window->openProject(m_project));
    QTRY_VERIFY_WITH_TIMEOUT(view->classNames().size() == 4, 20000);
    QVERIFY(!chooser->isVisibleTo(view));
}

void TestUiWorkflow::resultsOfAThousandClasses()
{
    // A project with one run evaluated on 1000 classes, 5 test images each (1 in 8 misclassified).
    QVERIFY(m_window);
    const int classes = 1000, perClass = 5;
    const QString project = path(QStringLiteral("thousand.sepproj"));
    std::vector<train::ImagePrediction> predictions;
    for (int i = 0; i < classes * perClass; ++i) {
        train::ImagePrediction p;
        p.path = "images/" + std::to_string(i) + ".png";
        p.label = i % classes;
        const int64_t predicted = i % 8 == 0 ? (p.label + 1) % classes : p.label;
        p.top = {predicted, (predicted + 2) % classes};
        p.topProb = {0.7f, 0.1f};
        predictions.push_back(p);
    }
    const int64_t run = writeEvaluatedProject(project, classes, predictions);
    // Timed from opening the project to the Results tab painted (a figure, not a pass/fail bound).
    QElapsedTimer timer;
    timer.start();
    QVERIFY(m_window->openProject(project));
    m_window->tabs()->setCurrentWidget(m_window->results());
    m_window->results()->showRun(run);
    const QImage shot = m_window->grab().toImage();   // laid out and painted
    qInfo("project of 1000 classes (5000 predictions) opened, Results shown and drawn in %lld ms",
          static_cast<long long>(timer.elapsed()));
    ResultsView *results = m_window->results();
    QCOMPARE(results->confusionModel()->classCount(), classes);
    QCOMPARE(results->perClassView()->model()->rowCount(), classes);
    QVERIFY(results->heatMap()->cellSize() > 0);
    QVERIFY(QRectF(results->heatMap()->rect()).contains(results->heatMap()->matrixRect()));
    // Sorted weakest first: the first row is a class with a misclassified image.
    const QString first = results->perClassView()->model()->index(0, 1).data().toString();
    QVERIFY2(first.toDouble() < 100, qPrintable(first));
    QCOMPARE(results->galleryModel()->rowCount(), classes * perClass / 8);
    QVERIFY(!shot.isNull());
    QVERIFY(m_window->openProject(m_project));
}

void TestUiWorkflow::trueClassRankAndRunNames()
{
    // 50 classes; image 0 is misclassified with its true class far below the top 2 kept.
    QVERIFY(m_window);
    const int classes = 50;
    const QString project = path(QStringLiteral("ranked.sepproj"));
    std::vector<train::ImagePrediction> predictions;
    for (int i = 0; i < 3; ++i) {
        train::ImagePrediction p;
        p.path = "images/" + std::to_string(i) + ".png";
        p.label = i;
        p.top = {i == 0 ? 7 : i, 9};
        p.topProb = {0.6f, 0.1f};
        p.trueRank = i == 0 ? 37 : 1;
        p.trueProb = i == 0 ? 0.004f : 0.6f;
        predictions.push_back(p);
    }
    const int64_t run = writeEvaluatedProject(project, classes, predictions);
    QVERIFY(m_window->openProject(project));
    InspectorView *inspector = m_window->inspector();
    const auto &evaluations = m_window->session()->evaluations(run);
    QCOMPARE(evaluations.size(), size_t(1));
    auto *top = inspector->findChild<QTableWidget *>(QStringLiteral("topFive"));
    QVERIFY(top);
    inspector->inspect(run, evaluations.front().id, 0);
    QCOMPARE(top->rowCount(), 3);   // the two kept, then the true class
    QCOMPARE(top->item(2, 0)->text(), QStringLiteral("class 0 (true class, rank 37 of 50)"));
    QCOMPARE(top->item(2, 1)->text(), QStringLiteral("0.4%"));
    inspector->inspect(run, evaluations.front().id, 1);   // right: no extra row
    QCOMPARE(top->rowCount(), 2);

    // A name and notes given in the window reach the project and the runs table.
    QString error;
    QVERIFY2(m_window->session()->describeRun(run, QStringLiteral("baseline"), QStringLiteral("50 classes"), &error), qPrintable(error));
    RunsModel *runs = m_window->runsModel();
    const int row = runs->rowOf(run);
    QCOMPARE(runs->data(runs->index(row, RunsModel::Name), Qt::DisplayRole).toString(), QStringLiteral("baseline ✎"));
    QCOMPARE(m_window->session()->store()->run(run).notes, std::string("50 classes"));
    // Refused: a name of two lines; nothing changes.
    QVERIFY(!m_window->session()->describeRun(run, QStringLiteral("a\nb"), QStringLiteral("other"), &error));
    QVERIFY2(error.contains(QStringLiteral("one line")), qPrintable(error));
    QCOMPARE(m_window->session()->store()->run(run).notes, std::string("50 classes"));
    QCOMPARE(m_window->session()->store()->run(run).name, std::string("baseline"));
    QVERIFY(m_window->openProject(m_project));
}

void TestUiWorkflow::keyboardOnlyReachesViewsRunsAndDetails()
{
    // Without a mouse: Ctrl+1…4 switch views, Ctrl+R puts the focus in the runs list, arrows move in
    // it, F2 opens the run's details, typing names it and Enter saves.
    QVERIFY(m_window);
    QVERIFY(m_window->openProject(m_project));
    m_window->show();
    m_window->activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
    for (int tab : {2, 0, 3, 1}) {
        QTest::keyClick(m_window.get(), static_cast<Qt::Key>(Qt::Key_1 + tab), Qt::ControlModifier);
        QCOMPARE(m_window->tabs()->currentIndex(), tab);
    }
    QTest::keyClick(m_window.get(), Qt::Key_R, Qt::ControlModifier);
    QTableView *runs = m_window->runsView();
    QCOMPARE(QApplication::focusWidget(), runs);
    QTest::keyClick(runs, Qt::Key_Home, Qt::ControlModifier);   // the top row (Home alone: the first column)
    const qint64 first = m_window->selectedRun();
    QVERIFY(first > 0);
    QTest::keyClick(runs, Qt::Key_Down);
    const qint64 second = m_window->selectedRun();
    QVERIFY2(second > 0 && second != first, qPrintable(QStringLiteral("%1 then %2 of %3 rows, current row %4")
                                                          .arg(first)
                                                          .arg(second)
                                                          .arg(runs->model()->rowCount())
                                                          .arg(runs->currentIndex().row())));
    bool sawDialog = false, nameHadFocus = false;
    QTimer::singleShot(0, this, [&] {
        auto *dialog = qobject_cast<QDialog *>(QApplication::activeModalWidget());
        sawDialog = dialog && dialog->objectName() == QStringLiteral("runDetailsDialog");
        if (!sawDialog)
            return;
        QTimer::singleShot(5000, dialog, &QDialog::reject);   // never hang the suite if Return does nothing
        auto *name = dialog->findChild<QLineEdit *>(QStringLiteral("runName"));
        nameHadFocus = dialog->focusWidget() == name;   // typing goes there first
        QTest::keyClick(name, Qt::Key_A, Qt::ControlModifier);
        QTest::keyClicks(name, QStringLiteral("from the keyboard"));
        QTest::keyClick(name, Qt::Key_Return);
    });
    QTest::keyClick(runs, Qt::Key_F2);
    QVERIFY(sawDialog);
    QVERIFY(nameHadFocus);
    QCOMPARE(m_window->session()->store()->run(second).name, std::string("from the keyboard"));
    // Help ▸ Keyboard shortcuts lists the runs list's own keys too.
    QStringList listed;
    for (const auto &[action, key] : m_window->shortcuts())
        listed << action + QLatin1Char('=') + key;
    QVERIFY2(listed.join(QLatin1Char(' ')).contains(QStringLiteral("(runs list)=F2")), qPrintable(listed.join(QLatin1Char(' '))));
}

void TestUiWorkflow::everyViewFits800x600()
{
    // The window could not be made smaller than 900×757: the inspector's pictures and labels pushed
    // it, and pictures overlapped the slider. Every tab now fits 800×600, the inspector included.
    QVERIFY(m_window);
    InspectorView *inspector = m_window->inspector();
    m_window->tabs()->setCurrentWidget(inspector);
    const auto evaluations = m_window->session()->store()->evaluations(m_finishedRun);
    QVERIFY(!evaluations.empty());
    QSignalSpy rendered(inspector, &InspectorView::rendered);
    inspector->inspect(m_finishedRun, evaluations.front().id, 0);
    QVERIFY(rendered.wait(30000));
    for (const QSize size : {QSize(800, 600), QSize(1600, 1000)}) {
        m_window->resize(size);
        for (int tab = 0; tab < m_window->tabs()->count(); ++tab) {
            m_window->tabs()->setCurrentIndex(tab);
            QTest::qWait(50);
            QCOMPARE(m_window->size(), size);
        }
        m_window->tabs()->setCurrentWidget(inspector);
        QTest::qWait(50);
        auto *picture = inspector->findChild<QWidget *>(QStringLiteral("selectionPicture"));
        auto *heat = inspector->findChild<QWidget *>(QStringLiteral("attentionPicture"));
        auto *slider = inspector->findChild<QWidget *>(QStringLiteral("layerSlider"));
        const auto rectOf = [&](QWidget *w) { return QRect(w->mapTo(inspector, QPoint(0, 0)), w->size()); };
        QVERIFY(!rectOf(picture).intersects(rectOf(heat)));
        QVERIFY(!rectOf(picture).intersects(rectOf(slider)));
        QVERIFY(!rectOf(heat).intersects(rectOf(slider)));
        QVERIFY2(picture->width() >= 64 && picture->height() >= 64, qPrintable(QStringLiteral("%1x%2, window minimum %3x%4").arg(picture->width()).arg(picture->height()).arg(m_window->minimumSizeHint().width()).arg(m_window->minimumSizeHint().height())));
    }
    // The pictures follow the window: larger at 1600×1000 than at 800×600 (checked in that order).
    m_window->resize(800, 600);
    QTest::qWait(50);
    const int small = inspector->findChild<QWidget *>(QStringLiteral("selectionPicture"))->width();
    m_window->resize(1600, 1000);
    QTest::qWait(50);
    QVERIFY(inspector->findChild<QWidget *>(QStringLiteral("selectionPicture"))->width() > small);
    m_window->resize(1300, 850);
}

void TestUiWorkflow::runsDockNewestFirstDeleteAndTrainAgain()
{
    QVERIFY(m_window);
    QVERIFY(m_window->openProject(m_project));
    QTableView *view = m_window->runsView();
    const auto &runs = m_window->session()->runs();
    QVERIFY(runs.size() >= 3);
    qint64 newest = 0;
    for (const auto &r : runs)
        newest = std::max<qint64>(newest, r.id);
    QCOMPARE(view->model()->index(0, 0).data(RunsModel::RunIdRole).toLongLong(), newest);
    // A finished run's duration is shown.
    m_window->selectRun(m_finishedRun);
    const QModelIndex duration = view->selectionModel()->selectedRows(RunsModel::Duration).value(0);
    QVERIFY2(duration.data().toString().endsWith(QLatin1String(" s")), qPrintable(duration.data().toString()));

    // Train again: the wizard holds every setting of the run.
    const projects::RunInfo *finished = m_window->session()->run(m_finishedRun);
    QVERIFY(finished);
    m_window->trainDialog(m_finishedRun);
    auto *wizard = m_window->findChild<TrainWizard *>();
    QVERIFY(wizard);
    const nlohmann::json again = wizard->spec();
    for (const char *key : {"method", "shots", "seed", "base_to_new", "weights", "data"})
        QCOMPARE(again[key], finished->spec[key]);
    QCOMPARE(again["train"]["epochs"], finished->spec["train"]["epochs"]);
    QCOMPARE(again["method_options"], finished->spec["method_options"]);
    wizard->reject();
    QTest::qWait(20);

    // Delete the failed run: its records and its folder go; the others stay.
    qint64 failed = 0;
    QString folder;
    for (const auto &r : runs)
        if (r.status == "failed") {
            failed = r.id;
            folder = QString::fromStdString(r.folder);
        }
    QVERIFY(failed);
    const size_t before = runs.size();
    m_window->deleteRun(failed);
    QCOMPARE(m_window->session()->runs().size(), before - 1);
    QVERIFY(!m_window->session()->run(failed));
    QVERIFY(m_window->runsModel()->rowOf(failed) < 0);
    QVERIFY(!QFileInfo::exists(folder));
    QVERIFY(m_window->session()->run(m_finishedRun));
}

void TestUiWorkflow::helpHasGuideAndShortcuts()
{
    QVERIFY(m_window);
    std::map<QString, QString> keys;
    for (const auto &[action, key] : m_window->shortcuts())
        keys[action] = key;
    QCOMPARE(keys[QStringLiteral("Train…")], QKeySequence(QStringLiteral("Ctrl+T")).toString(QKeySequence::NativeText));
    QVERIFY(keys.count(QStringLiteral("User guide")));
    m_window->showUserGuide();
    auto *guide = m_window->findChild<QDialog *>(QStringLiteral("userGuide"));
    QVERIFY(guide);
    auto *text = guide->findChild<QTextBrowser *>();
    QVERIFY(text);
    QVERIFY2(text->toPlainText().contains(QStringLiteral("Export tuned model")), qPrintable(text->toPlainText().left(200)));
    guide->close();
}

int main(int argc, char **argv)
{
    sep::configureThreads();
    QApplication app(argc, argv);
    sep::ui::installTranslations();
    QApplication::setOrganizationName(QStringLiteral("SEP Studio tests"));
    QApplication::setApplicationName(QStringLiteral("test_ui_workflow"));
    TestUiWorkflow tc;
    QTEST_SET_MAIN_SOURCE_PATH
    const int failed = QTest::qExec(&tc, argc, argv);
    return sep::ui::stopAllJobs() ? failed : 1;
}

#include "test_ui_workflow.moc"
