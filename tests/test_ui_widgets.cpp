// The desktop application's pieces that need no training: option pages generated from the engine's
// tables, the confusion-matrix and runs models, the plot's batching, the new-project wizard's checks
// and bad input through the window.
#include "engine/core/data_paths.h"
#include "engine/core/runtime.h"
#include "engine/prompt/coop.h"
#include "engine/prompt/kgcoop.h"
#include "engine/prompt/prograd.h"
#include "engine/prompt/method.h"
#include "engine/prompt/sep_method.h"
#include "engine/prompt/zeroshot.h"
#include "engine/train/trainer.h"
#include "support/fixtures.h"
#include "support/folder_snapshot.h"
#include "ui/confusion_heatmap.h"
#include "ui/confusion_model.h"
#include "ui/counts.h"
#include "ui/curves_view.h"
#include "ui/qcustomplot_wrap.h"
#include "ui/export_dialog.h"
#include "ui/engine_facade.h"
#include "ui/jobs.h"
#include "ui/log_dock.h"
#include "ui/main_window.h"
#include "ui/new_project_wizard.h"
#include "ui/option_editor.h"
#include "ui/run_details_dialog.h"
#include "ui/run_progress.h"
#include "ui/runs_model.h"
#include "ui/settings.h"
#include "ui/theme.h"
#include "ui/train_wizard.h"
#include "ui/translations.h"
#include "ui/welcome_page.h"

#include <QApplication>
#include <QClipboard>
#include <QPlainTextEdit>
#include <QSettings>
#include <QTableWidget>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QRadioButton>
#include <QListWidget>
#include <QMimeData>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QSettings>
#include <QScrollArea>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QWheelEvent>
#include <QtTest>

#include <cmath>
#include <map>
#include <set>

using namespace sep;
using namespace sep::ui;

namespace {

// Sets every editor to a value other than its default (inside its range) and returns what was set.
nlohmann::json changeEveryEditor(OptionEditor &editor)
{
    nlohmann::json expected = nlohmann::json::object();
    for (const auto &s : editor.group().specs) {
        QWidget *w = editor.editorFor(s.key);
        switch (s.type) {
        case OptionSpec::Type::Int: {
            auto *spin = qobject_cast<QSpinBox *>(w);
            const int v = spin->value() < spin->maximum() ? spin->value() + 1 : spin->value() - 1;
            spin->setValue(v);
            expected[s.key] = static_cast<int64_t>(v);
            break;
        }
        case OptionSpec::Type::Real: {
            auto *spin = qobject_cast<QDoubleSpinBox *>(w);
            const double v = spin->value() < spin->maximum() - 0.5 ? spin->value() + 0.5 : spin->minimum();
            spin->setValue(v);
            expected[s.key] = spin->value();
            break;
        }
        case OptionSpec::Type::Bool: {
            auto *box = qobject_cast<QCheckBox *>(w);
            box->setChecked(!box->isChecked());
            expected[s.key] = box->isChecked();
            break;
        }
        case OptionSpec::Type::Choice: {
            auto *combo = qobject_cast<QComboBox *>(w);
            combo->setCurrentIndex((combo->currentIndex() + 1) % combo->count());
            expected[s.key] = combo->currentText().toStdString();
            break;
        }
        case OptionSpec::Type::Text: {
            auto *line = qobject_cast<QLineEdit *>(w);
            line->setText(QStringLiteral("a drawing of a {}."));
            expected[s.key] = "a drawing of a {}.";
            break;
        }
        }
    }
    return expected;
}

// Reads `values` into the engine's own struct through its table and back: what the engine will use.
nlohmann::json throughEngine(const std::string &method, const std::string &group, const nlohmann::json &values)
{
    if (group == "train")
        return train::TrainOptions::table().toJson(train::TrainOptions::table().fromJson(values));
    if (method == "sep")
        return prompt::SepOptions::table().toJson(prompt::SepOptions::table().fromJson(values));
    if (method == "coop")
        return prompt::CoOpOptions::table().toJson(prompt::CoOpOptions::table().fromJson(values));
    if (method == "kgcoop")
        return prompt::KgCoOpOptions::table().toJson(prompt::KgCoOpOptions::table().fromJson(values));
    if (method == "prograd")
        return prompt::ProGradOptions::table().toJson(prompt::ProGradOptions::table().fromJson(values));
    return prompt::ZeroShotOptions::table().toJson(prompt::ZeroShotOptions::table().fromJson(values));
}

int distinctColours(const QImage &image)
{
    QSet<QRgb> colours;
    const QImage small = image.scaled(200, 150);
    for (int y = 0; y < small.height(); ++y)
        for (int x = 0; x < small.width(); ++x)
            colours.insert(small.pixel(x, y));
    return colours.size();
}

} // namespace

class TestUiWidgets : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void advancedPageHasOneEditorPerOption_data();
    void advancedPageHasOneEditorPerOption();
    void trainWizardRebuildsEditorsPerMethod();
    void trainWizardSpecPassesTheEngine();
    void trainWizardRemembersTheLastChoices();
    void wheelScrollsThePageNotTheValue();
    void exportCommandQuotesPaths();
    void countsUsePluralForms();
    void runProgressIsOneStableBar();
    void confusionModelCells();
    void runsAggregateOverSeeds();
    void summaryMarksTheBestAndSaysWhenABaselineWins();
    void heatMapFitsAndExplainsItself();
    void curvesBatchReplots();
    void curvesFollowANewRunUnlessZoomed();
    void curvesLegendPerPanelBaselinesAndStableColours();
    void wizardDetectsModel();
    void wizardRefusesBadWeights();
    void wizardScansFolder();
    void wizardRefusesFileAndEmptyFolder();
    void wizardCreatesProject();
    void wizardOffersBuiltinModel();
    void wizardLocationExistsOrIsCreated();
    void windowRefusesWhatIsNotAProject();
    void runDetailsShowNameNotesAndRecord();
    void settingsAreTypedAndSurviveDamage();
    void darkThemeReachesThePlots();
    void meaningColoursAreReadableInEveryTheme();

private:
    projects::DatasetInfo colourDataset() const;   // m_data as a project lists it
    QTemporaryDir m_dir;
    test::ModelFiles m_model;
    QString m_data;
};

projects::DatasetInfo TestUiWidgets::colourDataset() const
{
    projects::DatasetInfo d;
    d.root = m_data.toStdString();
    d.classes = 4;
    d.images = 16;
    return d;
}

void TestUiWidgets::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    QVERIFY(QDir().mkpath(m_dir.filePath(QStringLiteral("model"))));
    m_model = test::writeTinyModelFiles(m_dir.filePath(QStringLiteral("model")).toStdString(), 1);
    m_data = m_dir.filePath(QStringLiteral("colours"));
    test::writeColourFolder(m_data, {"red_thing", "green_thing", "blue_thing", "grey_thing"}, 4, 1);
}

void TestUiWidgets::advancedPageHasOneEditorPerOption_data()
{
    QTest::addColumn<QString>("method");
    for (const auto &m : facade::methods())
        QTest::newRow(m.c_str()) << QString::fromStdString(m);
}

