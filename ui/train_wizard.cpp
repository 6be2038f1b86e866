#include "ui/train_wizard.h"

#include "ui/jobs.h"
#include "ui/option_editor.h"
#include "ui/counts.h"
#include "ui/qt_convert.h"
#include "ui/theme.h"
#include "ui/wizard_page.h"
#include "engine/core/data_paths.h"

#include <algorithm>

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>

namespace sep::ui {

TrainWizard::TrainWizard(const std::vector<projects::DatasetInfo> &datasets, const ProjectDefaults &defaults, QWidget *parent)
    : QWizard(parent), m_datasets(datasets), m_defaults(defaults)
{
    setWindowTitle(tr("Train"));
    setObjectName(QStringLiteral("trainWizard"));
    setWizardStyle(QWizard::ClassicStyle);
    resize(780, 640);
    buildMethodPage();
    buildAdvancedPage();
    buildDevicePage();
    buildReviewPage();
    // Last time's choices: the method and its recipe, then the values the person set over the recipe.
    const auto known = facade::methods();
    const bool methodKnown = std::find(known.begin(), known.end(), ss(m_defaults.method)) != known.end();
    setMethod(methodKnown ? m_defaults.method : QStringLiteral("sep"));
    const int preset = m_preset->findText(m_defaults.preset);
    if (preset > 0) {
        m_preset->setCurrentIndex(preset);
        applyPreset(preset);
    }
    m_shots->setValue(m_defaults.shots);
    m_seed->setValue(m_defaults.seed);
    m_baseToNew->setChecked(m_defaults.baseToNew);
}

void TrainWizard::applySpec(const nlohmann::json &spec)
{
    if (!spec.is_object())
        return;
    setMethod(qs(spec.value("method", std::string("sep"))));
    if (const int i = m_dataset->findData(qs(spec.value("data", std::string()))); i >= 0)
        m_dataset->setCurrentIndex(i);
    m_weights->setText(qs(spec.value("weights", std::string())));
    m_vocab->setText(qs(spec.value("vocab", std::string())));
    m_shots->setValue(spec.value("shots", m_shots->value()));
    m_seed->setValue(spec.value("seed", m_seed->value()));
    m_baseToNew->setChecked(spec.value("base_to_new", m_baseToNew->isChecked()));
    m_selections->setChecked(spec.value("selections", m_selections->isChecked()));
    m_clsAttention->setChecked(spec.value("cls_attention", m_clsAttention->isChecked()));
    for (auto *e : m_editors)
        if (spec.contains(e->group().key) && spec[e->group().key].is_object()) {
            nlohmann::json merged = e->values();
            merged.update(spec[e->group().key]);
            e->setValues(merged);
        }
}

ProjectDefaults TrainWizard::choices() const
{
    ProjectDefaults d = m_defaults;
    d.method = method();
    d.preset = m_preset->currentText();
    d.weights = m_weights->text().trimmed();
    d.vocab = m_vocab->text().trimmed();
    d.data = m_dataset->currentData().toString();
    d.shots = m_shots->value();
    d.seed = m_seed->value();
    d.baseToNew = m_baseToNew->isChecked();
    return d;
}

void TrainWizard::buildMethodPage()
{
    auto *p = new CheckedPage([this] { return !m_weights->text().trimmed().isEmpty() && m_dataset->count() > 0; });
    p->setTitle(tr("Method"));
    p->setSubTitle(tr("What to train, on which model and images."));
    m_methods = new QButtonGroup(this);
    auto *methodBox = new QHBoxLayout;
    int id = 0;
    for (const auto &m : facade::methods()) {
        auto *b = new QRadioButton(qs(facade::methodTitle(m)));
        b->setObjectName(QStringLiteral("method_") + qs(m));
        b->setProperty("method", qs(m));
        m_methods->addButton(b, id++);
        methodBox->addWidget(b);
    }
    methodBox->addStretch();
    m_methodInfo = new QLabel;
    m_methodInfo->setWordWrap(true);
    m_preset = new QComboBox;
    m_preset->setObjectName(QStringLiteral("preset"));
    m_presetInfo = new QLabel;
    m_presetInfo->setWordWrap(true);

    m_weights = new QLineEdit(!m_defaults.weights.isEmpty() ? m_defaults.weights : qs(builtinModelWeights()));
    m_weights->setObjectName(QStringLiteral("trainWeights"));
    m_vocab = new QLineEdit(m_defaults.vocab);
    m_vocab->setPlaceholderText(tr("beside the weights"));
    auto *browse = new QPushButton(tr("Browse…"));
    auto *wRow = new QHBoxLayout;
    wRow->addWidget(m_weights, 1);
    wRow->addWidget(browse);
    m_dataset = new QComboBox;
    m_dataset->setObjectName(QStringLiteral("trainDataset"));
    for (const auto &d : m_datasets)
        m_dataset->addItem(QStringLiteral("%1 (%2, %3)").arg(qs(d.root), count::classes(d.classes), count::images(d.images)), qs(d.root));
    if (!m_defaults.data.isEmpty()) {
        const int i = m_dataset->findData(m_defaults.data);
        if (i >= 0)
            m_dataset->setCurrentIndex(i);
    }
    m_shots = new QSpinBox;
    m_shots->setObjectName(QStringLiteral("trainShots"));
    m_shots->setRange(1, 1000);
    m_shots->setValue(m_defaults.shots);
    m_seed = new QSpinBox;
    m_seed->setObjectName(QStringLiteral("trainSeed"));
    m_seed->setRange(0, 1000000);
    m_seed->setValue(m_defaults.seed);
    for (QSpinBox *spin : {m_shots, m_seed})
        spin->setMaximumWidth(140);
    auto *missing = new QLabel;
    missing->setWordWrap(true);
    auto showMissing = [this, missing] {
        QStringList what;
        if (m_weights->text().trimmed().isEmpty())
            what << tr("choose the model's weights file");
        if (m_dataset->count() == 0)
            what << tr("the project has no images yet (File ▸ New project imports a folder)");
        missing->setText(what.isEmpty() ? QString()
                                        : toneHtml(Tone::Bad, tr("To go on: %1.").arg(what.join(QLatin1String("; ")))));
    };
    showMissing();
    connect(m_weights, &QLineEdit::textChanged, this, showMissing);
    m_baseToNew = new QCheckBox(tr("Base-to-new (train on base classes, test on base and new)"));
    m_baseToNew->setChecked(m_defaults.baseToNew);

    auto *form = new QFormLayout(p);
    form->addRow(tr("Method:"), methodBox);
    form->addRow(m_methodInfo);
    form->addRow(tr("Recipe:"), m_preset);
    form->addRow(m_presetInfo);
    form->addRow(tr("Weights:"), wRow);
    form->addRow(tr("Vocabulary:"), m_vocab);
    form->addRow(tr("Images:"), m_dataset);
    form->addRow(tr("Shots per class:"), m_shots);
    form->addRow(tr("Seed:"), m_seed);
    form->addRow(m_baseToNew);
    form->addRow(missing);
    connect(m_methods, &QButtonGroup::idClicked, this, [this](int) { setMethod(method()); });
    connect(m_preset, &QComboBox::activated, this, &TrainWizard::applyPreset);
    connect(m_weights, &QLineEdit::textChanged, p, &CheckedPage::recheck);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Weights file"), m_weights->text(),
                                                       tr("CLIP weights (*.pt *.pth *.bin *.safetensors);;All files (*)"));
        if (!f.isEmpty())
            m_weights->setText(f);
    });
    setPage(MethodPage, p);
}

