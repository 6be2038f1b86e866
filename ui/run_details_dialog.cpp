#include "ui/run_details_dialog.h"

#include "ui/qt_convert.h"

#include <QApplication>
#include <QClipboard>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace sep::ui {

RunDetailsDialog::RunDetailsDialog(const projects::RunInfo &run, const std::vector<projects::RecordLine> &record,
                                   QWidget *parent)
    : QDialog(parent), m_record(record)
{
    setObjectName(QStringLiteral("runDetailsDialog"));
    setWindowTitle(tr("Run %1").arg(run.id));
    resize(720, 560);

    m_name = new QLineEdit(qs(run.name));
    m_name->setObjectName(QStringLiteral("runName"));
    m_name->setPlaceholderText(tr("e.g. baseline before cleaning the labels"));
    m_name->setMaxLength(static_cast<int>(projects::ProjectStore::kMaxRunNameBytes));
    m_notes = new QPlainTextEdit(qs(run.notes));
    m_notes->setObjectName(QStringLiteral("runNotes"));
    m_notes->setPlaceholderText(tr("What you tried, what you saw, what to do next"));
    m_notes->setTabChangesFocus(true);   // Tab moves on, as everywhere else in the dialog

    m_table = new QTableWidget(static_cast<int>(record.size()), 2);
    m_table->setObjectName(QStringLiteral("reproducibilityRecord"));
    m_table->setHorizontalHeaderLabels({tr("What"), tr("Value")});
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setWordWrap(true);
    for (size_t i = 0; i < record.size(); ++i) {
        m_table->setItem(static_cast<int>(i), 0, new QTableWidgetItem(qs(record[i].label)));
        auto *value = new QTableWidgetItem(qs(record[i].value));
        value->setToolTip(qs(record[i].value));
        m_table->setItem(static_cast<int>(i), 1, value);
    }
    m_table->resizeColumnToContents(0);
    m_table->resizeRowsToContents();

    auto *copy = new QPushButton(tr("&Copy record"));
    copy->setObjectName(QStringLiteral("copyRecord"));
    connect(copy, &QPushButton::clicked, this, [this] { QApplication::clipboard()->setText(recordText()); });

    auto *form = new QFormLayout;
    form->addRow(tr("&Name:"), m_name);
    form->addRow(tr("N&otes:"), m_notes);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel);
    buttons->addButton(copy, QDialogButtonBox::ActionRole);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto *explain = new QLabel(tr("<b>Reproducibility record</b> — two runs whose records agree (but for the device) "
                                  "trained on the same images, weights and options with the same program."));
    explain->setWordWrap(true);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form, 1);
    layout->addWidget(explain);
    layout->addWidget(m_table, 2);
    layout->addWidget(buttons);
    m_name->setFocus();
}

QString RunDetailsDialog::name() const { return m_name->text().trimmed(); }
QString RunDetailsDialog::notes() const { return m_notes->toPlainText(); }

QString RunDetailsDialog::recordText() const
{
    QStringList lines;
    for (const auto &line : m_record)
        lines << qs(line.label) + QStringLiteral(": ") + qs(line.value);
    return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

} // namespace sep::ui
