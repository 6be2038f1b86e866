#pragma once
// The runs of a project as a table (RunsModel), and the same runs grouped by their settings with
// mean ± standard deviation over seeds (RunSummaryModel, aggregateRuns).

#include "engine/train/metrics.h"
#include "projects/project_store.h"

#include <QAbstractTableModel>

#include <optional>
#include <vector>

namespace sep::ui {

class RunsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Id, Name, Method, Shots, Seed, Status, Epochs, Base, New, HarmonicMean, Duration, Created, ColumnCount };
    enum Role { RunIdRole = Qt::UserRole + 1, SortRole };

    explicit RunsModel(QObject *parent = nullptr);
    void setRuns(std::vector<projects::RunInfo> runs);
    const projects::RunInfo *runAt(int row) const;
    int rowOf(int64_t runId) const;
    // A live run's progress ("epoch 3/10 · 42%") shown in its status cell until the next setRuns.
    void setLiveStatus(int64_t runId, const QString &text);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<projects::RunInfo> m_runs;
    int64_t m_liveRun = 0;
    QString m_liveText;
};

// "81.2 ± 1.3" (percent), "81.2" for one value, "–" for none
QString formatStat(const train::MeanStd &s);

struct RunGroup {
    std::string method;
    int64_t shots = 0;
    bool baseToNew = false;
    std::vector<uint64_t> seeds;
    std::string data;                 // the image folder the runs used
    train::MeanStd base, novel, hm, all;
    // The figure groups of one protocol (same folder, shots, protocol) are compared by: the harmonic
    // mean for base-to-new, the accuracy on all classes otherwise.
    const train::MeanStd &headline() const { return baseToNew ? hm : all; }
    // What sets this group apart from other groups of the same method ("epochs 3"); empty when
    // nothing does.
    std::string settings;
};
// Finished runs grouped by every setting of their spec except the seed (and the device, and what is
// only recorded: selections, [CLS] attention), so that only seeds are averaged; others are left out.
std::vector<RunGroup> aggregateRuns(const std::vector<projects::RunInfo> &runs);

class RunSummaryModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Method, Shots, Protocol, Seeds, Base, New, HarmonicMean, All, Settings, ColumnCount };
    explicit RunSummaryModel(QObject *parent = nullptr);
    void setRuns(const std::vector<projects::RunInfo> &runs);
    const std::vector<RunGroup> &groups() const { return m_groups; }
    // Whether group i has the best headline figure of its protocol (shown in bold).
    bool isBest(size_t i) const;
    // One sentence per protocol where a baseline's headline figure beats SEP's; "" when none does.
    QString verdict() const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<RunGroup> m_groups;
};

} // namespace sep::ui