void TestUiWidgets::advancedPageHasOneEditorPerOption()
{
    QFETCH(QString, method);
    const auto groups = facade::optionGroups(method.toStdString());
    size_t specs = 0;
    for (const auto &g : groups) {
        OptionEditor editor(g);
        // One editor per spec of the engine's table, each named by its key and showing the default.
        QCOMPARE(static_cast<size_t>(editor.editorCount()), g.specs.size());
        specs += g.specs.size();
        QCOMPARE(editor.values(), throughEngine(method.toStdString(), g.key, nlohmann::json::object()));
        // Every value written in the page arrives in the engine's struct unchanged.
        const nlohmann::json expected = changeEveryEditor(editor);
        const nlohmann::json got = throughEngine(method.toStdString(), g.key, editor.values());
        for (auto it = expected.begin(); it != expected.end(); ++it)
            QVERIFY2(got.at(it.key()) == it.value(), (it.key() + ": " + got.at(it.key()).dump() + " vs " + it.value().dump()).c_str());
        editor.resetToDefaults();
        QCOMPARE(editor.values(), throughEngine(method.toStdString(), g.key, nlohmann::json::object()));
    }
    // The groups are the engine's tables, not a copy: method options + training options.
    size_t engineSpecs = prompt::methodOptionSpecs(method.toStdString()).size();
    if (method != QLatin1String("zeroshot"))
        engineSpecs += train::TrainOptions::table().specs().size();
    QCOMPARE(specs, engineSpecs);
}

void TestUiWidgets::trainWizardRebuildsEditorsPerMethod()
{
    const projects::DatasetInfo d = colourDataset();
    ProjectDefaults defaults;
    defaults.weights = QString::fromStdString(m_model.weights);
    TrainWizard wizard({d}, defaults);
    wizard.setMethod(QStringLiteral("sep"));
    QCOMPARE(wizard.editors().size(), size_t(2));
    QCOMPARE(wizard.editors()[0]->editorCount(), static_cast<int>(prompt::SepOptions::table().specs().size()));
    wizard.setMethod(QStringLiteral("coop"));
    QCOMPARE(wizard.editors().size(), size_t(2));
    QCOMPARE(wizard.editors()[0]->editorCount(), static_cast<int>(prompt::CoOpOptions::table().specs().size()));
    wizard.setMethod(QStringLiteral("zeroshot"));
    QCOMPARE(wizard.editors().size(), size_t(1));
}

void TestUiWidgets::trainWizardSpecPassesTheEngine()
{
    const projects::DatasetInfo d = colourDataset();
    ProjectDefaults defaults;
    defaults.weights = QString::fromStdString(m_model.weights);
    TrainWizard wizard({d}, defaults);
    wizard.setMethod(QStringLiteral("sep"));
    // The quick-look preset reaches the training editor.
    wizard.applyPreset(2);
    auto *epochs = wizard.editors()[1]->editorFor("epochs");
    QVERIFY(epochs);
    QCOMPARE(qobject_cast<QSpinBox *>(epochs)->value(), 5);
    qobject_cast<QSpinBox *>(wizard.editors()[0]->editorFor("n_ctx"))->setValue(3);
    const auto spec = facade::checkSpec(wizard.spec());
    QCOMPARE(spec.at("method").get<std::string>(), std::string("sep"));
    QCOMPARE(spec.at("method_options").at("n_ctx").get<int>(), 3);
    QCOMPARE(spec.at("train").at("epochs").get<int>(), 5);
    QCOMPARE(spec.at("data").get<std::string>(), m_data.toStdString());
    // Every recipe preset of every method gives a spec the engine accepts.
    for (const auto &m : facade::methods()) {
        wizard.setMethod(QString::fromStdString(m));
        for (size_t i = 0; i < facade::presets(m).size(); ++i) {
            wizard.applyPreset(static_cast<int>(i));
            try {
                facade::checkSpec(wizard.spec());
            } catch (const Error &e) {
                QFAIL((m + " preset " + facade::presets(m)[i].name + ": " + e.what()).c_str());
            }
        }
    }
    wizard.setMethod(QStringLiteral("sep"));
    // 4 images per class and the default 16 shots: the engine's plan has no test image, and the
    // review page says so before anything starts; with 2 shots it does not.
    nlohmann::json noTest = wizard.spec();
    noTest["shots"] = 16;
    const auto warnings = facade::planWarnings(noTest);
    QVERIFY(std::any_of(warnings.begin(), warnings.end(),
                        [](const std::string &w) { return w.find("test set would have no images") != std::string::npos; }));
    noTest["shots"] = 2;
    for (const auto &w : facade::planWarnings(noTest))
        QVERIFY2(w.find("test set would have no images") == std::string::npos, w.c_str());
    // A value outside the engine's range is refused with the key named.
    nlohmann::json bad = wizard.spec();
    bad["train"]["epochs"] = 0;
    try {
        facade::checkSpec(bad);
        QFAIL("epochs 0 passed");
    } catch (const Error &e) {
        QVERIFY2(std::string(e.what()).find("epochs") != std::string::npos, e.what());
    }
}

void TestUiWidgets::trainWizardRemembersTheLastChoices()
{
    const projects::DatasetInfo d = colourDataset();
    ProjectDefaults defaults;
    defaults.weights = QString::fromStdString(m_model.weights);
    defaults.method = QStringLiteral("coop");
    const auto coopPresets = facade::presets("coop");
    QVERIFY(coopPresets.size() >= 2);
    defaults.preset = QString::fromStdString(coopPresets[1].name);
    defaults.shots = 3;
    defaults.seed = 7;
    defaults.baseToNew = false;
    const QString project = m_dir.filePath(QStringLiteral("remembered.sepproj"));
    defaults.save(project);
    TrainWizard wizard({d}, ProjectDefaults::load(project));
    QCOMPARE(wizard.method(), QStringLiteral("coop"));
    QCOMPARE(wizard.findChild<QComboBox *>(QStringLiteral("preset"))->currentText(), defaults.preset);
    QCOMPARE(wizard.findChild<QSpinBox *>(QStringLiteral("trainShots"))->value(), 3);   // over the recipe's
    QCOMPARE(wizard.findChild<QSpinBox *>(QStringLiteral("trainSeed"))->value(), 7);
    const ProjectDefaults chosen = wizard.choices();
    QCOMPARE(chosen.method, QStringLiteral("coop"));
    QCOMPARE(chosen.preset, defaults.preset);
    QCOMPARE(chosen.shots, 3);
    QCOMPARE(chosen.baseToNew, false);
    QCOMPARE(chosen.data, m_data);
    // A method this version does not know falls back to SEP instead of an empty page.
    defaults.method = QStringLiteral("retired-method");
    TrainWizard other({d}, defaults);
    QCOMPARE(other.method(), QStringLiteral("sep"));
}

void TestUiWidgets::wheelScrollsThePageNotTheValue()
{
    const auto groups = facade::optionGroups("sep");
    QScrollArea scroll;
    auto *editor = new OptionEditor(groups.front());
    scroll.setWidget(editor);
    scroll.resize(400, 150);   // far shorter than the options
    scroll.show();
    QVERIFY(QTest::qWaitForWindowExposed(&scroll));
    auto *spin = editor->findChild<QSpinBox *>();
    QVERIFY(spin);
    const nlohmann::json before = editor->values();
    // Returns whether the spin box kept the event; a real (spontaneous) event that is not kept goes on
    // to the scroll area. A synthesized one stops at its receiver, so that part is checked this way.
    auto wheel = [&] {
        const QPointF at(spin->width() / 2.0, spin->height() / 2.0);
        QWheelEvent event(at, spin->mapToGlobal(at), QPoint(), QPoint(0, -120), Qt::NoButton, Qt::NoModifier,
                          Qt::NoScrollPhase, false);
        QApplication::sendEvent(spin, &event);
        return event.isAccepted();
    };
    scroll.setFocus();
    QVERIFY2(!wheel(), "the page should get the wheel");
    QCOMPARE(editor->values(), before);
    // Once the person clicks into it, the wheel changes the value as usual.
    spin->setFocus();
    QTRY_VERIFY(spin->hasFocus());
    const int value = spin->value();
    QVERIFY(wheel());
    QVERIFY(spin->value() != value);
}

