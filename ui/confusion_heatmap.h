#pragma once
// The confusion matrix drawn as a heat map that fits its space at any class count: one cell per
// (true, predicted) pair, at least a pixel each at 1000 classes, names beside the rows and above the
// columns when the cells are large enough to read them, a colour bar for both scales (correct on
// the diagonal, mistakes off it), a tooltip per cell, wheel to zoom around the pointer, drag to pan,
// click a cell to list its images. Rows and columns may be ordered by the true class's accuracy,
// worst first, so that the errors gather in the top-left corner.

#include <QImage>
#include <QPointF>
#include <QWidget>

#include <vector>

namespace sep::ui {

class ConfusionModel;

class ConfusionHeatMap : public QWidget {
    Q_OBJECT
public:
    explicit ConfusionHeatMap(ConfusionModel *model, QWidget *parent = nullptr);

    void setOrderByError(bool on);
    bool orderByError() const { return m_byError; }
    int classAt(int position) const;              // the class shown at row/column `position`
    // The (true, predicted) classes of the cell under a point of the widget, {-1, -1} outside.
    std::pair<int, int> cellAt(const QPoint &point) const;
    QString describeCell(int trueClass, int predicted) const;
    QRectF matrixRect() const;                    // where the cells are drawn now
    double cellSize() const;                      // pixels per cell now
    void resetZoom();

    QSize sizeHint() const override { return {520, 420}; }
    QSize minimumSizeHint() const override { return {160, 90}; }

Q_SIGNALS:
    void cellClicked(int trueClass, int predicted);

protected:
    bool event(QEvent *event) override;
    void paintEvent(QPaintEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;
    void resizeEvent(QResizeEvent *event) override;

private:
    void rebuild();                               // the cells' image, in the current order
    void updateMargins();
    QRectF fittedRect() const;                    // the whole matrix at zoom 1
    int colourBarLeft() const;

    ConfusionModel *m_model;
    std::vector<int> m_order;                     // position → class
    QImage m_cells;                               // one pixel per cell
    bool m_byError = false;
    double m_zoom = 1;
    QPointF m_pan;                                // pixels the zoomed matrix is moved by
    QPoint m_pressedAt, m_lastDrag;
    bool m_dragging = false;
    std::pair<int, int> m_selected{-1, -1};
    int m_left = 0, m_top = 0;                    // room for row and column names
};

} // namespace sep::ui
