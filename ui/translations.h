#pragma once
// Loads SEP Studio's translations (embedded under :/i18n) for the system's language, falling back to
// English, whose file holds the plural forms of counted nouns (ui/counts.h). Call once after the
// QApplication exists; the application and the GUI tests do.

namespace sep::ui {

void installTranslations();

} // namespace sep::ui
