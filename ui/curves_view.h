#pragma once
// Live training curves: loss (top) and base/new accuracy (bottom) per epoch, several runs overlaid,
// each run in its own colour (accuracy: base solid, new dashed, all dotted), a legend, zoom and pan
// with the mouse, and export as PNG or PDF. Updates are batched: setRun() only stores the points and
// marks the plot dirty; a timer replots at most 10 times a second.

#include "projects/project_store.h"

#include <QMap>
#include <QPoint>
#include <QWidget>

class QCustomPlot;
class QCPAxisRect;
class QCPGraph;
class QTimer;

namespace sep::ui {

class CurvesView : public QWidget {
    Q_OBJECT
public:
    explicit CurvesView(QWidget *parent = nullptr);

    // Replaces the points of one run (rows as the store gives them).
    void setRun(int64_t runId, const QString &label, const std::vector<projects::EpochRow> &rows);
    void removeRun(int64_t runId);
    void clear();
    QList<int64_t> runs() const { return m_runs.keys(); }
    int pointCount(int64_t runId) const;       // loss points of that run
    int replotCount() const { return m_replots; }

    bool savePng(const QString &path, int width = 0, int height = 0);
    bool savePdf(const QString &path);
    QCustomPlot *plot() const { return m_plot; }

public Q_SLOTS:
    void exportDialog();
    void resetZoom();

private:
    struct Series {
        QCPGraph *loss = nullptr, *base = nullptr, *novel = nullptr, *all = nullptr;
        int colour = 0;
    };
    void flush();
    QCPGraph *makeGraph(QCPAxisRect *rect, const QColor &colour, Qt::PenStyle style, const QString &name);

    QCustomPlot *m_plot;
    QCPAxisRect *m_lossRect, *m_accRect;
    QMap<int64_t, Series> m_runs;
    QTimer *m_timer;
    bool m_dirty = false;
    bool m_autoRange = true;   // false once the user panned or zoomed, until a new run or "Reset zoom"
    QPoint m_pressedAt;
    int m_nextColour = 0;
    int m_replots = 0;
};

} // namespace sep::ui
