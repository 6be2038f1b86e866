#include "ui/new_project_wizard.h"

#include "ui/jobs.h"
#include "ui/counts.h"
#include "ui/qt_convert.h"
#include "ui/theme.h"
#include "ui/wizard_page.h"
#include "engine/core/data_paths.h"

#include <QCheckBox>
#include <QDir>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QImageReader>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QLocale>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTableWidget>
#include <QVBoxLayout>

namespace sep::ui {

namespace {

QString errorHtml(const QString &text) { return toneHtml(Tone::Bad, text.toHtmlEscaped()); }

CheckedPage *currentChecked(QWizard *w) { return static_cast<CheckedPage *>(w->currentPage()); }

} // namespace

NewProjectWizard::NewProjectWizard(QWidget *parent) : QWizard(parent)
{
    setWindowTitle(tr("New project"));
    setObjectName(QStringLiteral("newProjectWizard"));
    setWizardStyle(QWizard::ClassicStyle);
    setOption(QWizard::NoBackButtonOnLastPage, false);
    setAcceptDrops(true);
    resize(760, 600);
    buildNamePage();
    buildModelPage();
    buildDataPage();
    buildProtocolPage();
}

QString NewProjectWizard::defaultLocation()
{
    // Where the last project went, else Documents, else home: always a folder that exists.
    const QString last = settings::lastProjectLocation();
    for (const QString &candidate : {last, QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation)})
        if (!candidate.isEmpty() && QFileInfo(candidate).isDir())
            return candidate;
    return QDir::homePath();
}

void NewProjectWizard::buildNamePage()
{
    auto *p = new CheckedPage([this] { return !m_name->text().trimmed().isEmpty() && !m_location->text().trimmed().isEmpty(); });
    p->setTitle(tr("Name and location"));
    p->setSubTitle(tr("A project is one file, NAME.sepproj, with a folder beside it for runs and exports."));
    m_name = new QLineEdit;
    m_name->setObjectName(QStringLiteral("projectName"));
    m_name->setPlaceholderText(tr("e.g. pets"));
    m_location = new QLineEdit(defaultLocation());
    m_location->setObjectName(QStringLiteral("projectLocation"));
    m_locationNote = new QLabel;
    m_locationNote->setObjectName(QStringLiteral("projectLocationNote"));
    auto *browse = new QPushButton(tr("Browse…"));
    auto *row = new QHBoxLayout;
    row->addWidget(m_location, 1);
    row->addWidget(browse);
    m_nameError = new QLabel;
    m_nameError->setWordWrap(true);
    auto *form = new QFormLayout(p);
    form->addRow(tr("Name:"), m_name);
    form->addRow(tr("Location:"), row);
    form->addRow(QString(), m_locationNote);
    form->addRow(m_nameError);
    auto noteLocation = [this] {
        const QString location = m_location->text().trimmed();
        m_locationNote->setText(!location.isEmpty() && !QFileInfo::exists(location)
                                    ? tr("<i>This folder does not exist yet; it will be created.</i>")
                                    : QString());
    };
    noteLocation();
    connect(m_name, &QLineEdit::textChanged, p, &CheckedPage::recheck);
    connect(m_location, &QLineEdit::textChanged, p, &CheckedPage::recheck);
    connect(m_location, &QLineEdit::textChanged, this, noteLocation);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Project location"), m_location->text());
        if (!d.isEmpty())
            m_location->setText(d);
    });
    setPage(NamePage, p);
}

