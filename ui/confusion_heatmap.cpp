#include "ui/confusion_heatmap.h"

#include "ui/confusion_model.h"
#include "ui/counts.h"
#include "ui/qt_convert.h"

#include <QHelpEvent>
#include <QLinearGradient>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sep::ui {

namespace {

constexpr int kColourBarWidth = 104;    // the two scales and their labels, right of the matrix
constexpr double kNamesFromCell = 14;   // cells at least this large get names beside them
constexpr double kMaxCellSize = 64;     // zooming stops here

} // namespace

ConfusionHeatMap::ConfusionHeatMap(ConfusionModel *model, QWidget *parent) : QWidget(parent), m_model(model)
{
    setObjectName(QStringLiteral("confusionHeatMap"));
    setMouseTracking(true);
    setFocusPolicy(Qt::ClickFocus);
    connect(m_model, &QAbstractItemModel::modelReset, this, &ConfusionHeatMap::rebuild);
    rebuild();
}

void ConfusionHeatMap::setOrderByError(bool on)
{
    if (on == m_byError)
        return;
    m_byError = on;
    rebuild();
}

int ConfusionHeatMap::classAt(int position) const
{
    return position >= 0 && position < static_cast<int>(m_order.size()) ? m_order[static_cast<size_t>(position)] : -1;
}

void ConfusionHeatMap::rebuild()
{
    const int n = m_model->classCount();
    m_order.resize(static_cast<size_t>(n));
    std::iota(m_order.begin(), m_order.end(), 0);
    if (m_byError)
        std::stable_sort(m_order.begin(), m_order.end(), [this](int a, int b) { return m_model->fraction(a, a) < m_model->fraction(b, b); });
    m_cells = QImage(std::max(n, 1), std::max(n, 1), QImage::Format_RGB32);
    m_cells.fill(Qt::white);
    for (int row = 0; row < n; ++row) {
        auto *line = reinterpret_cast<QRgb *>(m_cells.scanLine(row));
        const int t = m_order[static_cast<size_t>(row)];
        for (int col = 0; col < n; ++col) {
            const int p = m_order[static_cast<size_t>(col)];
            line[col] = ConfusionModel::cellColour(t == p, m_model->fraction(t, p)).rgb();
        }
    }
    m_selected = {-1, -1};
    m_zoom = 1;
    m_pan = {};
    updateMargins();
    update();
}

void ConfusionHeatMap::updateMargins()
{
    // Names only where a cell is tall enough to carry one at the fitted size.
    m_left = m_top = 0;
    const int n = m_model->classCount();
    if (n == 0)
        return;
    const double plain = std::min(width() - kColourBarWidth, height()) / static_cast<double>(n);
    if (plain < kNamesFromCell + 4)
        return;
    int widest = 0;
    for (int i = 0; i < n; ++i)
        widest = std::max(widest, fontMetrics().horizontalAdvance(m_model->className(i)));
    m_left = m_top = std::min(widest + 8, std::max(60, width() / 4));
    if (std::min(width() - kColourBarWidth - m_left, height() - m_top) / static_cast<double>(n) < kNamesFromCell)
        m_left = m_top = 0;   // names would leave the cells too small: tooltips name them instead
}

QRectF ConfusionHeatMap::fittedRect() const
{
    const int n = std::max(1, m_model->classCount());
    const double room = std::max(0.0, std::min<double>(width() - kColourBarWidth - m_left - 4, height() - m_top - 4));
    // Whole pixels per cell where cells are large (a crisp grid); below 4 px a cell, all the room.
    const double side = room >= 4.0 * n ? std::floor(room / n) * n : room;
    return {static_cast<double>(m_left + 2), static_cast<double>(m_top + 2), side, side};
}

int ConfusionHeatMap::colourBarLeft() const
{
    // Beside the matrix, not at the far edge of a wide view.
    return std::min(width() - kColourBarWidth + 10, static_cast<int>(fittedRect().right()) + 14);
}

QRectF ConfusionHeatMap::matrixRect() const
{
    const QRectF fit = fittedRect();
    return {fit.topLeft() + m_pan, fit.size() * m_zoom};
}

double ConfusionHeatMap::cellSize() const
{
    return m_model->classCount() ? matrixRect().width() / m_model->classCount() : 0;
}

