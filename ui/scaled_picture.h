#pragma once
// A picture that fills its space at any size, keeping its aspect ratio and re-scaling as the widget
// is resized (a QLabel with a pixmap keeps the pixmap's size and pushes its neighbours). Optionally
// says what lies under the pointer: `describe` gets the point in the picture, 0…1 on each side.

#include <QImage>
#include <QWidget>

#include <functional>

namespace sep::ui {

class ScaledPicture : public QWidget {
    Q_OBJECT
public:
    explicit ScaledPicture(QWidget *parent = nullptr);
    void setImage(const QImage &image);
    void setText(const QString &text);   // shown instead of a picture (errors, "drawing…")
    void clear();
    const QImage &image() const { return m_image; }
    QString text() const { return m_text; }
    QRect pictureRect() const;           // where the picture is drawn now
    void setDescribe(std::function<QString(QPointF)> describe) { m_describe = std::move(describe); }

    QSize sizeHint() const override { return {320, 320}; }
    QSize minimumSizeHint() const override { return {96, 96}; }

protected:
    bool event(QEvent *event) override;
    void paintEvent(QPaintEvent *event) override;

private:
    QImage m_image;
    QString m_text;
    std::function<QString(QPointF)> m_describe;
};

} // namespace sep::ui