void NewProjectWizard::buildModelPage()
{
    auto *p = new CheckedPage([this] { return m_modelOk && !m_modelBusy; });
    p->setTitle(tr("Model"));
    p->setSubTitle(tr("The CLIP model whose prompts are tuned. Its architecture is read from the weights themselves."));
    const QString builtin = qs(builtinModelWeights());
    m_builtin = new QRadioButton(builtin.isEmpty() ? tr("Built-in small model (not installed in this build)")
                                                   : tr("Built-in small model (trained by this project on emoji artwork)"));
    m_builtin->setObjectName(QStringLiteral("modelBuiltin"));
    m_builtin->setEnabled(!builtin.isEmpty());
    m_file = new QRadioButton(tr("A weights file (OpenAI .pt, torch.save state dict, Hugging Face .safetensors) — or drop it here"));
    m_file->setObjectName(QStringLiteral("modelFile"));
    m_weights = new QLineEdit;
    m_weights->setObjectName(QStringLiteral("weightsPath"));
    m_vocab = new QLineEdit;
    m_vocab->setObjectName(QStringLiteral("vocabPath"));
    m_vocab->setPlaceholderText(tr("found beside the weights when empty (merges.txt, vocab.json, bpe_simple_vocab_16e6.txt.gz)"));
    auto *browseW = new QPushButton(tr("Browse…"));
    auto *browseV = new QPushButton(tr("Browse…"));
    auto *wRow = new QHBoxLayout;
    wRow->addWidget(m_weights, 1);
    wRow->addWidget(browseW);
    auto *vRow = new QHBoxLayout;
    vRow->addWidget(m_vocab, 1);
    vRow->addWidget(browseV);
    m_modelInfo = new QLabel(tr("Choose a model."));
    m_modelInfo->setObjectName(QStringLiteral("modelInfo"));
    m_modelInfo->setWordWrap(true);
    m_modelInfo->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_modelInfo->setMinimumHeight(90);
    m_modelInfo->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    auto *l = new QVBoxLayout(p);
    l->addWidget(m_builtin);
    l->addWidget(m_file);
    auto *form = new QFormLayout;
    form->addRow(tr("Weights:"), wRow);
    form->addRow(tr("Vocabulary:"), vRow);
    l->addLayout(form);
    l->addSpacing(8);
    l->addWidget(m_modelInfo);
    l->addStretch();
    connect(m_builtin, &QRadioButton::toggled, this, [this](bool on) {
        if (on)
            chooseBuiltin();
    });
    connect(browseW, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Weights file"), m_weights->text(),
                                                       tr("CLIP weights (*.pt *.pth *.bin *.safetensors);;All files (*)"));
        if (!f.isEmpty())
            chooseWeights(f);
    });
    connect(browseV, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Vocabulary"), m_vocab->text(),
                                                       tr("CLIP vocabulary (*.txt *.gz *.json);;All files (*)"));
        if (!f.isEmpty()) {
            m_vocab->setText(f);
            inspectModel();
        }
    });
    connect(m_weights, &QLineEdit::editingFinished, this, [this] {
        if (m_file->isChecked() && !m_weights->text().isEmpty() && m_weights->text() != qs(m_model.weights))
            inspectModel();
    });
    connect(m_vocab, &QLineEdit::editingFinished, this, [this] { inspectModel(); });
    p->onInitialize = [this, builtin] {
        if (!m_modelOk && !m_modelBusy && m_weights->text().isEmpty() && !builtin.isEmpty())
            m_builtin->setChecked(true);
        else if (builtin.isEmpty() && !m_file->isChecked())
            m_file->setChecked(true);
    };
    setPage(ModelPage, p);
}

void NewProjectWizard::chooseBuiltin()
{
    const QString builtin = qs(builtinModelWeights());
    if (builtin.isEmpty())
        return;
    m_builtin->setChecked(true);
    m_weights->setText(builtin);
    m_vocab->clear();
    inspectModel();
}

void NewProjectWizard::chooseWeights(const QString &path)
{
    m_file->setChecked(true);
    m_weights->setText(path);
    inspectModel();
}

void NewProjectWizard::inspectModel()
{
    const QString weights = m_weights->text().trimmed();
    if (weights.isEmpty())
        return;
    // editingFinished fires on every focus change: read a file again only when something changed.
    const QString key = weights + QLatin1Char('\n') + m_vocab->text().trimmed();
    if (key == m_inspected && (m_modelBusy || m_modelOk))
        return;
    m_inspected = key;
    m_modelOk = false;
    m_modelBusy = true;
    m_modelInfo->setText(tr("Reading %1 …").arg(weights));
    if (auto *p = qobject_cast<CheckedPage *>(page(ModelPage)))
        p->recheck();
    auto *job = new InspectModelJob(weights, m_vocab->text().trimmed());
    connect(job, &Job::done, this, [this, job, key](Job::Status status, const QString &message) {
        if (key != m_inspected)
            return;   // a later choice is being checked; this answer is stale
        m_modelBusy = false;
        if (status == Job::Succeeded) {
            m_model = job->summary;
            m_modelOk = true;
            QStringList notes;
            for (const auto &n : m_model.notes)
                notes << qs(n).toHtmlEscaped();
            m_modelInfo->setText(tr("<b>%1</b><br>%2<br><b>%3</b> parameters · format: %4<br>vocabulary: %5%6")
                                     .arg(QFileInfo(qs(m_model.weights)).fileName().toHtmlEscaped(),
                                          qs(m_model.architecture).toHtmlEscaped(),
                                          QLocale().toString(static_cast<qlonglong>(m_model.parameters)),
                                          qs(m_model.format).toHtmlEscaped(), qs(m_model.vocab).toHtmlEscaped(),
                                          notes.isEmpty() ? QString() : QStringLiteral("<br><small>") + notes.join(QStringLiteral("<br>")) + QStringLiteral("</small>")));
            if (m_vocab->text().isEmpty())
                m_vocab->setPlaceholderText(tr("found: %1").arg(qs(m_model.vocab)));
        } else {
            m_modelOk = false;
            m_modelInfo->setText(errorHtml(message) + tr("<br>Nothing was changed; choose another file."));
        }
        if (auto *p = qobject_cast<CheckedPage *>(page(ModelPage)))
            p->recheck();
        Q_EMIT modelChecked(m_modelOk);
    });
    startJob(job);
}

