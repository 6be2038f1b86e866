#include "engine/train/metrics.h"

#include "engine/core/error.h"

#include <cmath>
#include <limits>

namespace sep::train {

Confusion::Confusion(int64_t numClasses) : m_n(numClasses), m_cells(static_cast<size_t>(numClasses * numClasses), 0) {}

void Confusion::add(int64_t truth, int64_t predicted)
{
    if (truth < 0 || truth >= m_n || predicted < 0 || predicted >= m_n)
        throw Error("confusion matrix: label " + std::to_string(truth) + " or prediction " + std::to_string(predicted)
                    + " outside 0.." + std::to_string(m_n - 1));
    ++m_cells[static_cast<size_t>(truth * m_n + predicted)];
    ++m_total;
    m_correct += truth == predicted;
}

double Confusion::accuracy() const { return m_total ? static_cast<double>(m_correct) / static_cast<double>(m_total) : 0.0; }

std::vector<int64_t> Confusion::perClassCount() const
{
    std::vector<int64_t> counts(static_cast<size_t>(m_n), 0);
    for (int64_t t = 0; t < m_n; ++t)
        for (int64_t p = 0; p < m_n; ++p)
            counts[static_cast<size_t>(t)] += at(t, p);
    return counts;
}

std::vector<double> Confusion::perClassAccuracy() const
{
    const auto counts = perClassCount();
    std::vector<double> acc(static_cast<size_t>(m_n), std::numeric_limits<double>::quiet_NaN());
    for (int64_t t = 0; t < m_n; ++t)
        if (counts[static_cast<size_t>(t)])
            acc[static_cast<size_t>(t)] = static_cast<double>(at(t, t)) / static_cast<double>(counts[static_cast<size_t>(t)]);
    return acc;
}

double harmonicMean(double base, double novel) { return base + novel > 0 ? 2 * base * novel / (base + novel) : 0.0; }

MeanStd meanStd(const std::vector<double> &values)
{
    MeanStd r;
    r.count = static_cast<int64_t>(values.size());
    if (values.empty())
        return r;
    for (double v : values)
        r.mean += v;
    r.mean /= static_cast<double>(values.size());
    if (values.size() > 1) {
        double ss = 0;
        for (double v : values)
            ss += (v - r.mean) * (v - r.mean);
        r.std = std::sqrt(ss / static_cast<double>(values.size() - 1));
    }
    return r;
}

} // namespace sep::train
