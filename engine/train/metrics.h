#pragma once
// Classification metrics over a fixed class list: confusion matrix, accuracy, per-class accuracy,
// and the base-to-new harmonic mean. Torch-free plain data, so the UI and the store can use it.
//
//   sep::train::Confusion c(numClasses);
//   c.add(trueLabel, predictedLabel);
//   c.accuracy();  c.perClassAccuracy();

#include <cstdint>
#include <string>
#include <vector>

namespace sep::train {

class Confusion {
public:
    explicit Confusion(int64_t numClasses = 0);
    void add(int64_t truth, int64_t predicted);

    int64_t numClasses() const { return m_n; }
    int64_t total() const { return m_total; }
    int64_t correct() const { return m_correct; }
    double accuracy() const;                        // in [0, 1]; 0 when empty
    std::vector<double> perClassAccuracy() const;   // NaN for classes with no images
    std::vector<int64_t> perClassCount() const;
    int64_t at(int64_t truth, int64_t predicted) const { return m_cells[static_cast<size_t>(truth * m_n + predicted)]; }
    const std::vector<int64_t> &cells() const { return m_cells; }   // row-major [truth][predicted]

private:
    int64_t m_n = 0, m_total = 0, m_correct = 0;
    std::vector<int64_t> m_cells;
};

// 2·B·N / (B + N); 0 when both are 0.
double harmonicMean(double base, double novel);

struct MeanStd {
    double mean = 0, std = 0;   // sample standard deviation (n − 1); 0 for a single value
    int64_t count = 0;
};
MeanStd meanStd(const std::vector<double> &values);

} // namespace sep::train