void NewProjectWizard::buildDataPage()
{
    auto *p = new CheckedPage([this] { return m_folderOk && !m_folderBusy; });
    p->setTitle(tr("Images"));
    p->setSubTitle(tr("A folder with one sub-folder of images per class (optionally under train/, val/, test/). Choose it or drop it here."));
    m_data = new QLineEdit;
    m_data->setObjectName(QStringLiteral("dataPath"));
    auto *browse = new QPushButton(tr("Browse…"));
    auto *row = new QHBoxLayout;
    row->addWidget(m_data, 1);
    row->addWidget(browse);
    m_dataInfo = new QLabel(tr("Choose a folder."));
    m_dataInfo->setObjectName(QStringLiteral("dataInfo"));
    m_dataInfo->setWordWrap(true);
    m_classTable = new QTableWidget(0, 3);
    m_classTable->setObjectName(QStringLiteral("wizardClasses"));
    m_classTable->setHorizontalHeaderLabels({tr("Class name (editable)"), tr("Folder"), tr("Images")});
    m_classTable->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_classTable->verticalHeader()->hide();
    m_issues = new QListWidget;
    m_issues->setObjectName(QStringLiteral("scanIssues"));
    m_issues->setMaximumHeight(110);
    auto *l = new QVBoxLayout(p);
    l->addLayout(row);
    l->addWidget(m_dataInfo);
    l->addWidget(m_classTable, 1);
    l->addWidget(new QLabel(tr("Files that will not be used, with the reason:")));
    l->addWidget(m_issues);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Image folder"), m_data->text());
        if (!d.isEmpty())
            chooseFolder(d);
    });
    connect(m_data, &QLineEdit::editingFinished, this, [this] {
        if (!m_data->text().isEmpty() && m_data->text() != qs(m_folder.root))
            scanFolder();
    });
    setPage(DataPage, p);
}

void NewProjectWizard::chooseFolder(const QString &path)
{
    m_data->setText(path);
    scanFolder();
}

