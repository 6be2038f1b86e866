#pragma once
// std::string ↔ QString at the boundary between the engine (UTF-8 std::string) and Qt.

#include <QString>

#include <string>

namespace sep::ui {

inline QString qs(const std::string &s) { return QString::fromStdString(s); }
inline std::string ss(const QString &s) { return s.toStdString(); }

// 0.8123 → "81.2%"
inline QString percent(double v, int decimals = 1) { return QString::number(100.0 * v, 'f', decimals) + QLatin1Char('%'); }

// 3725 s → "1 h 02 min", 75 → "1 min 15 s", 9 → "9 s"
QString duration(double seconds);

} // namespace sep::ui
