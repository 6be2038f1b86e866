#include "ui/curves_view.h"

#include "ui/qcustomplot_wrap.h"
#include "ui/qt_convert.h"

#include <QApplication>
#include <QEvent>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include <iterator>

namespace sep::ui {

namespace {

// The marker of one epoch's point.
QCPScatterStyle pointMarker(const QColor &colour) { return QCPScatterStyle(QCPScatterStyle::ssCircle, colour, colour, 4); }

// Keys of a horizontal line: from epoch 0 to far beyond any run (the x range follows the loss curves).
constexpr double kBaselineEnd = 1e6;

} // namespace

QColor CurvesView::colourOf(int64_t runId)
{
    // Colour-blind friendly (Okabe–Ito); by id, so a run keeps its colour whatever else is shown.
    // The set's black is the palette's text colour, so that it stays visible on a dark theme.
    static const QColor colours[] = {QColor(0x00, 0x72, 0xb2), QColor(0xd5, 0x5e, 0x00), QColor(0x00, 0x9e, 0x73),
                                     QColor(0xcc, 0x79, 0xa7), QColor(0xe6, 0x9f, 0x00), QColor(0x56, 0xb4, 0xe9)};
    const size_t i = static_cast<size_t>((runId % 7 + 7) % 7);
    return i < std::size(colours) ? colours[i] : QApplication::palette().color(QPalette::WindowText);
}

CurvesView::CurvesView(QWidget *parent) : QWidget(parent)
{
    m_plot = new QCustomPlot(this);
    m_plot->setObjectName(QStringLiteral("curvesPlot"));
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom | QCP::iSelectLegend);
    m_plot->plotLayout()->clear();
    m_lossRect = new QCPAxisRect(m_plot);
    m_accRect = new QCPAxisRect(m_plot);
    m_plot->plotLayout()->addElement(0, 0, m_lossRect);
    m_plot->plotLayout()->addElement(1, 0, m_accRect);
    for (QCPAxisRect *r : {m_lossRect, m_accRect}) {
        r->setRangeDrag(Qt::Horizontal | Qt::Vertical);
        r->setRangeZoom(Qt::Horizontal | Qt::Vertical);
        r->axis(QCPAxis::atBottom)->setLabel(QStringLiteral("epoch"));
        // Epochs are whole numbers: ticks on integers only, as many as fit.
        QSharedPointer<QCPAxisTickerFixed> epochs(new QCPAxisTickerFixed);
        epochs->setTickStep(1);
        epochs->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        r->axis(QCPAxis::atBottom)->setTicker(epochs);
    }
    m_lossRect->axis(QCPAxis::atLeft)->setLabel(QStringLiteral("training loss"));
    m_accRect->axis(QCPAxis::atLeft)->setLabel(QStringLiteral("test accuracy (%)"));
    m_accRect->axis(QCPAxis::atLeft)->setRange(0, 100);
    auto *group = new QCPMarginGroup(m_plot);
    m_lossRect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    m_accRect->setMarginGroup(QCP::msLeft | QCP::msRight, group);

    // One legend per panel, in a column to the right of the plots: it lists what its panel draws and
    // never covers data.
    QFont f = font();
    f.setPointSizeF(f.pointSizeF() * 0.85);
    m_lossLegend = m_plot->legend = new QCPLegend;
    m_accLegend = new QCPLegend;
    // Each legend at the top of a column cell, as tall as its entries (a legend alone in a cell is
    // stretched to the cell's height, its entries spread apart).
    for (auto [row, legend] : {std::pair{0, m_lossLegend}, {1, m_accLegend}}) {
        auto *column = new QCPLayoutGrid;
        m_plot->plotLayout()->addElement(row, 1, column);
        column->addElement(0, 0, legend);
        column->addElement(1, 0, new QCPLayoutElement(m_plot));
        column->setRowStretchFactor(0, 0.001);
        column->setRowStretchFactor(1, 1);
    }
    m_plot->plotLayout()->setColumnStretchFactor(1, 0.01);
    for (QCPLegend *legend : {m_lossLegend, m_accLegend}) {
        legend->setLayer(QStringLiteral("legend"));
        legend->setFont(f);
        legend->setMargins(QMargins(4, 2, 4, 2));
    }

    followPalette();

