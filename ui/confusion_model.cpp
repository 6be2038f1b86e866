#include "ui/confusion_model.h"

#include "ui/qt_convert.h"

#include <QColor>

#include <algorithm>

namespace sep::ui {

ConfusionModel::ConfusionModel(QObject *parent) : QAbstractTableModel(parent) {}

void ConfusionModel::setMatrix(std::vector<std::string> classes, std::vector<int64_t> confusion)
{
    beginResetModel();
    m_classes = std::move(classes);
    const size_t n = m_classes.size();
    if (confusion.size() != n * n)
        confusion.assign(n * n, 0);   // a damaged record shows as empty rather than reading past the end
    m_counts = std::move(confusion);
    m_rowTotals.assign(n, 0);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
            m_rowTotals[i] += m_counts[i * n + j];
    endResetModel();
}

void ConfusionModel::setEvaluation(const projects::StoredEvaluation &evaluation)
{
    setMatrix(evaluation.classes, evaluation.confusion);
}

int64_t ConfusionModel::count(int t, int p) const
{
    const int n = classCount();
    if (t < 0 || p < 0 || t >= n || p >= n)
        return 0;
    return m_counts[static_cast<size_t>(t * n + p)];
}

double ConfusionModel::fraction(int t, int p) const
{
    if (t < 0 || t >= classCount() || m_rowTotals[static_cast<size_t>(t)] == 0)
        return 0;
    return static_cast<double>(count(t, p)) / static_cast<double>(m_rowTotals[static_cast<size_t>(t)]);
}

QString ConfusionModel::className(int i) const
{
    return i >= 0 && i < classCount() ? qs(m_classes[static_cast<size_t>(i)]) : QString();
}

QColor ConfusionModel::cellColour(bool diagonal, double share)
{
    // White → blue on the diagonal; off it, red tones at twice the strength so mistakes stand out.
    const QColor hot = diagonal ? QColor(0x15, 0x65, 0xc0) : QColor(0xc6, 0x28, 0x28);
    const double a = std::clamp(share * (diagonal ? 1.0 : 2.0), 0.0, 1.0);
    return QColor::fromRgbF(1 - a * (1 - hot.redF()), 1 - a * (1 - hot.greenF()), 1 - a * (1 - hot.blueF()));
}

int ConfusionModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : classCount(); }
int ConfusionModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : classCount(); }

QVariant ConfusionModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid())
        return {};
    const int t = index.row(), p = index.column();
    const double f = fraction(t, p);
    switch (role) {
    case Qt::DisplayRole: {
        const int64_t c = count(t, p);
        return c ? QVariant(QString::number(c)) : QVariant();
    }
    case CountRole:
        return QVariant::fromValue<qint64>(count(t, p));
    case FractionRole:
        return f;
    case Qt::BackgroundRole:
        return cellColour(t == p, f);
    case Qt::ForegroundRole:
        return f > 0.55 ? QColor(Qt::white) : QColor(Qt::black);
    case Qt::TextAlignmentRole:
        return int(Qt::AlignCenter);
    case Qt::ToolTipRole:
        return QStringLiteral("true %1, predicted %2: %3 image(s), %4 of the class\nClick to see them")
            .arg(className(t), className(p))
            .arg(count(t, p))
            .arg(percent(f));
    }
    return {};
}

QVariant ConfusionModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (role == Qt::DisplayRole)
        return className(section);
    if (role == Qt::ToolTipRole)
        return orientation == Qt::Vertical ? QStringLiteral("true class: %1").arg(className(section))
                                           : QStringLiteral("predicted: %1").arg(className(section));
    return {};
}

} // namespace sep::ui