void NewProjectWizard::scanFolder()
{
    const QString root = m_data->text().trimmed();
    if (root == m_scanned && (m_folderBusy || m_folderOk))
        return;
    m_scanned = root;
    m_folderOk = false;
    m_classTable->setRowCount(0);
    m_issues->clear();
    if (!QFileInfo(root).isDir()) {
        m_dataInfo->setText(errorHtml(QFileInfo::exists(root) ? tr("%1 is a file, not a folder. Choose (or drop) the folder that holds one sub-folder per class.").arg(root)
                                                              : tr("%1 does not exist.").arg(root)));
        if (auto *p = qobject_cast<CheckedPage *>(page(DataPage)))
            p->recheck();
        Q_EMIT folderScanned(false);
        return;
    }
    m_folderBusy = true;
    m_dataInfo->setText(tr("Scanning %1 …").arg(root));
    auto *job = new ScanFolderJob(root);
    connect(job, &Job::done, this, [this, job, root](Job::Status status, const QString &message) {
        if (root != m_scanned)
            return;   // a later folder is being scanned; this answer is stale
        m_folderBusy = false;
        if (status == Job::Succeeded) {
            m_folder = job->folder;
            const auto counts = m_folder.imagesPerClass();
            int64_t total = 0;
            m_classTable->setRowCount(static_cast<int>(m_folder.numClasses()));
            for (int i = 0; i < m_folder.numClasses(); ++i) {
                const auto ui = static_cast<size_t>(i);
                total += counts[ui];
                m_classTable->setItem(i, 0, new QTableWidgetItem(qs(m_folder.classNames[ui])));
                auto *folder = new QTableWidgetItem(qs(m_folder.classFolders[ui]));
                folder->setFlags(folder->flags() & ~Qt::ItemIsEditable);
                auto *count = new QTableWidgetItem(QString::number(counts[ui]));
                count->setFlags(count->flags() & ~Qt::ItemIsEditable);
                count->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
                m_classTable->setItem(i, 1, folder);
                m_classTable->setItem(i, 2, count);
            }
            // Files the scan listed but that do not open as images (header check; the project's
            // import decodes every file and records the rest).
            int unreadable = 0;
            for (const auto &r : m_folder.split("all")) {
                QImageReader reader(qs(r.path));
                if (!reader.canRead()) {
                    ++unreadable;
                    m_issues->addItem(QStringLiteral("%1: %2").arg(qs(r.path), reader.errorString()));
                }
            }
            for (const auto &issue : m_folder.issues)
                m_issues->addItem(QStringLiteral("%1: %2").arg(qs(issue.path), qs(issue.reason)));
            const bool clean = m_issues->count() == 0;
            if (clean) {
                m_issues->addItem(tr("None: every file is an image in a class folder."));
                m_issues->item(0)->setFlags(Qt::NoItemFlags);
            }
            m_folderOk = true;
            m_dataInfo->setText(tr("<b>%1</b>, %2 (%3 to %4 per class)%5%6")
                                    .arg(count::classes(m_folder.numClasses()), count::images(total))
                                    .arg(*std::min_element(counts.begin(), counts.end()))
                                    .arg(*std::max_element(counts.begin(), counts.end()))
                                    .arg(m_folder.hasSplits() ? tr(", with train/val/test splits") : QString())
                                    .arg(!clean ? QStringLiteral(" · ") + toneHtml(Tone::Bad, tr("%1 not usable, %2 of them unreadable images — listed below")
                                                                 .arg(count::files(m_issues->count()))
                                                                 .arg(unreadable))
                                                           : QString()));
            if (m_folder.numClasses() < 2) {
                m_folderOk = false;
                m_dataInfo->setText(m_dataInfo->text() + QStringLiteral("<br>") + errorHtml(tr("At least two classes are needed to classify.")));
            }
        } else {
            m_dataInfo->setText(errorHtml(message));
        }
        if (auto *p = qobject_cast<CheckedPage *>(page(DataPage)))
            p->recheck();
        Q_EMIT folderScanned(m_folderOk);
    });
    startJob(job);
}

void NewProjectWizard::buildProtocolPage()
{
    auto *p = new CheckedPage([this] { return !m_creating; });
    p->setTitle(tr("Protocol"));
    p->setSubTitle(tr("Defaults for new runs, those of the published protocol: base-to-new split, 16 shots, seed 1. "
                      "Every run can change them."));
    m_baseToNew = new QCheckBox(tr("Base-to-new: train on the first half of the classes, test on both halves"));
    m_baseToNew->setObjectName(QStringLiteral("baseToNew"));
    m_baseToNew->setChecked(true);
    m_shots = new QSpinBox;
    m_shots->setObjectName(QStringLiteral("shots"));
    m_shots->setRange(1, 1000);
    m_shots->setValue(16);
    m_seed = new QSpinBox;
    m_seed->setObjectName(QStringLiteral("seed"));
    m_seed->setRange(0, 1000000);
    m_seed->setValue(1);
    m_split = new QLabel;
    m_split->setWordWrap(true);
    m_createInfo = new QLabel;
    m_createInfo->setObjectName(QStringLiteral("createInfo"));
    m_createInfo->setWordWrap(true);
    m_progress = new QProgressBar;
    m_progress->setVisible(false);
    auto *form = new QFormLayout(p);
    form->addRow(m_baseToNew);
    form->addRow(tr("Shots per class:"), m_shots);
    form->addRow(tr("Seed:"), m_seed);
    form->addRow(m_split);
    form->addRow(m_progress);
    form->addRow(m_createInfo);
    auto update = [this] {
        const QStringList names = classNames();
        const int base = (names.size() + 1) / 2;
        m_split->setText(m_baseToNew->isChecked()
                             ? tr("<b>Base</b> (%1): %2<br><b>New</b> (%3): %4")
                                   .arg(base)
                                   .arg(names.mid(0, base).join(QLatin1String(", ")).toHtmlEscaped())
                                   .arg(names.size() - base)
                                   .arg(names.mid(base).join(QLatin1String(", ")).toHtmlEscaped())
                             : tr("All %1 classes are trained and tested.").arg(names.size()));
    };
    connect(m_baseToNew, &QCheckBox::toggled, this, update);
    p->onInitialize = update;
    setPage(ProtocolPage, p);
}

QString NewProjectWizard::projectPath() const
{
    return QDir(m_location->text().trimmed()).filePath(qs(projects::ProjectStore::projectPath(ss(m_name->text().trimmed()))));
}