    auto *bar = new QHBoxLayout;
    auto *hint = new QLabel(tr("Drag to pan, wheel to zoom. Solid: base classes, dashed: new classes, dotted: all classes."));
    hint->setEnabled(false);
    hint->setWordWrap(true);
    auto *reset = new QPushButton(tr("Reset zoom"));
    auto *exp = new QPushButton(QIcon(QStringLiteral(":/icons/export.svg")), tr("Export plot…"));
    reset->setObjectName(QStringLiteral("resetZoom"));
    exp->setObjectName(QStringLiteral("exportPlot"));
    bar->addWidget(hint, 1);
    bar->addWidget(reset);
    bar->addWidget(exp);
    connect(reset, &QPushButton::clicked, this, &CurvesView::resetZoom);
    connect(exp, &QPushButton::clicked, this, &CurvesView::exportDialog);
    // A user who drags or zooms keeps that view while new epochs arrive; a click that moves nothing
    // (selecting, focusing) does not count as either.
    connect(m_plot, &QCustomPlot::mousePress, this, [this](QMouseEvent *e) { m_pressedAt = e->pos(); });
    connect(m_plot, &QCustomPlot::mouseRelease, this, [this](QMouseEvent *e) {
        if ((e->pos() - m_pressedAt).manhattanLength() > 3)
            m_autoRange = false;
    });
    connect(m_plot, &QCustomPlot::mouseWheel, this, [this] { m_autoRange = false; });

    m_note = new QLabel;
    m_note->setObjectName(QStringLiteral("curvesNote"));
    m_note->setWordWrap(true);
    m_note->hide();

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_plot, 1);
    layout->addWidget(m_note);
    layout->addLayout(bar);

    m_timer = new QTimer(this);
    m_timer->setInterval(100);
    connect(m_timer, &QTimer::timeout, this, &CurvesView::flush);
    m_timer->start();
}

QCPGraph *CurvesView::makeGraph(QCPAxisRect *rect, const QColor &colour, Qt::PenStyle style, const QString &name)
{
    QCPGraph *g = m_plot->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    QPen pen(colour, 2, style);
    g->setPen(pen);
    g->setScatterStyle(pointMarker(colour));
    g->setName(name);
    return g;
}

void CurvesView::setRun(int64_t runId, const QString &label, const std::vector<projects::EpochRow> &rows,
                        const std::map<std::string, double> &finalAccuracy)
{
    auto it = m_runs.find(runId);
    if (it == m_runs.end()) {
        Series s;
        const QColor c = colourOf(runId);
        s.loss = makeGraph(m_lossRect, c, Qt::SolidLine, label);
        s.base = makeGraph(m_accRect, c, Qt::SolidLine, label + tr(" · base"));
        s.novel = makeGraph(m_accRect, c, Qt::DashLine, label + tr(" · new"));
        s.all = makeGraph(m_accRect, c, Qt::DotLine, label + tr(" · all"));
        for (QCPGraph *g : {s.loss, s.base, s.novel, s.all})
            g->removeFromLegend();
        it = m_runs.insert(runId, s);
        m_autoRange = true;   // a new run may span other epochs: show all of it
    }
    it->label = label;
    QVector<double> e, loss;
    std::map<std::string, std::pair<QVector<double>, QVector<double>>> accuracy;   // set → epochs, values
    for (const auto &r : rows) {
        e << r.epoch;
        loss << r.loss;
        for (const auto &[set, value] : r.testAccuracy) {
            accuracy[set].first << r.epoch;
            accuracy[set].second << 100 * value;
        }
    }
    if (rows.empty())
        // No epochs (zero-shot, or a run that stopped before its first): its final accuracy, if any,
        // as a horizontal line to compare the curves with.
        for (const auto &[set, value] : finalAccuracy)
            accuracy[set] = {{0, kBaselineEnd}, {100 * value, 100 * value}};
    it->loss->setData(e, loss, true);
    if (e.isEmpty())
        it->loss->removeFromLegend(m_lossLegend);
    else
        it->loss->addToLegend(m_lossLegend);
    it->empty = true;
    for (auto [g, set] : {std::pair{it->base, "base"}, {it->novel, "new"}, {it->all, "all"}}) {
        const auto found = accuracy.find(set);
        const bool has = found != accuracy.end();
        g->setData(has ? found->second.first : QVector<double>(), has ? found->second.second : QVector<double>(), true);
        g->setScatterStyle(rows.empty() ? QCPScatterStyle(QCPScatterStyle::ssNone) : pointMarker(colourOf(runId)));
        if (has) {
            g->addToLegend(m_accLegend);
            it->empty = false;
        } else {
            g->removeFromLegend(m_accLegend);
        }
    }
    it->empty = it->empty && e.isEmpty();
    m_dirty = true;
}

QString CurvesView::note() const
{
    QStringList none;
    for (const auto &s : m_runs)
        if (s.empty)
            none << s.label;
    return none.isEmpty() ? QString()
                          : tr("Nothing to draw yet for %1: no epoch or evaluation recorded.").arg(none.join(QLatin1String("; ")));
}