void TestUiWidgets::exportCommandQuotesPaths()
{
    QCOMPARE(ExportDialog::predictCommand(QStringLiteral("/data/m.sepmodel"), {}),
             QStringLiteral("sep predict --model /data/m.sepmodel IMAGE…"));
    QCOMPARE(ExportDialog::predictCommand(QStringLiteral("/home/me/My Models/pets.sepmodel"), QStringLiteral("/w/ViT B.pt")),
             QStringLiteral("sep predict --model '/home/me/My Models/pets.sepmodel' --weights '/w/ViT B.pt' IMAGE…"));
    QCOMPARE(ExportDialog::predictCommand(QStringLiteral("/tmp/it's $HOME.sepmodel"), {}),
             QStringLiteral("sep predict --model '/tmp/it'\\''s $HOME.sepmodel' IMAGE…"));
}

void TestUiWidgets::countsUsePluralForms()
{
    // "(1 images)" was shown; the English translation gives each count its form.
    QCOMPARE(count::images(1), QStringLiteral("1 image"));
    QCOMPARE(count::images(0), QStringLiteral("0 images"));
    QCOMPARE(count::images(6), QStringLiteral("6 images"));
    QCOMPARE(count::classes(1), QStringLiteral("1 class"));
    QCOMPARE(count::classes(100), QStringLiteral("100 classes"));
    QCOMPARE(count::files(1), QStringLiteral("1 file"));
    QCOMPARE(count::entries(2), QStringLiteral("2 entries"));
    QCOMPARE(count::runs(3), QStringLiteral("3 runs"));
    QCOMPARE(count::shots(1), QStringLiteral("1 shot"));
}

void TestUiWidgets::runProgressIsOneStableBar()
{
    // The engine's events for 2 epochs of 5 steps with an evaluation after each epoch, then the final
    // evaluation of base and new (40 images each), 1 s apart.
    RunProgress progress(2, true);
    double now = 0;
    int last = 0;
    QStringList wrong;
    auto step = [&](qint64 done, qint64 total, const QString &what, double left) {
        const auto s = progress.update(done, total, what, left, now += 1);
        if (s.permille < last || s.permille >= 1000)
            wrong << QStringLiteral("%1 %2/%3: %4 after %5").arg(what).arg(done).arg(total).arg(s.permille).arg(last);
        last = s.permille;
        return s;
    };
    for (int epoch = 1; epoch <= 2; ++epoch) {
        for (int i = 1; i <= 5; ++i)
            step((epoch - 1) * 5 + i, 10, QStringLiteral("epoch %1/2 loss 1.0").arg(epoch), 10 - ((epoch - 1) * 5 + i));
        if (epoch == 1) {
            const int before = last;
            const auto between = step(40, 40, QStringLiteral("evaluating"), 0);
            QCOMPARE(between.permille, before);                    // not "evaluating · 100%"
            QVERIFY(between.text.startsWith(QStringLiteral("epoch 1/2")));
            QVERIFY2(between.secondsLeft > 0, "the training's estimate, not 0 s left");
        }
    }
    QCOMPARE(last, 900);   // training done: 90%
    auto s = step(20, 40, QStringLiteral("evaluating"), 2);
    QCOMPARE(s.permille, 925);
    QVERIFY(s.text.contains(QStringLiteral("test set 1 of 2")));
    QCOMPARE(s.secondsLeft, 6.0);   // 2 s for this set, 4 s for the next of the same size
    step(40, 40, QStringLiteral("evaluating"), 0);
    s = step(10, 40, QStringLiteral("evaluating"), 3);
    QVERIFY(s.text.contains(QStringLiteral("test set 2 of 2")));
    QCOMPARE(s.permille, 962);
    s = step(40, 40, QStringLiteral("evaluating"), 0);
    QCOMPARE(s.permille, 999);   // 1000 is for the finished run
    QVERIFY2(wrong.isEmpty(), qPrintable(wrong.join(QLatin1String("; "))));

    // Zero-shot: the evaluation is the whole run.
    RunProgress zeroShot(1, false);
    QCOMPARE(zeroShot.update(10, 40, QStringLiteral("evaluating"), 3, 1).permille, 250);
}

void TestUiWidgets::confusionModelCells()
{
    ConfusionModel m;
    // rows = true class: cat 8 right 2 wrong (as dog); dog 5/5; bird 0 images.
    m.setMatrix({"cat", "dog", "bird"}, {8, 2, 0, 0, 5, 0, 0, 0, 0});
    QCOMPARE(m.rowCount(), 3);
    QCOMPARE(m.columnCount(), 3);
    QCOMPARE(m.count(0, 0), int64_t(8));
    QCOMPARE(m.count(0, 1), int64_t(2));
    QCOMPARE(m.count(1, 0), int64_t(0));
    QCOMPARE(m.fraction(0, 0), 0.8);
    QCOMPARE(m.fraction(0, 1), 0.2);
    QCOMPARE(m.fraction(1, 1), 1.0);
    QCOMPARE(m.fraction(2, 2), 0.0);   // empty row: no division by zero
    QCOMPARE(m.data(m.index(0, 1), Qt::DisplayRole).toString(), QStringLiteral("2"));
    QVERIFY(!m.data(m.index(1, 0), Qt::DisplayRole).isValid());
    QCOMPARE(m.headerData(2, Qt::Horizontal, Qt::DisplayRole).toString(), QStringLiteral("bird"));
    // Stronger cells are darker.
    const QColor strong = m.data(m.index(1, 1), Qt::BackgroundRole).value<QColor>();
    const QColor weak = m.data(m.index(0, 1), Qt::BackgroundRole).value<QColor>();
    const QColor none = m.data(m.index(2, 2), Qt::BackgroundRole).value<QColor>();
    QVERIFY(strong.lightness() < none.lightness());
    QVERIFY(weak.lightness() < none.lightness());
    QCOMPARE(none, QColor(Qt::white));
    // A damaged matrix (wrong size) shows empty, never reads past its end.
    m.setMatrix({"a", "b"}, {1, 2, 3});
    QCOMPARE(m.count(1, 1), int64_t(0));
}

