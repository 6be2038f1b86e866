#pragma once
// A confusion matrix (rows: true class, columns: predicted) as a table model for the heat map:
// DisplayRole the count, FractionRole the share of the row (recall per cell), BackgroundRole a colour
// from white (0) to deep blue (1) of that share.

#include "projects/project_store.h"

#include <QAbstractTableModel>
#include <QColor>

#include <vector>

namespace sep::ui {

class ConfusionModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Role { FractionRole = Qt::UserRole + 1, CountRole };
    explicit ConfusionModel(QObject *parent = nullptr);

    // `confusion`: classes² counts, row-major, row = true class.
    void setMatrix(std::vector<std::string> classes, std::vector<int64_t> confusion);
    void setEvaluation(const projects::StoredEvaluation &evaluation);
    int64_t count(int trueClass, int predicted) const;
    double fraction(int trueClass, int predicted) const;   // count / row total (0 for an empty row)
    int classCount() const { return static_cast<int>(m_classes.size()); }
    QString className(int i) const;
    // A cell's colour for the share of its row: white → blue on the diagonal (correct), white → red
    // off it, saturating at half the row (mistakes stand out).
    static QColor cellColour(bool diagonal, double share);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<std::string> m_classes;
    std::vector<int64_t> m_counts;
    std::vector<int64_t> m_rowTotals;
};

} // namespace sep::ui