void CurvesView::removeRun(int64_t runId)
{
    auto it = m_runs.find(runId);
    if (it == m_runs.end())
        return;
    for (QCPGraph *g : {it->loss, it->base, it->novel, it->all}) {
        g->removeFromLegend(m_accLegend);   // removeGraph only knows the main (loss) legend
        m_plot->removeGraph(g);
    }
    m_runs.erase(it);
    m_dirty = true;
}

void CurvesView::clear()
{
    m_accLegend->clearItems();   // clearGraphs only knows the main (loss) legend
    m_plot->clearGraphs();
    m_runs.clear();
    m_autoRange = true;
    m_dirty = true;
}

int CurvesView::pointCount(int64_t runId) const
{
    auto it = m_runs.find(runId);
    return it == m_runs.end() ? 0 : it->loss->dataCount();
}

void CurvesView::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::PaletteChange) {
        followPalette();
        m_plot->replot();
    }
    QWidget::changeEvent(event);
}

void CurvesView::followPalette()
{
    const QColor fg = palette().color(QPalette::WindowText), bg = palette().color(QPalette::Base);
    const bool dark = bg.lightness() < 128;
    m_plot->setBackground(bg);
    for (QCPAxisRect *r : {m_lossRect, m_accRect})
        for (QCPAxis *a : r->axes()) {
            a->setBasePen(QPen(fg));
            a->setTickPen(QPen(fg));
            a->setSubTickPen(QPen(fg));
            a->setTickLabelColor(fg);
            a->setLabelColor(fg);
            a->grid()->setPen(QPen(dark ? fg.darker(250) : QColor(0xc8, 0xc8, 0xc8), 0, Qt::DotLine));
        }
    QColor legendBrush = bg;
    legendBrush.setAlpha(210);   // the curves stay visible under a legend drawn over them
    for (QCPLegend *legend : {m_lossLegend, m_accLegend}) {
        legend->setBrush(legendBrush);
        legend->setTextColor(fg);
        legend->setBorderPen(QPen(fg));
    }
}

void CurvesView::resetZoom()
{
    m_autoRange = true;
    m_dirty = true;
    flush();
}

void CurvesView::flush()
{
    if (!m_dirty)
        return;
    m_dirty = false;
    if (m_autoRange) {
        bool found = false;
        QCPRange epochs(0, 1), loss(0, 1);
        for (const auto &s : m_runs) {
            bool ok = false;
            QCPRange r = s.loss->getKeyRange(ok);
            if (ok) {
                epochs = found ? QCPRange(std::min(epochs.lower, r.lower), std::max(epochs.upper, r.upper)) : r;
                QCPRange v = s.loss->getValueRange(ok);
                if (ok)
                    loss = found ? QCPRange(std::min(loss.lower, v.lower), std::max(loss.upper, v.upper)) : v;
                found = true;
            }
        }
        const double pad = std::max(0.5, 0.03 * (epochs.upper - epochs.lower));
        for (QCPAxisRect *r : {m_lossRect, m_accRect})
            r->axis(QCPAxis::atBottom)->setRange(std::max(0.0, epochs.lower - pad), epochs.upper + pad);
        const double lpad = std::max(1e-3, 0.08 * (loss.upper - loss.lower));
        m_lossRect->axis(QCPAxis::atLeft)->setRange(std::max(0.0, loss.lower - lpad), loss.upper + lpad);
        m_accRect->axis(QCPAxis::atLeft)->setRange(0, 100);
    }
    for (QCPLegend *legend : {m_lossLegend, m_accLegend})
        legend->setVisible(legend->itemCount() > 0);
    const QString text = note();
    m_note->setText(text);
    m_note->setVisible(!text.isEmpty());
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    ++m_replots;
}

bool CurvesView::savePng(const QString &path, int width, int height)
{
    flush();
    return m_plot->savePng(path, width, height, 2.0);
}

bool CurvesView::savePdf(const QString &path)
{
    flush();
    return m_plot->savePdf(path);
}

void CurvesView::exportDialog()
{
    QString selected;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export plot"), QStringLiteral("curves.png"),
                                                      tr("PNG image (*.png);;PDF document (*.pdf)"), &selected);
    if (path.isEmpty())
        return;
    const bool ok = path.endsWith(QLatin1String(".pdf"), Qt::CaseInsensitive) ? savePdf(path) : savePng(path);
    if (!ok)
        QMessageBox::warning(this, tr("Export plot"), tr("%1 could not be written (check the folder's permissions).").arg(path));
}

} // namespace sep::ui
