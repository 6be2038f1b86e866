#pragma once
// Live training curves: loss (top) and base/new accuracy (bottom) per epoch, several runs overlaid,
// each run in its own colour, fixed by its id (accuracy: base solid, new dashed, all dotted), one
// legend per panel beside it (never over the data), a run without epochs (zero-shot) as a horizontal
// line at its final accuracy, a note naming runs that have nothing to draw yet, zoom and pan with
// the mouse, and export as PNG or PDF. Updates are batched: setRun() only stores the points and
// marks the plot dirty; a timer replots at most 10 times a second.

#include "projects/project_store.h"

#include <QColor>
#include <QMap>
#include <QPoint>
#include <QWidget>

class QCustomPlot;
class QCPAxisRect;
class QCPGraph;
class QCPLegend;
class QLabel;
class QTimer;

namespace sep::ui {

class CurvesView : public QWidget {
    Q_OBJECT
public:
    explicit CurvesView(QWidget *parent = nullptr);

    // Replaces the points of one run (rows as the store gives them). A run without rows is drawn from
    // its final accuracy per test set ("base", "new", "all") as horizontal lines, when it has one.
    void setRun(int64_t runId, const QString &label, const std::vector<projects::EpochRow> &rows,
                const std::map<std::string, double> &finalAccuracy = {});
    void removeRun(int64_t runId);
    void clear();
    QList<int64_t> runs() const { return m_runs.keys(); }
    int pointCount(int64_t runId) const;       // loss points of that run
    int replotCount() const { return m_replots; }

    bool savePng(const QString &path, int width = 0, int height = 0);
    bool savePdf(const QString &path);
    QCustomPlot *plot() const { return m_plot; }
    QCPLegend *lossLegend() const { return m_lossLegend; }
    QCPLegend *accuracyLegend() const { return m_accLegend; }
    QString note() const;                      // which runs have no curve, "" when all have one
    static QColor colourOf(int64_t runId);

public Q_SLOTS:
    void exportDialog();
    void resetZoom();

protected:
    void changeEvent(QEvent *event) override;

private:
    struct Series {
        QCPGraph *loss = nullptr, *base = nullptr, *novel = nullptr, *all = nullptr;
        QString label;
        bool empty = true;         // nothing to draw
    };
    void flush();
    // QCustomPlot paints with its own pens and brushes: give it the palette's colours.
    void followPalette();
    QCPGraph *makeGraph(QCPAxisRect *rect, const QColor &colour, Qt::PenStyle style, const QString &name);

    QCustomPlot *m_plot;
    QCPAxisRect *m_lossRect, *m_accRect;
    QCPLegend *m_lossLegend, *m_accLegend;
    QLabel *m_note;
    QMap<int64_t, Series> m_runs;
    QTimer *m_timer;
    bool m_dirty = false;
    bool m_autoRange = true;   // false once the user panned or zoomed, until a new run or "Reset zoom"
    QPoint m_pressedAt;
    int m_replots = 0;
};

} // namespace sep::ui
