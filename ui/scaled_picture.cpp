#include "ui/scaled_picture.h"

#include <QHelpEvent>
#include <QPainter>
#include <QToolTip>

namespace sep::ui {

ScaledPicture::ScaledPicture(QWidget *parent) : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    setMouseTracking(true);
}

void ScaledPicture::setImage(const QImage &image)
{
    m_image = image;
    m_text.clear();
    update();
}

void ScaledPicture::setText(const QString &text)
{
    m_image = {};
    m_text = text;
    update();
}

void ScaledPicture::clear()
{
    m_image = {};
    m_text.clear();
    update();
}

QRect ScaledPicture::pictureRect() const
{
    if (m_image.isNull())
        return {};
    const QSize size = m_image.size().scaled(rect().size(), Qt::KeepAspectRatio);
    return {QPoint((width() - size.width()) / 2, (height() - size.height()) / 2), size};
}

bool ScaledPicture::event(QEvent *event)
{
    if (event->type() == QEvent::ToolTip && m_describe) {
        auto *help = static_cast<QHelpEvent *>(event);
        const QRect r = pictureRect();
        if (r.contains(help->pos())) {
            const QPointF at((help->pos().x() - r.left()) / static_cast<double>(r.width()),
                             (help->pos().y() - r.top()) / static_cast<double>(r.height()));
            const QString text = m_describe(at);
            if (!text.isEmpty()) {
                QToolTip::showText(help->globalPos(), text, this);
                return true;
            }
        }
        QToolTip::hideText();
        return true;
    }
    return QWidget::event(event);
}

void ScaledPicture::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    if (m_image.isNull()) {
        painter.setPen(palette().color(QPalette::PlaceholderText));
        painter.drawText(rect().adjusted(4, 4, -4, -4), Qt::AlignCenter | Qt::TextWordWrap, m_text);
        return;
    }
    painter.setRenderHint(QPainter::SmoothPixmapTransform);
    painter.drawImage(pictureRect(), m_image);
}

} // namespace sep::ui
