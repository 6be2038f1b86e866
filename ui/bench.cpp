#include "ui/bench.h"

#include "ui/engine_facade.h"
#include "ui/jobs.h"
#include "ui/main_window.h"
#include "ui/qt_convert.h"
#include "engine/core/data_paths.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QImage>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

namespace sep::ui {

namespace {

struct Bench {
    MainWindow *window = nullptr;
    QTemporaryDir dir;
    QElapsedTimer clock;
    qint64 last = 0;
    std::vector<double> stalls;
    QTimer ticker;
    bool measuring = false;
    int epochs = 0;
};

void writeColourFolder(const QString &root, int classes, int perClass)
{
    QRandomGenerator rng(7);
    for (int c = 0; c < classes; ++c) {
        const QString dir = QStringLiteral("%1/class_%2").arg(root).arg(c);
        QDir().mkpath(dir);
        const QColor base = QColor::fromHsv(c * 360 / classes, 200, 220);
        for (int i = 0; i < perClass; ++i) {
            QImage img(64, 64, QImage::Format_RGB888);
            for (int y = 0; y < 64; ++y)
                for (int x = 0; x < 64; ++x) {
                    const int n = static_cast<int>(rng.bounded(60)) - 30;
                    img.setPixelColor(x, y, QColor(std::clamp(base.red() + n, 0, 255), std::clamp(base.green() + n, 0, 255),
                                                   std::clamp(base.blue() + n, 0, 255)));
                }
            img.save(QStringLiteral("%1/%2.png").arg(dir).arg(i));
        }
    }
}

void finish(const std::shared_ptr<Bench> &b)
{
    b->ticker.stop();
    std::vector<double> s = b->stalls;
    std::sort(s.begin(), s.end());
    const double worst = s.empty() ? 0 : s.back();
    const double p99 = s.empty() ? 0 : s[static_cast<size_t>(0.99 * static_cast<double>(s.size() - 1))];
    std::printf("bench-ui: %zu event-loop ticks measured while training (%d progress updates received)\n", s.size(), b->epochs);
    std::printf("bench-ui: longest stall %.1f ms, 99th percentile %.1f ms (target: under 50 ms)\n", worst, p99);
    std::fflush(stdout);
    QCoreApplication::exit(worst < 50 ? 0 : 1);
}

} // namespace

void startUiBench(MainWindow *window, int seconds, const QString &weightsArg, const QString &vocab)
{
    auto b = std::make_shared<Bench>();
    b->window = window;
    const QString weights = weightsArg.isEmpty() ? qs(builtinModelWeights()) : weightsArg;
    if (weights.isEmpty()) {
        std::fprintf(stderr, "bench-ui: no built-in model is installed; give one with --weights FILE\n");
        QTimer::singleShot(0, [] { QCoreApplication::exit(2); });
        return;
    }
    const QString data = b->dir.filePath(QStringLiteral("colours"));
    writeColourFolder(data, 6, 12);
    const QString project = b->dir.filePath(QStringLiteral("bench.sepproj"));
    std::printf("bench-ui: model %s, project %s\n", qPrintable(weights), qPrintable(project));
    std::fflush(stdout);

    // Lateness of a 10 ms timer = how long the event loop was busy elsewhere.
    b->ticker.setInterval(10);
    b->ticker.setTimerType(Qt::PreciseTimer);
    QObject::connect(&b->ticker, &QTimer::timeout, window, [b] {
        const qint64 now = b->clock.nsecsElapsed();
        if (b->measuring && b->last)
            b->stalls.push_back(std::max(0.0, (static_cast<double>(now - b->last) / 1e6) - 10.0));
        b->last = now;
    });
    QObject::connect(window, &MainWindow::trainingFinished, window, [b](qint64, const QString &status, const QString &message) {
        if (status == QLatin1String("failed")) {
            std::fprintf(stderr, "bench-ui: the run failed: %s\n", qPrintable(message));
            QCoreApplication::exit(2);
            return;
        }
        finish(b);
    });

    auto *create = new CreateProjectJob(project, data);
    QObject::connect(create, &Job::done, window, [b, window, weights, vocab, seconds](Job::Status status, const QString &message) {
        if (status != Job::Succeeded || !window->openProject(b->dir.filePath(QStringLiteral("bench.sepproj")))) {
            std::fprintf(stderr, "bench-ui: could not create the project: %s\n", qPrintable(message));
            QCoreApplication::exit(2);
            return;
        }
        nlohmann::json spec = facade::defaultSpec();
        spec["method"] = "sep";
        spec["data"] = ss(b->dir.filePath(QStringLiteral("colours")));
        spec["weights"] = ss(weights);
        spec["vocab"] = ss(vocab);
        spec["shots"] = 4;
        spec["base_to_new"] = true;
        spec["cls_attention"] = true;
        spec["train"]["epochs"] = 1000;
        spec["train"]["batch"] = 4;
        window->tabs()->setCurrentIndex(1);   // the curves, which replot as epochs arrive
        QObject::connect(window, &MainWindow::trainingProgress, window, [b](qint64, qint64) { ++b->epochs; });
        if (!window->startTraining(qs(spec.dump()))) {
            QCoreApplication::exit(2);
            return;
        }
        b->clock.start();
        b->measuring = true;
        b->ticker.start();
        QTimer::singleShot(seconds * 1000, window, [window] { window->cancelTraining(); });
    });
    startJob(create);
}

} // namespace sep::ui
