#pragma once
// The log: every line the engine and the windows say, with its level, newest last. Problems a person
// must see (warnings, errors) are coloured; the dock raises itself on an error.

#include <QDockWidget>

class QPlainTextEdit;

namespace sep::ui {

class LogDock : public QDockWidget {
    Q_OBJECT
public:
    explicit LogDock(QWidget *parent = nullptr);
    QString text() const;

public Q_SLOTS:
    void append(int level, const QString &message);   // sep::LogLevel
    void info(const QString &message) { append(1, message); }
    void warning(const QString &message) { append(2, message); }
    void error(const QString &message) { append(3, message); }

private:
    QPlainTextEdit *m_text;
};

} // namespace sep::ui
