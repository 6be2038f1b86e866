#include "ui/export_dialog.h"

#include "ui/engine_facade.h"
#include "ui/jobs.h"
#include "ui/counts.h"
#include "ui/qt_convert.h"
#include "ui/theme.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDesktopServices>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QUrl>
#include <QVBoxLayout>

namespace sep::ui {

ExportDialog::ExportDialog(const QString &project, const std::vector<projects::RunInfo> &runs, int64_t preselect, QWidget *parent)
    : QDialog(parent), m_project(project), m_runs(runs)
{
    setWindowTitle(tr("Export tuned model"));
    setObjectName(QStringLiteral("exportDialog"));
    m_run = new QComboBox;
    m_run->setObjectName(QStringLiteral("exportRun"));
    for (const auto &r : runs)
        if (r.status == "finished") {
            m_run->addItem(QStringLiteral("run %1 · %2 · %3 shots · seed %4").arg(r.id).arg(qs(facade::methodTitle(r.method))).arg(r.shots).arg(r.seed),
                           QVariant::fromValue<qint64>(r.id));
            if (r.id == preselect || preselect <= 0)   // the run picked, else the latest
                m_run->setCurrentIndex(m_run->count() - 1);
        }
    m_out = new QLineEdit;
    m_out->setObjectName(QStringLiteral("exportPath"));
    auto *browse = new QPushButton(tr("Browse…"));
    auto *row = new QHBoxLayout;
    row->addWidget(m_out, 1);
    row->addWidget(browse);
    m_backbone = new QCheckBox(tr("Include the backbone weights, so the bundle runs alone"));
    m_zip = new QCheckBox(tr("One zip file instead of a folder"));
    m_newClasses = new QCheckBox;
    m_newClasses->setObjectName(QStringLiteral("exportNewClasses"));
    m_newClasses->setChecked(true);
    m_newClasses->setToolTip(tr("The learned context is shared by all classes, so the bundle can also recognise the classes "
                                "the run held out for testing. Without them it answers every image with a base class."));
    m_extraClasses = new QLineEdit;
    m_extraClasses->setObjectName(QStringLiteral("exportExtraClasses"));
    m_extraClasses->setPlaceholderText(tr("optional: a text file with one class name per line"));
    auto *browseClasses = new QPushButton(tr("Browse…"));
    auto *classesRow = new QHBoxLayout;
    classesRow->addWidget(m_extraClasses, 1);
    classesRow->addWidget(browseClasses);
    m_result = new QLabel;
    m_result->setObjectName(QStringLiteral("exportResult"));
    m_result->setWordWrap(true);
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_progress = new QProgressBar;
    m_progress->setRange(0, 0);
    m_progress->hide();
    m_export = new QPushButton(QIcon(QStringLiteral(":/icons/export.svg")), tr("Export"));
    m_export->setObjectName(QStringLiteral("exportButton"));
    m_export->setDefault(true);
    m_openFolder = new QPushButton(tr("Open folder"));
    m_openFolder->hide();
    auto *close = new QPushButton(tr("Close"));
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_openFolder);
    buttons->addStretch();
    buttons->addWidget(m_export);
    buttons->addWidget(close);
    auto *form = new QFormLayout;
    form->addRow(tr("Run:"), m_run);
    form->addRow(tr("Bundle:"), row);
    form->addRow(m_newClasses);
    form->addRow(tr("More classes:"), classesRow);
    form->addRow(m_backbone);
    form->addRow(m_zip);
    auto *l = new QVBoxLayout(this);
    l->addLayout(form);
    l->addWidget(m_progress);
    l->addWidget(m_result);
    l->addStretch();
    l->addLayout(buttons);
    resize(640, 300);

    if (m_run->count() == 0) {
        m_result->setText(tr("No finished run to export yet: train one first (Run ▸ Train…)."));
        m_export->setEnabled(false);
    }
    runChanged();
    connect(m_run, &QComboBox::currentIndexChanged, this, &ExportDialog::runChanged);
    connect(browseClasses, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Class names"), m_extraClasses->text(),
                                                       tr("Text files (*.txt);;All files (*)"));
        if (!f.isEmpty())
            m_extraClasses->setText(f);
    });
    connect(m_zip, &QCheckBox::toggled, this, &ExportDialog::suggestPath);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getSaveFileName(this, tr("Bundle"), m_out->text(), tr("SEP model (*.sepmodel)"));
        if (!f.isEmpty())
            m_out->setText(f);
    });
    connect(m_export, &QPushButton::clicked, this, &ExportDialog::startExport);
    connect(close, &QPushButton::clicked, this, &QDialog::reject);
    connect(m_openFolder, &QPushButton::clicked, this, [this] {
        QDesktopServices::openUrl(QUrl::fromLocalFile(QFileInfo(output()).absolutePath()));
    });
}

