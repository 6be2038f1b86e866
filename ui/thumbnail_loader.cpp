#include "ui/thumbnail_loader.h"

#include <QFutureWatcher>
#include <QImageReader>
#include <QPainter>
#include <QtConcurrent>

namespace sep::ui {

namespace {

struct Loaded {
    QString path;
    QImage image;
};

Loaded load(const QString &path, QSize size)
{
    QImageReader reader(path);
    reader.setAutoTransform(true);
    const QSize full = reader.size();
    if (full.isValid())
        reader.setScaledSize(full.scaled(size, Qt::KeepAspectRatio));
    QImage img = reader.read();
    if (!img.isNull() && (img.width() > size.width() || img.height() > size.height()))
        img = img.scaled(size, Qt::KeepAspectRatio, Qt::SmoothTransformation);
    return {path, img};
}

} // namespace

ThumbnailLoader::ThumbnailLoader(QSize size, QObject *parent) : QObject(parent), m_size(size), m_cache(4000) {}

ThumbnailLoader::~ThumbnailLoader() { m_queue.clear(); }

QImage ThumbnailLoader::thumbnail(const QString &path) const
{
    if (const QImage *img = m_cache.object(path))
        return *img;
    return {};
}

void ThumbnailLoader::request(const QString &path)
{
    if (m_cache.contains(path) || m_inFlight.contains(path))
        return;
    m_queue.removeAll(path);
    m_queue.append(path);
    // Only the most recent requests matter when a person scrolls fast through 10,000 images.
    while (m_queue.size() > 400)
        m_queue.removeFirst();
    pump();
}

void ThumbnailLoader::pump()
{
    const int maxRunning = std::max(2, QThread::idealThreadCount());
    while (m_running < maxRunning && !m_queue.isEmpty()) {
        const QString path = m_queue.takeLast();
        m_inFlight.insert(path);
        ++m_running;
        auto *watcher = new QFutureWatcher<Loaded>(this);
        connect(watcher, &QFutureWatcher<Loaded>::finished, this, [this, watcher] {
            const Loaded l = watcher->result();
            watcher->deleteLater();
            --m_running;
            m_inFlight.remove(l.path);
            QImage img = l.image;
            if (img.isNull()) {
                m_failed.insert(l.path);
                img = QImage(m_size, QImage::Format_ARGB32_Premultiplied);
                img.fill(QColor(0xff, 0xeb, 0xee));
                QPainter p(&img);
                p.setPen(QColor(0xc6, 0x28, 0x28));
                p.drawText(img.rect(), Qt::AlignCenter, tr("unreadable"));
            }
            m_cache.insert(l.path, new QImage(img));
            Q_EMIT ready(l.path);
            pump();
        });
        watcher->setFuture(QtConcurrent::run(load, path, m_size));
    }
}

} // namespace sep::ui
