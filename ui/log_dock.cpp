#include "ui/log_dock.h"

#include "ui/theme.h"

#include <QDateTime>
#include <QPlainTextEdit>

namespace sep::ui {

LogDock::LogDock(QWidget *parent) : QDockWidget(tr("Log"), parent)
{
    setObjectName(QStringLiteral("logDock"));
    m_text = new QPlainTextEdit;
    m_text->setReadOnly(true);
    m_text->setMaximumBlockCount(5000);
    m_text->setFont(QFont(QStringLiteral("monospace")));
    setWidget(m_text);
}

QString LogDock::text() const { return m_text->toPlainText(); }

void LogDock::append(int level, const QString &message)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    const int l = std::clamp(level, 0, 3);
    const QString time = QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss"));
    QString line = QStringLiteral("%1 %2: %3").arg(time, QLatin1String(names[l]), message.toHtmlEscaped());
    if (l != 1)
        line = toneHtml(l == 0 ? Tone::Muted : l == 2 ? Tone::Warning : Tone::Bad, line);
    m_text->appendHtml(line);
    if (l == 3)
        show();
}

} // namespace sep::ui