void ExportDialog::runChanged()
{
    suggestPath();
    const qint64 id = m_run->currentData().toLongLong();
    const auto it = std::find_if(m_runs.begin(), m_runs.end(), [id](const projects::RunInfo &r) { return r.id == id; });
    int newClasses = 0;
    if (it != m_runs.end() && it->baseToNew && it->plan.is_object()) {
        const auto plan = it->plan.value("test_classes", nlohmann::json::object());
        newClasses = static_cast<int>(plan.value("new", nlohmann::json::array()).size());
    }
    m_newClasses->setText(tr("Also recognise the %1 held out from tuning (this run's new classes)").arg(count::classes(newClasses)));
    m_newClasses->setVisible(newClasses > 0);
}

QString ExportDialog::predictCommand(const QString &bundle, const QString &weights)
{
    // POSIX shell quoting: plain words stay as they are, anything else goes in single quotes.
    auto quoted = [](const QString &word) {
        static const QRegularExpression plain(QStringLiteral("^[A-Za-z0-9_./:=@%+,-]+$"));
        if (plain.match(word).hasMatch())
            return word;
        QString q = word;
        q.replace(QLatin1Char('\''), QStringLiteral("'\\''"));
        return QStringLiteral("'%1'").arg(q);
    };
    QString command = QStringLiteral("sep predict --model %1").arg(quoted(bundle));
    if (!weights.isEmpty())
        command += QStringLiteral(" --weights %1").arg(quoted(weights));
    return command + QStringLiteral(" IMAGE…");
}

void ExportDialog::suggestPath()
{
    const qint64 run = m_run->currentData().toLongLong();
    if (!run)
        return;
    const QString folder = qs(projects::projectFolderFor(ss(m_project))) + QStringLiteral("/exports");
    m_out->setText(QStringLiteral("%1/run%2.sepmodel%3").arg(folder).arg(run).arg(m_zip->isChecked() ? QStringLiteral(".zip") : QString()));
}

void ExportDialog::setOutput(const QString &path) { m_out->setText(path); }
QString ExportDialog::output() const { return m_out->text().trimmed(); }
QString ExportDialog::resultText() const { return m_result->text(); }

void ExportDialog::startExport()
{
    const QString out = output();
    if (out.isEmpty())
        return;
    if (QFileInfo::exists(out)) {
        m_result->setText(toneHtml(Tone::Bad, tr("%1 already exists; choose another name.").arg(out.toHtmlEscaped())));
        return;
    }
    QDir().mkpath(QFileInfo(out).absolutePath());
    m_export->setEnabled(false);
    m_progress->show();
    m_result->setText(tr("Writing %1 …").arg(out));
    facade::ExportRequest request;
    request.project = ss(m_project);
    request.runId = m_run->currentData().toLongLong();
    request.out = ss(out);
    request.includeBackbone = m_backbone->isChecked();
    request.zip = m_zip->isChecked();
    request.trainedClassesOnly = m_newClasses->isVisible() && !m_newClasses->isChecked();
    request.extraClassesFile = ss(m_extraClasses->text().trimmed());
    auto *job = new ExportJob(request);
    connect(job, &Job::logged, this, &ExportDialog::log);
    connect(job, &Job::done, this, [this, job](Job::Status status, const QString &message) {
        m_progress->hide();
        m_export->setEnabled(true);
        if (status == Job::Succeeded) {
            m_ok = true;
            const auto &o = job->outcome;
            const QString classes = o.added > 0 ? tr("%1 (%2 not tuned on)").arg(count::classes(o.classes)).arg(o.added)
                                                : count::classes(o.classes);
            const QString backbone = o.backboneIncluded        ? tr("backbone included")
                                     : o.weightsNeeded.empty() ? tr("backbone: the built-in model")
                                                               : tr("backbone: give it with --weights");
            m_result->setText(tr("<b>Written:</b> %1<br>%2 over %3, %4.<br>Run it with <tt>%5</tt>")
                                  .arg(qs(o.path).toHtmlEscaped(), qs(facade::methodTitle(o.method)), classes, backbone,
                                       predictCommand(qs(o.path), qs(o.weightsNeeded)).toHtmlEscaped()));
            m_openFolder->show();
            Q_EMIT exported(qs(o.path));
        } else {
            m_result->setText(toneHtml(Tone::Bad, (message.isEmpty() ? tr("cancelled") : message).toHtmlEscaped()));
        }
    });
    startJob(job);
}

} // namespace sep::ui
