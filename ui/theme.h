#pragma once
// The application's colours: the platform's palette, or SEP Studio's own light or dark one (Fusion
// style in every case). Widgets that paint themselves take their colours from the palette and
// follow a change at once (QEvent::PaletteChange).
//
//   applyTheme(settings::theme());

#include "ui/settings.h"

#include <QColor>
#include <QString>

namespace sep::ui {

void applyTheme(settings::Theme theme);

// Colours that carry a meaning, the same everywhere: a right answer, an error, a warning, the base
// and new halves of a base-to-new split, and text of less weight. Each is a hue readable on the
// application's current palette: the darker shade on a light window, a lighter tint on a dark one.
enum class Tone { Good, Bad, Warning, Base, New, Muted };
QColor toneColour(Tone tone);
// `html` in a span of that colour, for rich-text labels.
QString toneHtml(Tone tone, const QString &html);

} // namespace sep::ui
