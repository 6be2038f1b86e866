#pragma once
// Train (QWizard): method with recipe presets, the model and data, shots, seed and protocol → an
// "advanced" page generated from the engine's option tables (every option of the method and of
// training; no second copy here) → device and what to record → review with the estimated time.
// spec() is the run spec (train::RunSpec as JSON) the main window hands to a TrainJob.

#include "projects/project_store.h"
#include "ui/engine_facade.h"
#include "ui/new_project_wizard.h"

#include <QWizard>

#include <nlohmann/json.hpp>

class QButtonGroup;
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;
class QVBoxLayout;

namespace sep::ui {

class OptionEditor;

class TrainWizard : public QWizard {
    Q_OBJECT
public:
    enum Page { MethodPage, AdvancedPage, DevicePage, ReviewPage };
    TrainWizard(const std::vector<projects::DatasetInfo> &datasets, const ProjectDefaults &defaults, QWidget *parent = nullptr);

    void setMethod(const QString &method);
    QString method() const;
    void applyPreset(int index);
    // The editors of the advanced page (rebuilt when the method changes).
    const std::vector<OptionEditor *> &editors() const { return m_editors; }
    void buildEditors();
    nlohmann::json spec() const;
    // Every setting of a run's spec (run.json's "spec"): "train again with these settings".
    void applySpec(const nlohmann::json &spec);
    // What was chosen on the first page, to offer again next time (ProjectDefaults::save).
    ProjectDefaults choices() const;
    QString reviewText() const;
    QString estimateText() const;
    bool validateCurrentPage() override;

private:
    void buildMethodPage();
    void buildAdvancedPage();
    void buildDevicePage();
    void buildReviewPage();
    void updateReview();

    std::vector<projects::DatasetInfo> m_datasets;
    ProjectDefaults m_defaults;
    QButtonGroup *m_methods;
    QLabel *m_methodInfo, *m_presetInfo, *m_review, *m_estimate;
    QComboBox *m_preset, *m_dataset, *m_device;
    QLineEdit *m_weights, *m_vocab;
    QSpinBox *m_shots, *m_seed;
    QCheckBox *m_baseToNew, *m_selections, *m_clsAttention;
    QVBoxLayout *m_advancedLayout;
    std::vector<OptionEditor *> m_editors;
    nlohmann::json m_presetPatch = nlohmann::json::object();
    QString m_editorsMethod;
    facade::ModelSummary m_model;
    bool m_modelKnown = false;
    bool m_modelFailed = false;   // the weights chosen last did not load
};

} // namespace sep::ui