void TrainWizard::setMethod(const QString &m)
{
    for (auto *b : m_methods->buttons())
        if (b->property("method").toString() == m)
            b->setChecked(true);
    m_methodInfo->setText(QStringLiteral("<i>%1</i>").arg(qs(facade::methodDescription(ss(m))).toHtmlEscaped()));
    m_preset->clear();
    for (const auto &p : facade::presets(ss(m)))
        m_preset->addItem(qs(p.name));
    applyPreset(0);
    buildEditors();
}

QString TrainWizard::method() const
{
    auto *b = m_methods->checkedButton();
    return b ? b->property("method").toString() : QStringLiteral("sep");
}

void TrainWizard::applyPreset(int index)
{
    const auto list = facade::presets(ss(method()));
    if (index < 0 || index >= static_cast<int>(list.size()))
        return;
    const auto &p = list[static_cast<size_t>(index)];
    m_presetInfo->setText(QStringLiteral("<i>%1</i>").arg(qs(p.description).toHtmlEscaped()));
    m_presetPatch = p.patch;
    if (p.patch.contains("shots"))
        m_shots->setValue(p.patch.at("shots").get<int>());
    if (p.patch.contains("base_to_new"))
        m_baseToNew->setChecked(p.patch.at("base_to_new").get<bool>());
    for (auto *e : m_editors)
        if (p.patch.contains(e->group().key)) {
            nlohmann::json merged = e->values();
            merged.update(p.patch.at(e->group().key));
            e->setValues(merged);
        }
}

