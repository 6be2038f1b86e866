#pragma once
// One run in one place: the name and notes a person gives it (editable), and its reproducibility
// record (ProjectStore::reproducibilityRecord: options, seed, the few-shot split's SHA-256, the
// weights' SHA-256, the program), which can be copied to compare with another run or paste in a paper.

#include "projects/project_store.h"

#include <QDialog>

class QLineEdit;
class QPlainTextEdit;
class QTableWidget;

namespace sep::ui {

class RunDetailsDialog : public QDialog {
    Q_OBJECT
public:
    RunDetailsDialog(const projects::RunInfo &run, const std::vector<projects::RecordLine> &record, QWidget *parent = nullptr);
    QString name() const;
    QString notes() const;
    // The record as text, one "label: value" line each (what "Copy record" puts on the clipboard).
    QString recordText() const;

private:
    std::vector<projects::RecordLine> m_record;
    QLineEdit *m_name = nullptr;
    QPlainTextEdit *m_notes = nullptr;
    QTableWidget *m_table = nullptr;
};

} // namespace sep::ui