std::pair<int, int> ConfusionHeatMap::cellAt(const QPoint &point) const
{
    const QRectF r = matrixRect();
    const QRectF visible = r.intersected(QRectF(m_left, m_top, colourBarLeft() - 8 - m_left, height() - m_top));
    if (!visible.contains(point) || m_model->classCount() == 0)
        return {-1, -1};
    const double cell = cellSize();
    const int col = std::clamp(static_cast<int>((point.x() - r.left()) / cell), 0, m_model->classCount() - 1);
    const int row = std::clamp(static_cast<int>((point.y() - r.top()) / cell), 0, m_model->classCount() - 1);
    return {classAt(row), classAt(col)};
}

QString ConfusionHeatMap::describeCell(int t, int p) const
{
    const int64_t count = m_model->count(t, p);
    QString text = tr("True class: %1\nPredicted: %2\n%3, %4 of the true class's test images")
                       .arg(m_model->className(t), m_model->className(p), count::images(count), percent(m_model->fraction(t, p)));
    if (count > 0)
        text += tr("\nClick to list them.");
    return text;
}

void ConfusionHeatMap::resetZoom()
{
    m_zoom = 1;
    m_pan = {};
    update();
}

bool ConfusionHeatMap::event(QEvent *event)
{
    if (event->type() == QEvent::ToolTip) {
        auto *help = static_cast<QHelpEvent *>(event);
        const auto [t, p] = cellAt(help->pos());
        if (t >= 0)
            QToolTip::showText(help->globalPos(), describeCell(t, p), this);
        else if (help->pos().x() >= colourBarLeft() - 4)
            QToolTip::showText(help->globalPos(),
                               tr("Blue: the share of a class's test images classified correctly (the diagonal).\n"
                                  "Red: the share taken for another class (off the diagonal), full at half or more."),
                               this);
        else
            QToolTip::hideText();
        return true;
    }
    return QWidget::event(event);
}

void ConfusionHeatMap::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.fillRect(rect(), palette().color(QPalette::Base));
    const int n = m_model->classCount();
    if (n == 0) {
        painter.setPen(palette().color(QPalette::PlaceholderText));
        painter.drawText(rect(), Qt::AlignCenter, tr("No evaluation to show."));
        return;
    }
    const QRectF r = matrixRect();
    const double cell = cellSize();
    const QRect plotArea(m_left, m_top, colourBarLeft() - 8 - m_left, height() - m_top);
    painter.save();
    painter.setClipRect(plotArea);
    // Below a pixel per cell, neighbouring cells are averaged (a lone mistake still tints its pixel);
    // above, cells stay crisp squares.
    painter.setRenderHint(QPainter::SmoothPixmapTransform, cell < 1);
    painter.drawImage(r, m_cells);
    if (cell >= 8) {
        painter.setPen(QPen(QColor(0, 0, 0, 28), 1));
        for (int i = 0; i <= n; ++i) {
            painter.drawLine(QPointF(r.left() + i * cell, r.top()), QPointF(r.left() + i * cell, r.bottom()));
            painter.drawLine(QPointF(r.left(), r.top() + i * cell), QPointF(r.right(), r.top() + i * cell));
        }
    }
    if (cell >= 22) {
        // Counts in the cells that have any.
        QFont small = font();
        small.setPointSizeF(std::max(6.0, std::min(small.pointSizeF(), cell / 3)));
        painter.setFont(small);
        for (int row = 0; row < n; ++row)
            for (int col = 0; col < n; ++col) {
                const int t = classAt(row), p = classAt(col);
                const int64_t c = m_model->count(t, p);
                if (!c)
                    continue;
                const QRectF box(r.left() + col * cell, r.top() + row * cell, cell, cell);
                if (!box.intersects(plotArea))
                    continue;
                painter.setPen(m_model->fraction(t, p) * (t == p ? 1 : 2) > 0.55 ? Qt::white : Qt::black);
                painter.drawText(box, Qt::AlignCenter, QString::number(c));
            }
    }
    if (m_selected.first >= 0) {
        const auto row = std::find(m_order.begin(), m_order.end(), m_selected.first) - m_order.begin();
        const auto col = std::find(m_order.begin(), m_order.end(), m_selected.second) - m_order.begin();
        painter.setPen(QPen(palette().color(QPalette::Highlight), 2));
        painter.setBrush(Qt::NoBrush);
        painter.drawRect(QRectF(r.left() + col * cell, r.top() + row * cell, std::max(cell, 3.0), std::max(cell, 3.0)));
    }
    painter.restore();

    // Names beside the rows (true) and above the columns (predicted), when there is room.
    painter.setPen(palette().color(QPalette::WindowText));
    if (m_left > 0 && cell >= kNamesFromCell) {
        const QFontMetrics fm = fontMetrics();
        for (int i = 0; i < n; ++i) {
            const QString name = fm.elidedText(m_model->className(classAt(i)), Qt::ElideRight, m_left - 6);
            const QRectF rowBox(0, r.top() + i * cell, m_left - 4, cell);
            if (rowBox.center().y() >= m_top && rowBox.center().y() <= height())
                painter.drawText(rowBox, Qt::AlignRight | Qt::AlignVCenter, name);
            const double x = r.left() + (i + 0.5) * cell;
            if (x < m_left || x > plotArea.right())
                continue;
            painter.save();
            painter.translate(x, m_top - 4);
            painter.rotate(-90);
            painter.drawText(QRectF(0, -cell / 2, m_top - 6, cell), Qt::AlignLeft | Qt::AlignVCenter, name);
            painter.restore();
        }
    }

    // The colour bar: both scales, with their meaning.
    const int x0 = colourBarLeft();
    const int top = std::max(m_top, 4) + 18, bottom = height() - 22;
    if (bottom - top < 40)
        return;
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    painter.setFont(small);
    const auto drawScale = [&](int x, bool diagonal, const QString &title, const QStringList &ticks) {
        QLinearGradient g(0, bottom, 0, top);
        for (double s = 0; s <= 1.0001; s += 0.25)
            g.setColorAt(s, ConfusionModel::cellColour(diagonal, diagonal ? s : s / 2));
        painter.fillRect(QRect(x, top, 12, bottom - top), g);
        painter.setPen(palette().color(QPalette::Mid));
        painter.drawRect(QRect(x, top, 12, bottom - top));
        painter.setPen(palette().color(QPalette::WindowText));
        painter.drawText(QRect(x - 8, top - 18, 48, 16), Qt::AlignLeft | Qt::AlignVCenter, title);
        for (int i = 0; i < ticks.size(); ++i) {
            const int y = bottom - (bottom - top) * i / (ticks.size() - 1);
            painter.drawText(QRect(x + 15, y - 8, 34, 16), Qt::AlignLeft | Qt::AlignVCenter, ticks[i]);
        }
    };
    drawScale(x0, true, tr("right"), {QStringLiteral("0%"), QStringLiteral("50%"), QStringLiteral("100%")});
    drawScale(x0 + 46, false, tr("wrong"), {QStringLiteral("0%"), QStringLiteral("25%"), QStringLiteral("≥50%")});
}