void TestUiWidgets::runsAggregateOverSeeds()
{
    std::vector<projects::RunInfo> runs(4);
    for (size_t i = 0; i < runs.size(); ++i) {
        runs[i].id = static_cast<int64_t>(i + 1);
        runs[i].method = i < 3 ? "sep" : "coop";
        runs[i].shots = 16;
        runs[i].seed = i + 1;
        runs[i].baseToNew = true;
        runs[i].status = "finished";
    }
    runs[0].accuracy = {{"base", 0.80}, {"new", 0.60}};
    runs[1].accuracy = {{"base", 0.90}, {"new", 0.70}};
    runs[2].status = "failed";   // left out
    runs[3].accuracy = {{"base", 0.85}, {"new", 0.50}};
    runs[0].harmonicMean = 2 * 0.8 * 0.6 / 1.4;
    runs[1].harmonicMean = 2 * 0.9 * 0.7 / 1.6;
    const auto groups = aggregateRuns(runs);
    QCOMPARE(groups.size(), size_t(2));
    const RunGroup &sep = groups[0].method == "sep" ? groups[0] : groups[1];
    QCOMPARE(sep.base.count, int64_t(2));
    QVERIFY(std::abs(sep.base.mean - 0.85) < 1e-12);
    QVERIFY(std::abs(sep.base.std - std::sqrt(0.005)) < 1e-12);   // sample std of 0.8, 0.9
    QCOMPARE(sep.hm.count, int64_t(2));
    QCOMPARE(sep.settings, std::string());   // nothing sets the two groups' runs apart
    QCOMPARE(formatStat(sep.base), QStringLiteral("85.0 ± 7.1"));
    QCOMPARE(formatStat(train::meanStd({0.5})), QStringLiteral("50.0"));
    QCOMPARE(formatStat(train::meanStd({})), QStringLiteral("–"));

    // Runs that differ in anything but the seed are never averaged together, and each group says
    // what sets it apart: a 3-epoch and a 100-epoch run are two rows, "epochs 3" and "epochs 100".
    auto settingsRuns = runs;
    settingsRuns.erase(settingsRuns.begin() + 2, settingsRuns.end());   // the two finished SEP runs
    for (auto &r : settingsRuns)
        r.spec = {{"seed", r.seed}, {"device", "cpu"}, {"data", "/d/pets"}, {"train", {{"epochs", 3}, {"lr", 0.0025}}}};
    QCOMPARE(aggregateRuns(settingsRuns).size(), size_t(1));   // seed and device differ only
    settingsRuns[1].spec["device"] = "cuda:0";
    QCOMPARE(aggregateRuns(settingsRuns).size(), size_t(1));
    settingsRuns[1].spec["train"]["epochs"] = 100;
    auto split = aggregateRuns(settingsRuns);
    QCOMPARE(split.size(), size_t(2));
    std::set<std::string> described;
    for (const auto &g : split) {
        QCOMPARE(g.base.count, int64_t(1));
        described.insert(g.settings);
    }
    QCOMPARE(described, (std::set<std::string>{"epochs 3", "epochs 100"}));

    RunsModel model;
    model.setRuns(runs);
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.data(model.index(0, RunsModel::Base), Qt::DisplayRole).toString(), QStringLiteral("80.0%"));
    QCOMPARE(model.data(model.index(2, RunsModel::Status), Qt::DisplayRole).toString(), QStringLiteral("failed"));
    // A finished run without any accuracy (no test image) says so where its numbers would be.
    runs[1].accuracy.clear();
    runs[1].harmonicMean.reset();
    model.setRuns(runs);
    QCOMPARE(model.data(model.index(1, RunsModel::Base), Qt::DisplayRole).toString(), QStringLiteral("no evaluation"));
    QVERIFY(model.data(model.index(1, RunsModel::Base), Qt::ToolTipRole).toString().contains(QStringLiteral("fewer shots")));
}

void TestUiWidgets::summaryMarksTheBestAndSaysWhenABaselineWins()
{
    auto run = [](int64_t id, const char *method, double hm, const char *data) {
        projects::RunInfo r;
        r.id = id;
        r.method = method;
        r.shots = 2;
        r.seed = 1;
        r.baseToNew = true;
        r.status = "finished";
        r.accuracy = {{"base", hm}, {"new", hm}};
        r.harmonicMean = hm;
        r.spec = {{"data", data}};
        return r;
    };
    RunSummaryModel model;
    // On emoji, zero-shot beats SEP; on pets (another protocol) SEP is best and nothing is said.
    model.setRuns({run(1, "zeroshot", 0.66, "/d/emoji"), run(2, "coop", 0.31, "/d/emoji"), run(3, "sep", 0.61, "/d/emoji"),
                   run(4, "zeroshot", 0.50, "/d/pets"), run(5, "sep", 0.70, "/d/pets")});
    QCOMPARE(model.rowCount(), 5);
    std::map<std::pair<std::string, std::string>, bool> best;
    for (int i = 0; i < model.rowCount(); ++i) {
        const auto &g = model.groups()[static_cast<size_t>(i)];
        best[{g.method, g.data}] = model.isBest(static_cast<size_t>(i));
        const QFont font = model.data(model.index(i, RunSummaryModel::HarmonicMean), Qt::FontRole).value<QFont>();
        QCOMPARE(font.bold(), model.isBest(static_cast<size_t>(i)));
    }
    const auto isBest = [&](const char *method, const char *data) { return best[{method, data}]; };
    QVERIFY(isBest("zeroshot", "/d/emoji") && isBest("sep", "/d/pets"));
    QVERIFY(!isBest("sep", "/d/emoji") && !isBest("coop", "/d/emoji") && !isBest("zeroshot", "/d/pets"));
    const QString verdict = model.verdict();
    QVERIFY2(verdict.contains(QStringLiteral("emoji")) && verdict.contains(QStringLiteral("Zero-shot")) && verdict.contains(QStringLiteral("66.0"))
                 && verdict.contains(QStringLiteral("61.0")) && !verdict.contains(QStringLiteral("pets")),
             qPrintable(verdict));
    model.setRuns({run(4, "zeroshot", 0.50, "/d/pets"), run(5, "sep", 0.70, "/d/pets")});
    QVERIFY(model.verdict().isEmpty());
    // Numbers that show the same (77.4 and 77.4) tie: both marked best, nothing said.
    model.setRuns({run(6, "zeroshot", 0.77424, "/d/toys"), run(7, "sep", 0.77414, "/d/toys")});
    QVERIFY2(model.verdict().isEmpty(), qPrintable(model.verdict()));
    QVERIFY(model.isBest(0) && model.isBest(1));
}

