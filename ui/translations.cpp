#include "ui/translations.h"

#include <QCoreApplication>
#include <QLocale>
#include <QTranslator>

namespace sep::ui {

void installTranslations()
{
    auto *translator = new QTranslator(QCoreApplication::instance());
    if (translator->load(QLocale(), QStringLiteral("sep-studio"), QStringLiteral("_"), QStringLiteral(":/i18n"))
        || translator->load(QStringLiteral("sep-studio_en"), QStringLiteral(":/i18n")))
        QCoreApplication::installTranslator(translator);
    else
        delete translator;
}

} // namespace sep::ui
