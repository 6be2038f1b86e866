#pragma once
// qcustomplot.h uses Qt's `signals`, `slots`, `emit` and `foreach` keywords, which this project turns
// off (QT_NO_KEYWORDS: they collide with names in LibTorch headers; QT_NO_FOREACH removes Q_FOREACH).
// Define them for this one header; `foreach (decl, container)` becomes a range-for, which is what it
// means for the read-only loops qcustomplot.h writes inline.

#ifdef QT_NO_KEYWORDS
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach(declaration, container) for (declaration : container)
#define SEP_UNDEF_QT_KEYWORDS
#endif

#include <qcustomplot.h>

#ifdef SEP_UNDEF_QT_KEYWORDS
#undef signals
#undef slots
#undef emit
#undef foreach
#undef SEP_UNDEF_QT_KEYWORDS
#endif