void TrainWizard::buildAdvancedPage()
{
    auto *p = new CheckedPage;
    p->setTitle(tr("Advanced options"));
    p->setSubTitle(tr("Every option of the method and of training, as the engine defines them (hover for help, range and default)."));
    auto *host = new QWidget;
    m_advancedLayout = new QVBoxLayout(host);
    auto *scroll = new QScrollArea;
    scroll->setWidget(host);
    scroll->setWidgetResizable(true);
    auto *reset = new QPushButton(tr("Reset to the recipe"));
    auto *l = new QVBoxLayout(p);
    l->addWidget(scroll, 1);
    l->addWidget(reset, 0, Qt::AlignRight);
    connect(reset, &QPushButton::clicked, this, [this] {
        for (auto *e : m_editors)
            e->resetToDefaults();
        applyPreset(m_preset->currentIndex());
    });
    setPage(AdvancedPage, p);
}

void TrainWizard::buildEditors()
{
    if (m_editorsMethod == method() && !m_editors.empty())
        return;
    m_editorsMethod = method();
    m_editors.clear();
    while (auto *item = m_advancedLayout->takeAt(0)) {
        delete item->widget();   // group boxes with their editors
        delete item;
    }
    for (const auto &g : facade::optionGroups(ss(method()))) {
        auto *box = new QGroupBox(qs(g.title));
        auto *bl = new QVBoxLayout(box);
        auto *editor = new OptionEditor(g);
        editor->setObjectName(QStringLiteral("options_") + qs(g.key));
        bl->addWidget(editor);
        m_advancedLayout->addWidget(box);
        m_editors.push_back(editor);
    }
    if (m_editors.empty())
        m_advancedLayout->addWidget(new QLabel(tr("This method has no options.")));
    m_advancedLayout->addStretch();
    applyPreset(m_preset->currentIndex());
}

void TrainWizard::buildDevicePage()
{
    auto *p = new CheckedPage;
    p->setTitle(tr("Device"));
    p->setSubTitle(tr("Where to compute. “auto” uses a CUDA GPU when there is one."));
    m_device = new QComboBox;
    m_device->setObjectName(QStringLiteral("device"));
    m_device->addItem(QStringLiteral("auto"));
    for (const auto &d : facade::devices())
        m_device->addItem(qs(d));
    m_selections = new QCheckBox(tr("Record the selected tokens of every test image (for the inspector)"));
    m_selections->setChecked(true);
    m_clsAttention = new QCheckBox(tr("Record CLIP's [CLS] attention per layer (for the inspector's heat map)"));
    m_clsAttention->setChecked(true);
    auto *form = new QFormLayout(p);
    form->addRow(tr("Device:"), m_device);
    form->addRow(m_selections);
    form->addRow(m_clsAttention);
    setPage(DevicePage, p);
}

void TrainWizard::buildReviewPage()
{
    auto *p = new CheckedPage;
    p->setTitle(tr("Review"));
    p->setSubTitle(tr("Start trains in the background; the run can be cancelled and resumed from the Progress panel."));
    m_review = new QLabel;
    m_review->setObjectName(QStringLiteral("review"));
    m_review->setWordWrap(true);
    m_review->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_review->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_estimate = new QLabel;
    m_estimate->setObjectName(QStringLiteral("estimate"));
    m_estimate->setWordWrap(true);
    auto *scroll = new QScrollArea;
    scroll->setWidget(m_review);
    scroll->setWidgetResizable(true);
    auto *l = new QVBoxLayout(p);
    l->addWidget(scroll, 1);
    l->addWidget(m_estimate);
    p->onInitialize = [this] { updateReview(); };
    setButtonText(QWizard::FinishButton, tr("Start"));
    setPage(ReviewPage, p);
}

nlohmann::json TrainWizard::spec() const
{
    nlohmann::json s = facade::defaultSpec();
    s["method"] = ss(method());
    s["data"] = ss(m_dataset->currentData().toString());
    s["weights"] = ss(m_weights->text().trimmed());
    s["vocab"] = ss(m_vocab->text().trimmed());
    s["shots"] = m_shots->value();
    s["seed"] = m_seed->value();
    s["base_to_new"] = m_baseToNew->isChecked();
    s["device"] = ss(m_device->currentText());
    s["selections"] = m_selections->isChecked();
    s["cls_attention"] = m_clsAttention->isChecked();
    s["method_options"] = nlohmann::json::object();
    for (auto *e : m_editors)
        s[e->group().key] = e->values();
    return s;
}

QString TrainWizard::reviewText() const { return m_review->text(); }
QString TrainWizard::estimateText() const { return m_estimate->text(); }