void ConfusionHeatMap::mousePressEvent(QMouseEvent *event)
{
    m_pressedAt = m_lastDrag = event->pos();
    m_dragging = false;
}

void ConfusionHeatMap::mouseMoveEvent(QMouseEvent *event)
{
    if (!(event->buttons() & Qt::LeftButton))
        return;
    if (!m_dragging && (event->pos() - m_pressedAt).manhattanLength() > 3 && m_zoom > 1)
        m_dragging = true;
    if (m_dragging) {
        m_pan += event->pos() - m_lastDrag;
        m_lastDrag = event->pos();
        update();
    }
}

void ConfusionHeatMap::mouseReleaseEvent(QMouseEvent *event)
{
    if (m_dragging || event->button() != Qt::LeftButton) {
        m_dragging = false;
        return;
    }
    const auto cell = cellAt(event->pos());
    if (cell.first < 0)
        return;
    m_selected = cell;
    update();
    Q_EMIT cellClicked(cell.first, cell.second);
}

void ConfusionHeatMap::wheelEvent(QWheelEvent *event)
{
    const int n = m_model->classCount();
    if (n == 0)
        return;
    const QRectF fit = fittedRect();
    const double maxZoom = std::max(1.0, kMaxCellSize / std::max(1e-9, fit.width() / n));
    const double zoom = std::clamp(m_zoom * std::pow(1.25, event->angleDelta().y() / 120.0), 1.0, maxZoom);
    // The point under the pointer stays where it is.
    const QPointF at = event->position();
    const QPointF inMatrix = (at - fit.topLeft() - m_pan) / m_zoom;
    m_pan = zoom == 1 ? QPointF() : at - fit.topLeft() - inMatrix * zoom;
    m_zoom = zoom;
    update();
    event->accept();
}

void ConfusionHeatMap::resizeEvent(QResizeEvent *event)
{
    QWidget::resizeEvent(event);
    updateMargins();
}

} // namespace sep::ui
