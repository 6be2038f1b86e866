#include "ui/theme.h"

#include <QApplication>
#include <QPalette>
#include <QStyle>

namespace sep::ui {
namespace {

QPalette darkPalette()
{
    const QColor window(0x33, 0x35, 0x38), base(0x24, 0x26, 0x28), text(0xe8, 0xe8, 0xe8), disabled(0x80, 0x80, 0x80);
    const QColor accent(0x3d, 0x8e, 0xe0);
    QPalette p;
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, window.lighter(112));
    p.setColor(QPalette::ToolTipBase, window.lighter(120));
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, disabled);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window.lighter(110));
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(0xff, 0x6e, 0x6e));
    p.setColor(QPalette::Light, window.lighter(150));
    p.setColor(QPalette::Midlight, window.lighter(125));
    p.setColor(QPalette::Mid, window.darker(120));
    p.setColor(QPalette::Dark, window.darker(150));
    p.setColor(QPalette::Shadow, Qt::black);
    p.setColor(QPalette::Highlight, accent);
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, accent.lighter(130));
    p.setColor(QPalette::LinkVisited, QColor(0xb0, 0x8c, 0xe8));
    for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText, QPalette::HighlightedText})
        p.setColor(QPalette::Disabled, role, disabled);
    p.setColor(QPalette::Disabled, QPalette::Highlight, window.lighter(130));
    return p;
}

bool windowIsDark()
{
    return QApplication::palette().color(QPalette::Window).lightnessF() < 0.5;
}

} // namespace

QColor toneColour(Tone tone)
{
    // Light-window shades and dark-window tints of the same hues, each at least 4.5:1 (WCAG AA for
    // text) against its palette's Base colour: white, or the dark palette's #242628.
    struct Pair { QRgb light, dark; };
    static constexpr Pair pairs[] = {
        {0x2e7d32, 0x81c784},   // Good: green
        {0xc62828, 0xef9a9a},   // Bad: red
        {0xb35900, 0xffb74d},   // Warning: orange
        {0x1565c0, 0x90caf9},   // Base: blue
        {0xb34700, 0xffab91},   // New: deep orange
        {0x757575, 0xa0a0a0},   // Muted: grey
    };
    const Pair &p = pairs[static_cast<int>(tone)];
    return QColor::fromRgb(windowIsDark() ? p.dark : p.light);
}

QString toneHtml(Tone tone, const QString &html)
{
    return QStringLiteral("<span style='color:%1'>%2</span>").arg(toneColour(tone).name(), html);
}

void applyTheme(settings::Theme theme)
{
    switch (theme) {
    case settings::Theme::Dark:
        QApplication::setPalette(darkPalette());
        break;
    case settings::Theme::Light:
        QApplication::setPalette(QApplication::style()->standardPalette());
        break;
    case settings::Theme::System:
        QApplication::setPalette(QPalette());   // the platform theme's palette
        break;
    }
}

} // namespace sep::ui
