#pragma once
// Decodes image files into small thumbnails off the UI thread (QtConcurrent, a bounded queue, newest
// requests first so what is on screen now loads before what was scrolled past) and keeps a cache.
//
//   loader->request("/data/cat/1.png");                  // returns at once
//   connect(loader, &ThumbnailLoader::ready, view, [](const QString &path) { … loader->thumbnail(path) … });

#include <QCache>
#include <QHash>
#include <QImage>
#include <QObject>
#include <QSet>
#include <QSize>
#include <QStringList>

namespace sep::ui {

class ThumbnailLoader : public QObject {
    Q_OBJECT
public:
    explicit ThumbnailLoader(QSize size = {96, 96}, QObject *parent = nullptr);
    ~ThumbnailLoader() override;

    QSize size() const { return m_size; }
    // The thumbnail if loaded (null otherwise); a failed decode gives a placeholder and failed() true.
    QImage thumbnail(const QString &path) const;
    bool failed(const QString &path) const { return m_failed.contains(path); }
    void request(const QString &path);
    void clearQueue() { m_queue.clear(); }
    int pending() const { return m_queue.size() + m_running; }

Q_SIGNALS:
    void ready(const QString &path);

private:
    void pump();
    QSize m_size;
    QCache<QString, QImage> m_cache;
    QSet<QString> m_failed;
    QStringList m_queue;
    QSet<QString> m_inFlight;
    int m_running = 0;
};

} // namespace sep::ui