void TestUiWidgets::heatMapFitsAndExplainsItself()
{
    // Three classes: b is the weakest (1 of 4 right, 3 taken for c).
    ConfusionModel model;
    model.setMatrix({"a", "b", "c"}, {4, 0, 0, /**/ 0, 1, 3, /**/ 1, 0, 3});
    ConfusionHeatMap map(&model);
    map.resize(800, 600);
    map.show();
    QVERIFY(QTest::qWaitForWindowExposed(&map));
    const QRectF r = map.matrixRect();
    QVERIFY(QRectF(map.rect()).contains(r));
    QVERIFY(map.cellSize() >= 14);   // large enough that rows and columns carry names
    const auto centre = [&](int row, int col) {
        return QPoint(static_cast<int>(r.left() + (col + 0.5) * map.cellSize()), static_cast<int>(r.top() + (row + 0.5) * map.cellSize()));
    };
    QCOMPARE(map.cellAt(centre(1, 2)), std::make_pair(1, 2));
    QCOMPARE(map.cellAt(QPoint(1, 1)), std::make_pair(-1, -1));
    const QString tip = map.describeCell(1, 2);
    QVERIFY2(tip.contains(QStringLiteral("True class: b")) && tip.contains(QStringLiteral("Predicted: c")) && tip.contains(QStringLiteral("3 images"))
                 && tip.contains(QStringLiteral("75")),
             qPrintable(tip));
    // Worst first: b's row and column move to the top-left.
    map.setOrderByError(true);
    QCOMPARE(map.classAt(0), 1);
    QCOMPARE(map.cellAt(centre(0, 0)), std::make_pair(1, 1));
    // A click lists the cell's images.
    QSignalSpy clicked(&map, &ConfusionHeatMap::cellClicked);
    QTest::mouseClick(&map, Qt::LeftButton, {}, centre(0, 1));
    QCOMPARE(clicked.size(), 1);
    QCOMPARE(clicked.first().at(0).toInt(), 1);
    QCOMPARE(clicked.first().at(1).toInt(), map.classAt(1));
    // Its pixels (near a cell's corner, away from the count): the diagonal in blue, the big mistake
    // (b taken for c, now row 0, column 1) in red.
    const QImage shot = map.grab().toImage();
    const QPoint corner(-static_cast<int>(map.cellSize() / 2) + 4, -static_cast<int>(map.cellSize() / 2) + 4);
    QCOMPARE(map.classAt(1), 2);
    const QColor right = shot.pixelColor(centre(1, 1) + corner), wrong = shot.pixelColor(centre(0, 1) + corner);
    QVERIFY2(right.blue() > right.red() + 60, qPrintable(right.name()));
    QVERIFY2(wrong.red() > wrong.blue() + 60, qPrintable(wrong.name()));

    // A thousand classes still fit, zoom in around the pointer and come back.
    std::vector<std::string> names;
    std::vector<int64_t> counts(1000 * 1000, 0);
    for (int i = 0; i < 1000; ++i) {
        names.push_back("class " + std::to_string(i));
        counts[static_cast<size_t>(i * 1000 + i)] = 4;
        counts[static_cast<size_t>(i * 1000 + (i + 1) % 1000)] = i % 3;
    }
    QElapsedTimer timer;
    timer.start();
    model.setMatrix(names, counts);
    map.grab();
    qInfo("heat map of 1000 classes: set and drawn in %lld ms", static_cast<long long>(timer.elapsed()));
    QVERIFY(QRectF(map.rect()).contains(map.matrixRect()));
    QVERIFY(map.cellSize() > 0.3);
    const double fitted = map.cellSize();
    QWheelEvent in(QPointF(300, 300), map.mapToGlobal(QPointF(300, 300)), QPoint(), QPoint(0, 1200), Qt::NoButton, Qt::NoModifier,
                   Qt::NoScrollPhase, false);
    QApplication::sendEvent(&map, &in);
    QVERIFY(map.cellSize() > 5 * fitted);
    map.resetZoom();
    QCOMPARE(map.cellSize(), fitted);
}

