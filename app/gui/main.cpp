// sep-studio: the desktop application. A thin main: application identity (for QSettings), style,
// the main window, and a few options for scripted use (open a project, take a screenshot, benchmark
// the UI thread).
#include "engine/core/runtime.h"
#include "engine/core/version.h"
#include "ui/bench.h"
#include "ui/inspector_view.h"
#include "ui/project_session.h"
#include "ui/jobs.h"
#include "ui/main_window.h"
#include "ui/theme.h"
#include "ui/translations.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QStyleFactory>
#include <QTabWidget>
#include <QTimer>
#include <QWizard>

int main(int argc, char **argv)
{
    sep::configureThreads();
    QApplication::setHighDpiScaleFactorRoundingPolicy(Qt::HighDpiScaleFactorRoundingPolicy::PassThrough);
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("SEP Studio"));
    QApplication::setOrganizationName(QStringLiteral("SEP Studio"));
    QApplication::setOrganizationDomain(QStringLiteral("sep-studio.org"));
    QApplication::setApplicationVersion(QString::fromStdString(sep::programVersion()));
    QApplication::setDesktopFileName(QStringLiteral("sep-studio"));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/sep-studio.svg")));
    // Fusion follows the platform's light or dark palette and looks the same everywhere.
    QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    sep::ui::applyTheme(sep::ui::settings::theme());
    sep::ui::installTranslations();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("SEP Studio: few-shot prompt tuning of CLIP models"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("project"), QStringLiteral("A project (.sepproj) to open"), QStringLiteral("[project]"));
    QCommandLineOption bench(QStringLiteral("bench-ui"), QStringLiteral("Train SEP on generated images for a while and print the UI thread's longest stall and 99th percentile"));
    QCommandLineOption benchSeconds(QStringLiteral("bench-seconds"), QStringLiteral("Length of --bench-ui (default 60)"), QStringLiteral("s"), QStringLiteral("60"));
    QCommandLineOption weights(QStringLiteral("weights"), QStringLiteral("Weights for --bench-ui (default: the built-in model)"), QStringLiteral("file"));
    QCommandLineOption vocab(QStringLiteral("vocab"), QStringLiteral("Vocabulary for --bench-ui's weights, when not beside them"), QStringLiteral("file"));
    QCommandLineOption screenshot(QStringLiteral("screenshot"), QStringLiteral("Save a picture of the window to FILE after a moment, then quit"), QStringLiteral("file"));
    QCommandLineOption tab(QStringLiteral("tab"), QStringLiteral("With --screenshot: the tab to show (0 dataset, 1 curves, 2 results, 3 inspector)"), QStringLiteral("n"));
    QCommandLineOption delay(QStringLiteral("delay"), QStringLiteral("With --screenshot: milliseconds to wait (default 2000)"), QStringLiteral("ms"), QStringLiteral("2000"));
    QCommandLineOption dialog(QStringLiteral("dialog"), QStringLiteral("With --screenshot: open a dialog first (new, train, export, details)"), QStringLiteral("name"));
    dialog.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption dialogPage(QStringLiteral("dialog-page"), QStringLiteral("With --dialog: go this many pages on in a wizard"), QStringLiteral("n"));
    dialogPage.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption size(QStringLiteral("size"), QStringLiteral("The window's size, e.g. 800x600 (scripted screenshots)"), QStringLiteral("WxH"));
    size.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption inspect(QStringLiteral("inspect"), QStringLiteral("Show the first test image of the latest evaluated run in the inspector (scripted screenshots)"));
    inspect.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption then(QStringLiteral("then"), QStringLiteral("Open this project after the first (scripted screenshots)"), QStringLiteral("project"));
    then.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption theme(QStringLiteral("theme"), QStringLiteral("Colours for this session only: system, light or dark"), QStringLiteral("name"));
    parser.addOptions({theme, bench, benchSeconds, weights, vocab, screenshot, tab, delay, dialog, dialogPage, size, then, inspect});
    parser.process(app);

    if (parser.isSet(theme)) {
        const QString name = parser.value(theme);
        sep::ui::applyTheme(name == QLatin1String("dark")    ? sep::ui::settings::Theme::Dark
                            : name == QLatin1String("light") ? sep::ui::settings::Theme::Light
                                                             : sep::ui::settings::Theme::System);
    }
    sep::ui::MainWindow window;
    if (parser.isSet(size)) {
        const QStringList wh = parser.value(size).split(QLatin1Char('x'));
        if (wh.size() == 2 && wh[0].toInt() > 0 && wh[1].toInt() > 0)
            window.resize(wh[0].toInt(), wh[1].toInt());
    }
    window.show();
    if (!parser.positionalArguments().isEmpty())
        window.openProject(QDir::current().absoluteFilePath(parser.positionalArguments().first()));
    if (parser.isSet(inspect) && window.session()->store()) {
        const auto &runs = window.session()->runs();
        for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
            if (it->accuracy.empty())
                continue;
            const auto evaluations = window.session()->store()->evaluations(it->id);
            if (!evaluations.empty()) {
                window.inspector()->inspect(it->id, evaluations.front().id, 0);
                window.tabs()->setCurrentWidget(window.inspector());
            }
            break;
        }
    }
    if (parser.isSet(then))
        QTimer::singleShot(800, &window, [&window, &parser, &then, &tab] {
            window.openProject(QDir::current().absoluteFilePath(parser.value(then)));
            if (parser.isSet(tab))
                window.tabs()->setCurrentIndex(parser.value(tab).toInt());
        });
    if (parser.isSet(tab))
        window.tabs()->setCurrentIndex(parser.value(tab).toInt());
    if (parser.isSet(dialog)) {
        const QString name = parser.value(dialog);
        if (name == QLatin1String("new"))
            window.newProject();
        else if (name == QLatin1String("train"))
            window.trainDialog();
        else if (name == QLatin1String("export"))
            window.exportDialog();
        else if (name == QLatin1String("details") && !window.session()->runs().empty())
            QTimer::singleShot(0, &window, [&window] { window.runDetailsDialog(window.session()->runs().back().id); });
        if (auto *wizard = window.findChild<QWizard *>())
            for (int i = 0; i < parser.value(dialogPage).toInt(); ++i)
                wizard->next();
    }
    if (parser.isSet(screenshot)) {
        const QString file = parser.value(screenshot);
        QTimer::singleShot(parser.value(delay).toInt(), &window, [&window, file] {
            QWidget *target = QApplication::activeModalWidget() ? QApplication::activeModalWidget() : &window;
            const bool ok = target->grab().save(file);
            QApplication::exit(ok ? 0 : 1);
        });
    }
    if (parser.isSet(bench))
        sep::ui::startUiBench(&window, parser.value(benchSeconds).toInt(), parser.value(weights), parser.value(vocab));
    const int code = app.exec();
    sep::ui::stopAllJobs();   // no worker may outlive the application
    return code;
}
