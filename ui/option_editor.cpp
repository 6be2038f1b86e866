#include "ui/option_editor.h"

#include "ui/qt_convert.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>

#include <cmath>
#include <limits>

namespace sep::ui {

namespace {

// Enough decimals to show the default and small learning rates (1e-5) exactly.
int decimalsFor(const OptionSpec &s)
{
    double v = s.defaultValue.is_number() ? std::abs(s.defaultValue.get<double>()) : 0;
    int d = 2;
    while (d < 8 && v > 0 && std::abs(v * std::pow(10, d) - std::round(v * std::pow(10, d))) > 1e-9)
        ++d;
    return std::max(d, s.max <= 1 ? 5 : 3);
}

// The options sit in a scrolling page: a wheel turned over a spin box or a list the person has not
// clicked into scrolls the page instead of changing the value under the pointer.
class WheelOnlyWhenFocused : public QObject {
public:
    using QObject::QObject;
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::Wheel && !static_cast<QWidget *>(watched)->hasFocus()) {
            event->ignore();   // handled here, so the spin box does not see it; ignored, so the page scrolls
            return true;
        }
        return false;
    }
};

} // namespace

OptionEditor::OptionEditor(const facade::OptionGroup &group, QWidget *parent) : QWidget(parent), m_group(group)
{
    auto *form = new QFormLayout(this);
    form->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);   // line edits grow, spin boxes keep their size
    auto *wheelFilter = new WheelOnlyWhenFocused(this);
    for (const auto &s : m_group.specs) {
        QWidget *editor = nullptr;
        switch (s.type) {
        case OptionSpec::Type::Int: {
            auto *spin = new QSpinBox;
            const double lo = std::max<double>(s.min, std::numeric_limits<int>::min());
            const double hi = std::min<double>(s.max, std::numeric_limits<int>::max());
            spin->setRange(static_cast<int>(lo), static_cast<int>(hi));
            connect(spin, &QSpinBox::valueChanged, this, &OptionEditor::changed);
            editor = spin;
            break;
        }
        case OptionSpec::Type::Real: {
            auto *spin = new QDoubleSpinBox;
            spin->setDecimals(decimalsFor(s));
            spin->setRange(s.min, s.max);
            spin->setSingleStep(std::max(std::pow(10.0, -spin->decimals() + 1), (s.max - s.min) / 1000));
            connect(spin, &QDoubleSpinBox::valueChanged, this, &OptionEditor::changed);
            editor = spin;
            break;
        }
        case OptionSpec::Type::Bool: {
            auto *box = new QCheckBox;
            connect(box, &QCheckBox::toggled, this, &OptionEditor::changed);
            editor = box;
            break;
        }
        case OptionSpec::Type::Choice: {
            auto *combo = new QComboBox;
            for (const auto &c : s.choices)
                combo->addItem(qs(c));
            connect(combo, &QComboBox::currentIndexChanged, this, &OptionEditor::changed);
            editor = combo;
            break;
        }
        case OptionSpec::Type::Text: {
            auto *line = new QLineEdit;
            connect(line, &QLineEdit::textChanged, this, &OptionEditor::changed);
            editor = line;
            break;
        }
        }
        editor->setObjectName(qs(s.key));
        if (s.type != OptionSpec::Type::Bool && s.type != OptionSpec::Type::Text) {
            editor->setFocusPolicy(Qt::StrongFocus);   // not focused by the wheel itself
            editor->installEventFilter(wheelFilter);
        }
        QString tip = qs(s.help);
        if (s.type == OptionSpec::Type::Int || s.type == OptionSpec::Type::Real)
            tip += QStringLiteral("\nRange: %1 – %2").arg(s.min).arg(s.max);
        tip += QStringLiteral("\nDefault: %1   (key: %2)").arg(qs(s.defaultValue.dump()), qs(s.key));
        editor->setToolTip(tip);
        auto *label = new QLabel(qs(s.label) + QLatin1Char(':'));
        label->setToolTip(tip);
        label->setBuddy(editor);
        form->addRow(label, editor);
        m_editors.push_back(editor);
    }
    resetToDefaults();
}

void OptionEditor::resetToDefaults()
{
    for (size_t i = 0; i < m_editors.size(); ++i)
        setValue(i, m_group.specs[i].defaultValue);
}

void OptionEditor::setValues(const nlohmann::json &values)
{
    for (size_t i = 0; i < m_editors.size(); ++i) {
        const auto &key = m_group.specs[i].key;
        setValue(i, values.is_object() && values.contains(key) ? values.at(key) : m_group.specs[i].defaultValue);
    }
}

nlohmann::json OptionEditor::values() const
{
    nlohmann::json j = nlohmann::json::object();
    for (size_t i = 0; i < m_editors.size(); ++i)
        j[m_group.specs[i].key] = value(i);
    return j;
}

QWidget *OptionEditor::editorFor(const std::string &key) const
{
    for (size_t i = 0; i < m_editors.size(); ++i)
        if (m_group.specs[i].key == key)
            return m_editors[i];
    return nullptr;
}

void OptionEditor::setValue(size_t i, const nlohmann::json &v)
{
    const auto &s = m_group.specs[i];
    QWidget *w = m_editors[i];
    switch (s.type) {
    case OptionSpec::Type::Int:
        if (v.is_number())
            static_cast<QSpinBox *>(w)->setValue(static_cast<int>(v.get<double>()));
        break;
    case OptionSpec::Type::Real:
        if (v.is_number())
            static_cast<QDoubleSpinBox *>(w)->setValue(v.get<double>());
        break;
    case OptionSpec::Type::Bool:
        if (v.is_boolean())
            static_cast<QCheckBox *>(w)->setChecked(v.get<bool>());
        break;
    case OptionSpec::Type::Choice:
        if (v.is_string())
            static_cast<QComboBox *>(w)->setCurrentText(qs(v.get<std::string>()));
        break;
    case OptionSpec::Type::Text:
        if (v.is_string())
            static_cast<QLineEdit *>(w)->setText(qs(v.get<std::string>()));
        break;
    }
}

nlohmann::json OptionEditor::value(size_t i) const
{
    const auto &s = m_group.specs[i];
    QWidget *w = m_editors[i];
    switch (s.type) {
    case OptionSpec::Type::Int:
        return static_cast<int64_t>(static_cast<QSpinBox *>(w)->value());
    case OptionSpec::Type::Real:
        return static_cast<QDoubleSpinBox *>(w)->value();
    case OptionSpec::Type::Bool:
        return static_cast<QCheckBox *>(w)->isChecked();
    case OptionSpec::Type::Choice:
        return ss(static_cast<QComboBox *>(w)->currentText());
    case OptionSpec::Type::Text:
        return ss(static_cast<QLineEdit *>(w)->text());
    }
    return nullptr;
}

} // namespace sep::ui