void TestUiWidgets::curvesBatchReplots()
{
    CurvesView view;
    view.resize(600, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QTest::qWait(250);
    const int before = view.replotCount();
    std::vector<projects::EpochRow> rows;
    for (int e = 1; e <= 50; ++e) {
        projects::EpochRow r;
        r.epoch = e;
        r.loss = 2.0 / e;
        r.testAccuracy = {{"base", 0.5 + e * 0.005}, {"new", 0.4 + e * 0.004}};
        rows.push_back(r);
        view.setRun(1, QStringLiteral("run 1"), rows);   // 50 updates in a burst …
    }
    QCOMPARE(view.pointCount(1), 50);
    QTRY_VERIFY(view.replotCount() > before);
    QTest::qWait(300);
    QVERIFY2(view.replotCount() - before <= 4, "a burst of updates must be replotted once, not per update");
    view.setRun(2, QStringLiteral("run 2"), {rows.begin(), rows.begin() + 10});
    QCOMPARE(view.pointCount(2), 10);
    QCOMPARE(view.runs().size(), 2);
    const QString png = m_dir.filePath(QStringLiteral("curves.png"));
    const QString pdf = m_dir.filePath(QStringLiteral("curves.pdf"));
    QVERIFY(view.savePng(png));
    QVERIFY(view.savePdf(pdf));
    QVERIFY(QFileInfo(png).size() > 1000);
    QVERIFY(QFileInfo(pdf).size() > 1000);
    QVERIFY(distinctColours(QImage(png)) > 10);
    view.removeRun(1);
    QCOMPARE(view.pointCount(1), 0);
}

void TestUiWidgets::curvesFollowANewRunUnlessZoomed()
{
    CurvesView view;
    view.resize(600, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    auto rowsOf = [](int epochs) {
        std::vector<projects::EpochRow> rows;
        for (int e = 1; e <= epochs; ++e) {
            projects::EpochRow r;
            r.epoch = e;
            r.loss = 3.0 / e;
            r.testAccuracy = {{"all", 0.3 + 0.001 * e}};
            rows.push_back(r);
        }
        return rows;
    };
    auto *plot = view.findChild<QCustomPlot *>();
    QVERIFY(plot);
    auto epochAxesReach = [&](double upper) {
        for (QCPAxisRect *r : plot->axisRects())
            if (r->axis(QCPAxis::atBottom)->range().upper < upper)
                return false;
        return true;
    };
    view.setRun(1, QStringLiteral("run 1"), rowsOf(3));
    QTest::qWait(250);   // the replot timer
    QVERIFY(!epochAxesReach(100));
    // A click that moves nothing, then a 100-epoch run: it is drawn whole, not off the plot.
    QTest::mouseClick(plot, Qt::LeftButton, {}, QPoint(300, 100));
    view.setRun(2, QStringLiteral("run 2"), rowsOf(100));
    QTest::qWait(250);   // the replot timer
    QVERIFY(epochAxesReach(100));
    // A zoom the user made stays while the same run goes on.
    QWheelEvent wheel(QPointF(300, 100), plot->mapToGlobal(QPointF(300, 100)), {}, QPoint(0, 120), Qt::NoButton,
                      Qt::NoModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(plot, &wheel);
    const QCPRange zoomed = plot->axisRects().first()->axis(QCPAxis::atBottom)->range();
    QVERIFY(zoomed.upper < 100);
    view.setRun(2, QStringLiteral("run 2"), rowsOf(120));
    QTest::qWait(250);   // the replot timer
    QCOMPARE(plot->axisRects().first()->axis(QCPAxis::atBottom)->range().upper, zoomed.upper);
}

void TestUiWidgets::curvesLegendPerPanelBaselinesAndStableColours()
{
    CurvesView view;
    view.resize(900, 500);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    std::vector<projects::EpochRow> lossOnly(3);
    for (int e = 0; e < 3; ++e) {
        lossOnly[static_cast<size_t>(e)].epoch = e + 1;
        lossOnly[static_cast<size_t>(e)].loss = 2.0 / (e + 1);
    }
    // A run trained without evaluation is still in the loss panel's legend; the accuracy legend
    // lists accuracy series only.
    view.setRun(5, QStringLiteral("run 5"), lossOnly);
    // Zero-shot has no epochs: its final accuracy is a horizontal line with a legend entry.
    view.setRun(2, QStringLiteral("run 2"), {}, {{"base", 0.6}, {"new", 0.5}});
    view.setRun(9, QStringLiteral("run 9"), {});
    view.resetZoom();
    QCOMPARE(view.lossLegend()->itemCount(), 1);
    QCOMPARE(view.accuracyLegend()->itemCount(), 2);
    QCPGraph *baseline = nullptr;
    for (int i = 0; i < view.plot()->graphCount(); ++i)
        if (view.plot()->graph(i)->name() == QStringLiteral("run 2 · base"))
            baseline = view.plot()->graph(i);
    QVERIFY(baseline);
    QCOMPARE(baseline->dataCount(), 2);
    QCOMPARE(baseline->data()->at(0)->value, 60.0);
    QCOMPARE(baseline->data()->at(1)->value, 60.0);
    QVERIFY(view.accuracyLegend()->hasItemWithPlottable(baseline));
    QVERIFY(!view.lossLegend()->hasItemWithPlottable(baseline));
    // A run with nothing to draw is named under the plot.
    QVERIFY2(view.note().contains(QStringLiteral("run 9")) && !view.note().contains(QStringLiteral("run 2")),
             qPrintable(view.note()));
    // The legends sit beside the plots, never over them.
    view.plot()->replot();   // lays the elements out now
    for (QCPLegend *legend : {view.lossLegend(), view.accuracyLegend()}) {
        QVERIFY(legend->outerRect().width() > 20 && legend->outerRect().height() > 10);
        for (QCPAxisRect *rect : view.plot()->axisRects())
            QVERIFY(!legend->outerRect().intersects(rect->rect()));
    }
    // A run keeps its colour whatever else is shown.
    const QColor before = baseline->pen().color();
    view.clear();
    view.setRun(7, QStringLiteral("run 7"), lossOnly);
    view.setRun(2, QStringLiteral("run 2"), {}, {{"base", 0.6}});
    for (int i = 0; i < view.plot()->graphCount(); ++i)
        if (view.plot()->graph(i)->name() == QStringLiteral("run 2 · base"))
            QCOMPARE(view.plot()->graph(i)->pen().color(), before);
    QCOMPARE(CurvesView::colourOf(2), before);
    QVERIFY(CurvesView::colourOf(2) != CurvesView::colourOf(3));
    // Removing a run takes its entries out of both legends.
    view.removeRun(2);
    QCOMPARE(view.accuracyLegend()->itemCount(), 0);
}

void TestUiWidgets::wizardDetectsModel()
{
    NewProjectWizard wizard;
    QSignalSpy checked(&wizard, &NewProjectWizard::modelChecked);
    // The tiny model's byte-level vocabulary has a name the loader does not look for: without it the
    // wizard asks for one …
    wizard.chooseWeights(QString::fromStdString(m_model.weights));
    QVERIFY(checked.wait(30000));
    QCOMPARE(checked.first().first().toBool(), false);
    QVERIFY2(wizard.modelMessage().contains(QStringLiteral("vocab"), Qt::CaseInsensitive), qPrintable(wizard.modelMessage()));
    // … and with it, shows the architecture.
    checked.clear();
    wizard.findChild<QLineEdit *>(QStringLiteral("vocabPath"))->setText(QString::fromStdString(m_model.vocab));
    wizard.chooseWeights(QString::fromStdString(m_model.weights));
    QVERIFY(checked.wait(30000));
    QVERIFY2(checked.first().first().toBool(), qPrintable(wizard.modelMessage()));
    QVERIFY(wizard.modelReady());
    QVERIFY(wizard.model().parameters > 0);
    QVERIFY2(wizard.modelMessage().contains(QStringLiteral("parameters")), qPrintable(wizard.modelMessage()));
    QVERIFY2(wizard.modelMessage().contains(QStringLiteral("patch 8")), qPrintable(wizard.modelMessage()));
}

void TestUiWidgets::wizardRefusesBadWeights()
{
    const QString junk = m_dir.filePath(QStringLiteral("not-weights.pt"));
    {
        QFile f(junk);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("this is not a model\n");
    }
    NewProjectWizard wizard;
    QSignalSpy checked(&wizard, &NewProjectWizard::modelChecked);
    wizard.chooseWeights(junk);
    QVERIFY(checked.wait(30000));
    QCOMPARE(checked.first().first().toBool(), false);
    QVERIFY(!wizard.modelReady());
    QVERIFY2(wizard.modelMessage().contains(QStringLiteral("not-weights.pt")), qPrintable(wizard.modelMessage()));
    // A folder dropped where weights go.
    checked.clear();
    wizard.chooseWeights(m_data);
    QVERIFY(checked.wait(30000));
    QCOMPARE(checked.first().first().toBool(), false);
    QVERIFY2(wizard.modelMessage().contains(QStringLiteral("is a folder")), qPrintable(wizard.modelMessage()));
    QVERIFY(QFile::exists(junk));   // nothing lost
}

void TestUiWidgets::wizardScansFolder()
{
    NewProjectWizard wizard;
    QSignalSpy scanned(&wizard, &NewProjectWizard::folderScanned);
    // One unreadable file among the images.
    const QString broken = m_dir.filePath(QStringLiteral("withbroken"));
    test::writeColourFolder(broken, {"a", "b"}, 3, 2);
    {
        QFile f(broken + QStringLiteral("/a/broken.png"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("PNG? no");
    }
    wizard.chooseFolder(broken);
    QVERIFY(scanned.wait(30000));
    QCOMPARE(scanned.first().first().toBool(), true);
    QCOMPARE(wizard.classTable()->rowCount(), 2);
    QCOMPARE(wizard.classTable()->item(0, 2)->text(), QStringLiteral("4"));   // counts include the broken file …
    QVERIFY2(wizard.folderMessage().contains(QStringLiteral("2 classes")), qPrintable(wizard.folderMessage()));
    QVERIFY2(wizard.folderMessage().contains(QStringLiteral("not usable")), qPrintable(wizard.folderMessage()));   // … flagged
    auto *issues = wizard.findChild<QListWidget *>(QStringLiteral("scanIssues"));
    QVERIFY(issues);
    bool named = false;
    for (int i = 0; i < issues->count(); ++i)
        named |= issues->item(i)->text().contains(QStringLiteral("broken.png"));
    QVERIFY(named);
    // Class names are editable.
    wizard.classTable()->item(1, 0)->setText(QStringLiteral("bee"));
    QCOMPARE(wizard.classNames(), QStringList({QStringLiteral("a"), QStringLiteral("bee")}));
}

void TestUiWidgets::wizardRefusesFileAndEmptyFolder()
{
    NewProjectWizard wizard;
    QSignalSpy scanned(&wizard, &NewProjectWizard::folderScanned);
    wizard.chooseFolder(QString::fromStdString(m_model.weights));   // a file dropped where a folder goes
    QCOMPARE(scanned.count(), 1);
    QCOMPARE(scanned.first().first().toBool(), false);
    QVERIFY2(wizard.folderMessage().contains(QStringLiteral("is a file")), qPrintable(wizard.folderMessage()));
    scanned.clear();
    const QString empty = m_dir.filePath(QStringLiteral("empty"));
    QDir().mkpath(empty + QStringLiteral("/no_images_here"));
    wizard.chooseFolder(empty);
    QVERIFY(scanned.wait(30000));
    QCOMPARE(scanned.first().first().toBool(), false);
    QVERIFY(!wizard.folderReady());
    QVERIFY2(wizard.folderMessage().contains(empty), qPrintable(wizard.folderMessage()));
}

void TestUiWidgets::wizardCreatesProject()
{
    NewProjectWizard wizard;
    wizard.show();
    wizard.setName(QStringLiteral("made-by-wizard"), m_dir.path());
    QSignalSpy model(&wizard, &NewProjectWizard::modelChecked);
    QSignalSpy folder(&wizard, &NewProjectWizard::folderScanned);
    QSignalSpy created(&wizard, &NewProjectWizard::projectCreated);
    wizard.next();
    QCOMPARE(wizard.currentId(), int(NewProjectWizard::ModelPage));
    wizard.findChild<QLineEdit *>(QStringLiteral("vocabPath"))->setText(QString::fromStdString(m_model.vocab));
    wizard.chooseWeights(QString::fromStdString(m_model.weights));
    QVERIFY(model.wait(30000));
    QVERIFY(wizard.button(QWizard::NextButton)->isEnabled());
    const QString shots = QStringLiteral(SEP_TEST_BINARY_DIR "/screenshots");
    QDir().mkpath(shots);
    wizard.resize(820, 620);
    QVERIFY(wizard.grab().save(shots + QStringLiteral("/new-project-model.png")));
    wizard.next();
    QCOMPARE(wizard.currentId(), int(NewProjectWizard::DataPage));
    wizard.chooseFolder(m_data);
    QVERIFY(folder.wait(30000));
    QVERIFY(wizard.grab().save(shots + QStringLiteral("/new-project-images.png")));
    // A name edited here is kept in the project; the image folder is only read.
    const QStringList dataBefore = test::folderSnapshot(m_data);
    const std::string editedFolder = wizard.classTable()->item(1, 1)->text().toStdString();
    wizard.classTable()->item(1, 0)->setText(QStringLiteral("named in the wizard"));
    wizard.next();
    QCOMPARE(wizard.currentId(), int(NewProjectWizard::ProtocolPage));
    QCOMPARE(wizard.findChild<QSpinBox *>(QStringLiteral("shots"))->value(), 16);
    QVERIFY(wizard.findChild<QCheckBox *>(QStringLiteral("baseToNew"))->isChecked());
    wizard.button(QWizard::FinishButton)->click();
    QVERIFY(created.wait(60000));
    const QString path = m_dir.filePath(QStringLiteral("made-by-wizard.sepproj"));
    QCOMPARE(created.first().first().toString(), path);
    QVERIFY(QFile::exists(path));
    QCOMPARE(ProjectDefaults::load(path).weights, QString::fromStdString(m_model.weights));
    QCOMPARE(test::folderSnapshot(m_data), dataBefore);
    {
        projects::OpenOptions ro;
        ro.readOnly = true;
        auto store = projects::ProjectStore::open(path.toStdString(), ro);
        QCOMPARE(store.givenClassNames(store.datasets().front().id),
                 (std::map<std::string, std::string>{{editedFolder, "named in the wizard"}}));
    }
    // A second project of the same name is refused on the first page, the first left alone.
    NewProjectWizard again;
    again.show();
    again.setName(QStringLiteral("made-by-wizard"), m_dir.path());
    again.next();
    QCOMPARE(again.currentId(), int(NewProjectWizard::NamePage));
}

void TestUiWidgets::wizardOffersBuiltinModel()
{
    if (builtinModelWeights().empty())
        QSKIP("the built-in model is not installed in this tree (resources/models/builtin)");
    NewProjectWizard wizard;
    wizard.show();
    wizard.setName(QStringLiteral("with-builtin"), m_dir.path());
    QSignalSpy model(&wizard, &NewProjectWizard::modelChecked);
    QSignalSpy folder(&wizard, &NewProjectWizard::folderScanned);
    QSignalSpy created(&wizard, &NewProjectWizard::projectCreated);
    wizard.next();
    // Offered and chosen by default, with its architecture shown before going on.
    QVERIFY(wizard.findChild<QRadioButton *>(QStringLiteral("modelBuiltin"))->isChecked());
    QVERIFY(model.wait(60000));
    QVERIFY2(wizard.modelReady(), qPrintable(wizard.modelMessage()));
    QVERIFY(wizard.model().parameters > 0);
    QVERIFY(wizard.modelMessage().contains(QStringLiteral("parameters")));
    QVERIFY(wizard.grab().save(QStringLiteral(SEP_TEST_BINARY_DIR "/screenshots/new-project-builtin.png")));
    wizard.next();
    wizard.chooseFolder(m_data);
    QVERIFY(folder.wait(30000));
    wizard.next();
    wizard.button(QWizard::FinishButton)->click();
    QVERIFY(created.wait(60000));
    QCOMPARE(ProjectDefaults::load(m_dir.filePath(QStringLiteral("with-builtin.sepproj"))).weights,
             QString::fromStdString(builtinModelWeights()));
}

void TestUiWidgets::wizardLocationExistsOrIsCreated()
{
    // Offered first: a folder that exists, even where Documents does not.
    QSettings().remove(QStringLiteral("newProject/location"));
    QVERIFY(QFileInfo(NewProjectWizard::defaultLocation()).isDir());
    // A location typed that does not exist yet is announced, then created on Next.
    NewProjectWizard wizard;
    wizard.show();
    const QString fresh = m_dir.filePath(QStringLiteral("not/yet/there"));
    wizard.setName(QStringLiteral("p"), fresh);
    QVERIFY(wizard.findChild<QLabel *>(QStringLiteral("projectLocationNote"))->text().contains(QStringLiteral("will be created")));
    wizard.next();
    QCOMPARE(wizard.currentId(), int(NewProjectWizard::ModelPage));
    QVERIFY(QFileInfo(fresh).isDir());
    // A file where the folder should be is refused by name.
    NewProjectWizard refused;
    refused.show();
    const QString file = m_dir.filePath(QStringLiteral("a-file"));
    QFile(file).open(QIODevice::WriteOnly);
    refused.setName(QStringLiteral("p"), file);
    refused.next();
    QCOMPARE(refused.currentId(), int(NewProjectWizard::NamePage));
}

void TestUiWidgets::windowRefusesWhatIsNotAProject()
{
    MainWindow window;
    window.setInteractive(false);
    window.show();
    // An image renamed .sepproj: a message naming it, the file untouched, still on the welcome page.
    const QString fake = m_dir.filePath(QStringLiteral("picture.sepproj"));
    QVERIFY(QFile::copy(m_data + QStringLiteral("/red_thing/0.png"), fake));
    const QByteArray before = [&] {
        QFile f(fake);
        f.open(QIODevice::ReadOnly);
        return f.readAll();
    }();
    QVERIFY(!window.openProject(fake));
    QVERIFY2(window.logDock()->text().contains(QStringLiteral("picture.sepproj")), qPrintable(window.logDock()->text()));
    QCOMPARE(window.pages()->currentWidget(), static_cast<QWidget *>(window.welcome()));
    QFile f(fake);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), before);
    QVERIFY(!QFile::exists(fake + QStringLiteral(".lock")));
    // A folder dropped on the window.
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(m_data)});
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&window, &drop);
    QVERIFY2(window.logDock()->text().contains(QStringLiteral("is not a SEP Studio project")), qPrintable(window.logDock()->text()));
}

