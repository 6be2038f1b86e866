#pragma once
// A form generated from an engine OptionTable's specs (engine/core/options.h): one editor per option
// (spin box, double spin box, check box, combo box or line edit) with the spec's label, range and help
// as tooltip. The UI keeps no second copy of names, defaults or ranges.
//
//   OptionEditor editor(sep::ui::facade::optionGroups("sep")[0]);
//   editor.setValues(spec["method_options"]);
//   spec["method_options"] = editor.values();      // JSON the engine's table reads back

#include "engine/core/options.h"
#include "ui/engine_facade.h"

#include <QWidget>

#include <nlohmann/json.hpp>

#include <vector>

namespace sep::ui {

class OptionEditor : public QWidget {
    Q_OBJECT
public:
    explicit OptionEditor(const facade::OptionGroup &group, QWidget *parent = nullptr);

    const facade::OptionGroup &group() const { return m_group; }
    // Keys not in `values` show their defaults.
    void setValues(const nlohmann::json &values);
    nlohmann::json values() const;
    void resetToDefaults();
    // The editor of one option (for tests and focus), nullptr when there is none.
    QWidget *editorFor(const std::string &key) const;
    int editorCount() const { return static_cast<int>(m_editors.size()); }

Q_SIGNALS:
    void changed();

private:
    void setValue(size_t i, const nlohmann::json &value);
    nlohmann::json value(size_t i) const;

    facade::OptionGroup m_group;
    std::vector<QWidget *> m_editors;
};

} // namespace sep::ui