ProjectDefaults NewProjectWizard::defaults() const
{
    ProjectDefaults d;
    d.weights = qs(m_model.weights);
    d.vocab = m_vocab->text().trimmed();
    d.data = qs(m_folder.root);
    d.shots = m_shots->value();
    d.seed = m_seed->value();
    d.baseToNew = m_baseToNew->isChecked();
    return d;
}

QString NewProjectWizard::modelMessage() const { return m_modelInfo->text(); }
QString NewProjectWizard::folderMessage() const { return m_dataInfo->text(); }

QStringList NewProjectWizard::classNames() const
{
    QStringList names;
    for (int i = 0; i < m_classTable->rowCount(); ++i)
        names << (m_classTable->item(i, 0) ? m_classTable->item(i, 0)->text().trimmed() : QString());
    return names;
}

void NewProjectWizard::setName(const QString &name, const QString &location)
{
    m_name->setText(name);
    m_location->setText(location);
}

bool NewProjectWizard::validateCurrentPage()
{
    if (currentId() == NamePage) {
        const QString location = m_location->text().trimmed();
        QString error;
        if (m_name->text().contains(QLatin1Char('/')))
            error = tr("The name cannot contain '/'.");
        // A location that does not exist yet is created, as the page said.
        else if (!QFileInfo::exists(location) && !QDir().mkpath(location))
            error = tr("%1 cannot be created; choose another location.").arg(location);
        else if (!QFileInfo(location).isDir())
            error = tr("%1 is not a folder.").arg(location);
        else if (!QFileInfo(location).isWritable())
            error = tr("%1 cannot be written to; choose another location.").arg(location);
        else if (QFileInfo::exists(projectPath()))
            error = tr("%1 already exists; choose another name (an existing file is never overwritten).").arg(projectPath());
        m_nameError->setText(error.isEmpty() ? QString() : errorHtml(error));
        return error.isEmpty();
    }
    if (currentId() == DataPage) {
        for (const QString &n : classNames())
            if (n.isEmpty()) {
                m_dataInfo->setText(errorHtml(tr("Every class needs a name.")));
                return false;
            }
        return m_folderOk;
    }
    if (currentId() == ProtocolPage) {
        if (m_created)
            return true;
        createProject();
        return false;
    }
    return QWizard::validateCurrentPage();
}

void NewProjectWizard::createProject()
{
    if (m_creating)
        return;
    // Edited class names are kept in the project; the dataset's folder is only read.
    const QStringList names = classNames();
    std::map<std::string, std::string> edited;
    for (int i = 0; i < names.size(); ++i)
        if (names[i] != qs(m_folder.classNames[static_cast<size_t>(i)]))
            edited[m_folder.classFolders[static_cast<size_t>(i)]] = ss(names[i]);
    m_creating = true;
    currentChecked(this)->recheck();
    m_progress->setVisible(true);
    m_progress->setRange(0, 0);
    m_createInfo->setText(tr("Creating %1 and checking every image …").arg(projectPath()));
    const QString path = projectPath();
    auto *job = new CreateProjectJob(path, qs(m_folder.root), edited);
    connect(job, &Job::progress, this, [this](qint64 done, qint64 total) {
        m_progress->setRange(0, static_cast<int>(total));
        m_progress->setValue(static_cast<int>(done));
    });
    connect(job, &Job::done, this, [this, job, path](Job::Status status, const QString &message) {
        m_creating = false;
        m_progress->setVisible(false);
        if (status != Job::Succeeded) {
            m_createInfo->setText(errorHtml(message.isEmpty() ? tr("cancelled") : message));
            currentChecked(this)->recheck();
            return;
        }
        const auto &r = job->report;
        QString summary = QStringLiteral("%1: %2, %3").arg(path, count::classes(r.classes), count::images(r.images));
        if (!r.unreadable.empty()) {
            summary += tr("; %1 unreadable:").arg(r.unreadable.size());
            for (const auto &u : r.unreadable)
                summary += QStringLiteral("\n  %1: %2").arg(qs(u.path), qs(u.reason));
        }
        defaults().save(path);
        settings::setLastProjectLocation(m_location->text().trimmed());
        m_created = true;
        Q_EMIT projectCreated(path, summary);
        accept();
    });
    startJob(job);
}

void NewProjectWizard::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void NewProjectWizard::dropEvent(QDropEvent *event)
{
    const auto urls = event->mimeData()->urls();
    if (urls.isEmpty())
        return;
    const QString path = urls.first().toLocalFile();
    if (currentId() == ModelPage)
        chooseWeights(path);
    else if (currentId() == DataPage)
        chooseFolder(path);
    event->acceptProposedAction();
}

} // namespace sep::ui