void TestUiWidgets::runDetailsShowNameNotesAndRecord()
{
    projects::RunInfo run;
    run.id = 7;
    run.method = "sep";
    run.status = "finished";
    run.name = "first try";
    run.notes = "two shots\nnext: four";
    run.accuracy = {{"all", 0.5}};
    const std::vector<projects::RecordLine> record = {{"seed", "3"}, {"weights SHA-256", std::string(64, 'a')}};
    RunDetailsDialog dialog(run, record);
    QCOMPARE(dialog.findChild<QLineEdit *>(QStringLiteral("runName"))->text(), QStringLiteral("first try"));
    QCOMPARE(dialog.findChild<QPlainTextEdit *>(QStringLiteral("runNotes"))->toPlainText(), QStringLiteral("two shots\nnext: four"));
    auto *table = dialog.findChild<QTableWidget *>(QStringLiteral("reproducibilityRecord"));
    QCOMPARE(table->rowCount(), 2);
    QCOMPARE(table->item(1, 0)->text(), QStringLiteral("weights SHA-256"));
    QCOMPARE(dialog.recordText(), QStringLiteral("seed: 3\nweights SHA-256: ") + QString(64, QLatin1Char('a')) + QLatin1Char('\n'));
    dialog.findChild<QPushButton *>(QStringLiteral("copyRecord"))->click();
    QCOMPARE(QApplication::clipboard()->text(), dialog.recordText());
    dialog.findChild<QLineEdit *>(QStringLiteral("runName"))->setText(QStringLiteral("  renamed  "));
    QCOMPARE(dialog.name(), QStringLiteral("renamed"));

    // The runs table: the name in its column, a mark when there are notes, the notes in the tooltip.
    RunsModel model;
    model.setRuns({run});
    QCOMPARE(model.data(model.index(0, RunsModel::Name), Qt::DisplayRole).toString(), QStringLiteral("first try ✎"));
    QVERIFY(model.data(model.index(0, RunsModel::Method), Qt::ToolTipRole).toString().contains(QStringLiteral("next: four")));
    run.notes.clear();
    model.setRuns({run});
    QCOMPARE(model.data(model.index(0, RunsModel::Name), Qt::DisplayRole).toString(), QStringLiteral("first try"));
}

