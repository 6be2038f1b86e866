#include "ui/log_dock.h"

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
    static const char *colours[] = {"#888888", "", "#ef6c00", "#c62828"};
    const int l = std::clamp(level, 0, 3);
    const QString time = QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss"));
    QString line = QStringLiteral("%1 %2: %3").arg(time, QLatin1String(names[l]), message.toHtmlEscaped());
    if (*colours[l])
        line = QStringLiteral("<span style='color:%1'>%2</span>").arg(QLatin1String(colours[l]), line);
    m_text->appendHtml(line);
    if (l == 3)
        show();
}

} // namespace sep::ui
