#pragma once
// Counted nouns ("1 image", "5 images") through Qt's plural rules: every count the GUI shows goes
// through one of these, so each language (resources/translations/) gets its own plural forms. The
// English forms come from sep-studio_en.ts, which installTranslations() loads when no other fits.

#include <QCoreApplication>
#include <QString>

namespace sep::ui::count {

inline QString images(qint64 n) { return QCoreApplication::translate("Count", "%n image(s)", nullptr, static_cast<int>(n)); }
inline QString classes(qint64 n) { return QCoreApplication::translate("Count", "%n class(es)", nullptr, static_cast<int>(n)); }
inline QString files(qint64 n) { return QCoreApplication::translate("Count", "%n file(s)", nullptr, static_cast<int>(n)); }
inline QString entries(qint64 n) { return QCoreApplication::translate("Count", "%n entry(-ies)", nullptr, static_cast<int>(n)); }
inline QString runs(qint64 n) { return QCoreApplication::translate("Count", "%n run(s)", nullptr, static_cast<int>(n)); }
inline QString shots(qint64 n) { return QCoreApplication::translate("Count", "%n shot(s)", nullptr, static_cast<int>(n)); }

} // namespace sep::ui::count