void TestUiWidgets::settingsAreTypedAndSurviveDamage()
{
    QSettings raw;
    // Recent projects: newest first, no duplicates, capped.
    raw.remove(QStringLiteral("recentProjects"));
    for (int i = 0; i < settings::kMaxRecentProjects + 3; ++i)
        settings::addRecentProject(m_dir.filePath(QStringLiteral("p%1.sepproj").arg(i)));
    settings::addRecentProject(m_dir.filePath(QStringLiteral("p5.sepproj")));
    const QStringList recent = settings::recentProjects();
    QCOMPARE(recent.size(), settings::kMaxRecentProjects);
    QCOMPARE(recent.front(), m_dir.filePath(QStringLiteral("p5.sepproj")));
    QCOMPARE(recent.count(m_dir.filePath(QStringLiteral("p5.sepproj"))), 1);

    // A damaged value reads as the default, not as 0.
    const QString project = m_dir.filePath(QStringLiteral("damaged.sepproj"));
    ProjectDefaults d;
    d.shots = 4;
    d.seed = 9;
    d.save(project);
    QCOMPARE(ProjectDefaults::load(project).shots, 4);
    // The key as settings.cpp spells it (this run's folder: the settings file outlives test runs).
    QString escaped = QFileInfo(project).absoluteFilePath();
    escaped.replace(QLatin1Char('/'), QLatin1Char('|'));
    const QString group = QStringLiteral("projectDefaults/") + escaped + QStringLiteral("/shots");
    QCOMPARE(raw.value(group).toInt(), 4);
    raw.setValue(group, QStringLiteral("sixteen"));
    QCOMPARE(ProjectDefaults::load(project).shots, ProjectDefaults().shots);
    QCOMPARE(ProjectDefaults::load(project).seed, 9);

    for (auto theme : {settings::Theme::Dark, settings::Theme::Light, settings::Theme::System}) {
        settings::setTheme(theme);
        QCOMPARE(settings::theme(), theme);
    }
    raw.setValue(QStringLiteral("appearance/theme"), 42);
    QCOMPARE(settings::theme(), settings::Theme::System);
    settings::setLastProjectLocation(m_dir.path());
    QCOMPARE(settings::lastProjectLocation(), m_dir.path());
}

namespace {

// The mean lightness of the middle of a widget as drawn.
int lightnessOf(QWidget *w)
{
    const QImage image = w->grab().toImage();
    int64_t sum = 0, n = 0;
    for (int y = image.height() / 4; y < image.height() * 3 / 4; y += 4)
        for (int x = image.width() / 4; x < image.width() * 3 / 4; x += 4, ++n)
            sum += QColor(image.pixel(x, y)).lightness();
    return n ? static_cast<int>(sum / n) : -1;
}

} // namespace

void TestUiWidgets::darkThemeReachesThePlots()
{
    CurvesView view;
    view.resize(700, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const int light = lightnessOf(view.plot());
    applyTheme(settings::Theme::Dark);
    QCoreApplication::processEvents();
    const int dark = lightnessOf(view.plot());
    // Text stays readable: the palette's text is light on a dark base.
    const QPalette p = view.palette();
    const bool darkPalette = p.color(QPalette::Base).lightness() < 80 && p.color(QPalette::Text).lightness() > 180;
    applyTheme(settings::Theme::Light);
    QCoreApplication::processEvents();
    const int lightAgain = lightnessOf(view.plot());
    QVERIFY2(light > 200 && dark < 80 && lightAgain > 200,
             qPrintable(QStringLiteral("plot lightness %1 → %2 → %3").arg(light).arg(dark).arg(lightAgain)));
    QVERIFY(darkPalette);
    applyTheme(settings::Theme::System);
}

namespace {
// WCAG 2 contrast ratio of two colours, from their relative luminance.
double contrast(const QColor &a, const QColor &b)
{
    const auto luminance = [](const QColor &c) {
        const auto channel = [](double v) { return v <= 0.03928 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4); };
        return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF());
    };
    const double la = luminance(a), lb = luminance(b);
    return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}
} // namespace

void TestUiWidgets::meaningColoursAreReadableInEveryTheme()
{
    // Errors, warnings, right and wrong answers are coloured text on the palette's Base: each must
    // stay readable (WCAG AA, 4.5:1) whichever theme is on, and differ between the themes.
    const Tone tones[] = {Tone::Good, Tone::Bad, Tone::Warning, Tone::Base, Tone::New, Tone::Muted};
    std::map<int, QRgb> onLight;
    for (auto theme : {settings::Theme::Light, settings::Theme::Dark}) {
        applyTheme(theme);
        const QColor base = QApplication::palette().color(QPalette::Base);
        for (Tone t : tones) {
            const QColor c = toneColour(t);
            QVERIFY2(contrast(c, base) >= 4.5, qPrintable(QStringLiteral("tone %1: %2 on %3 is %4:1")
                                                               .arg(static_cast<int>(t)).arg(c.name(), base.name())
                                                               .arg(contrast(c, base), 0, 'f', 2)));
            if (theme == settings::Theme::Light)
                onLight[static_cast<int>(t)] = c.rgb();
            else
                QVERIFY(onLight[static_cast<int>(t)] != c.rgb());
            QVERIFY(toneHtml(t, QStringLiteral("<b>x</b>")).contains(c.name()));
        }
    }
    applyTheme(settings::Theme::Light);
}


int main(int argc, char **argv)
{
    sep::configureThreads();
    QApplication app(argc, argv);
    sep::ui::installTranslations();
    QApplication::setOrganizationName(QStringLiteral("SEP Studio tests"));
    QApplication::setApplicationName(QStringLiteral("test_ui_widgets"));
    TestUiWidgets tc;
QTEST_SET_MAIN_SOURCE_PATH
    const int failed = QTest::qExec(&tc, argc, argv);
    return sep::ui::stopAllJobs() ? failed : 1;
}

#include "test_ui_widgets.moc"