void TrainWizard::updateReview()
{
    nlohmann::json s;
    try {
        s = facade::checkSpec(spec());
    } catch (const std::exception &e) {
        m_review->setText(toneHtml(Tone::Bad, qs(e.what()).toHtmlEscaped()));
        m_estimate->clear();
        return;
    }
    QString html = tr("<b>%1</b> on <b>%2</b><br>images: %3<br>%4 · seed %5 · %6 · device %7<br><br>")
                       .arg(qs(facade::methodTitle(s["method"])).toHtmlEscaped(), qs(s["weights"].get<std::string>()).toHtmlEscaped(),
                            qs(s["data"].get<std::string>()).toHtmlEscaped(), count::shots(s["shots"].get<int64_t>()))
                       .arg(s["seed"].get<uint64_t>())
                       .arg(s["base_to_new"].get<bool>() ? tr("base-to-new") : tr("all classes"))
                       .arg(qs(s["device"].get<std::string>()));
    for (auto *e : m_editors) {
        html += QStringLiteral("<b>%1</b><table>").arg(qs(e->group().title).toHtmlEscaped());
        for (const auto &spec : e->group().specs) {
            const auto &v = s[e->group().key][spec.key];
            const bool changed = v != spec.defaultValue;
            html += QStringLiteral("<tr><td>%1</td><td>&nbsp;&nbsp;%2%3</td></tr>")
                        .arg(qs(spec.label).toHtmlEscaped(), qs(v.is_string() ? v.get<std::string>() : v.dump()).toHtmlEscaped(),
                             changed ? tr(" <i>(default %1)</i>").arg(qs(spec.defaultValue.dump()).toHtmlEscaped()) : QString());
        }
        html += QStringLiteral("</table><br>");
    }
    // The engine's plan, before anything starts: a run that would test on nothing is said here.
    try {
        const auto warnings = facade::planWarnings(s);
        if (!warnings.empty()) {
            QString list = QStringLiteral("<b>%1</b><ul>").arg(tr("Before you start:").toHtmlEscaped());
            for (const auto &w : warnings)
                list += QStringLiteral("<li>%1</li>").arg(qs(w).toHtmlEscaped());
            html += toneHtml(Tone::Warning, list + QStringLiteral("</ul>"));
        }
    } catch (const std::exception &e) {
        html += toneHtml(Tone::Bad, qs(e.what()).toHtmlEscaped());
    }
    m_review->setText(html);

    // The estimate needs the model's size: read once per weights file, in a job.
    const int di = m_dataset->currentIndex();
    const auto dataset = di >= 0 && di < static_cast<int>(m_datasets.size()) ? m_datasets[static_cast<size_t>(di)] : projects::DatasetInfo{};
    auto showEstimate = [this, s, dataset] {
        const int64_t classes = std::max<int64_t>(1, dataset.classes);
        const int64_t trainClasses = s["base_to_new"].get<bool>() ? (classes + 1) / 2 : classes;
        const int64_t trainImages = std::min<int64_t>(dataset.images, trainClasses * s["shots"].get<int64_t>());
        nlohmann::json withHint = s;
        withHint["classes_hint"] = trainClasses;
        const double seconds = facade::estimateSeconds(withHint, m_model, trainImages, std::max<int64_t>(0, dataset.images - trainImages));
        m_estimate->setText(tr("<b>Estimated time: about %1</b> (%2 training images; a rough figure from the model's size and this machine).")
                                .arg(duration(seconds))
                                .arg(trainImages));
    };
    if (m_modelKnown && qs(m_model.weights) == qs(s["weights"].get<std::string>())) {
        showEstimate();
        return;
    }
    m_estimate->setText(tr("Estimating the time (reading the model) …"));
    auto *job = new InspectModelJob(qs(s["weights"].get<std::string>()), qs(s["vocab"].get<std::string>()));
    connect(job, &Job::done, this, [this, job, showEstimate](Job::Status status, const QString &message) {
        if (status == Job::Succeeded) {
            m_model = job->summary;
            m_modelKnown = true;
            m_modelFailed = false;
            showEstimate();
        } else {
            m_modelFailed = true;
            m_estimate->setText(toneHtml(Tone::Bad, message.toHtmlEscaped()));
        }
    });
    startJob(job);
}

bool TrainWizard::validateCurrentPage()
{
    if (currentId() == MethodPage)
        buildEditors();
    if (currentId() == ReviewPage) {
        try {
            facade::checkSpec(spec());
        } catch (const std::exception &e) {
            m_review->setText(toneHtml(Tone::Bad, qs(e.what()).toHtmlEscaped()));
            return false;
        }
        if (m_modelFailed)
            return false;   // the model does not load: say so here rather than in a failed run
    }
    return QWizard::validateCurrentPage();
}

} // namespace sep::ui
