#include "ui/runs_model.h"

#include "ui/counts.h"
#include "ui/engine_facade.h"
#include "ui/qt_convert.h"
#include "ui/theme.h"

#include <QBrush>
#include <QColor>
#include <QFileInfo>
#include <QFont>
#include <QDateTime>
#include <QIcon>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

namespace sep::ui {

RunsModel::RunsModel(QObject *parent) : QAbstractTableModel(parent) {}

void RunsModel::setRuns(std::vector<projects::RunInfo> runs)
{
    beginResetModel();
    m_runs = std::move(runs);
    endResetModel();
}

const projects::RunInfo *RunsModel::runAt(int row) const
{
    return row >= 0 && row < static_cast<int>(m_runs.size()) ? &m_runs[static_cast<size_t>(row)] : nullptr;
}

int RunsModel::rowOf(int64_t runId) const
{
    for (size_t i = 0; i < m_runs.size(); ++i)
        if (m_runs[i].id == runId)
            return static_cast<int>(i);
    return -1;
}

void RunsModel::setLiveStatus(int64_t runId, const QString &text)
{
    m_liveRun = runId;
    m_liveText = text;
    const int row = rowOf(runId);
    if (row >= 0)
        Q_EMIT dataChanged(index(row, Status), index(row, Epochs));
}

int RunsModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : static_cast<int>(m_runs.size()); }
int RunsModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

namespace {

QVariant accuracyCell(const projects::RunInfo &r, const std::string &set)
{
    const auto it = r.accuracy.find(set);
    if (it == r.accuracy.end())
        return {};
    return percent(it->second);
}

QColor statusColor(const std::string &status)
{
    if (status == "finished")
        return toneColour(Tone::Good);
    if (status == "failed" || status == "interrupted")
        return toneColour(Tone::Bad);
    if (status == "cancelled")
        return toneColour(Tone::Warning);
    return toneColour(Tone::Base);
}

} // namespace

QVariant RunsModel::data(const QModelIndex &index, int role) const
{
    const projects::RunInfo *r = runAt(index.row());
    if (!r)
        return {};
    const std::string status = r->displayStatus();
    if (role == RunIdRole)
        return QVariant::fromValue<qint64>(r->id);
    // A finished run with no accuracy at all had no test image: said where its numbers would be.
    const bool unevaluated = status == "finished" && r->accuracy.empty();
    if (role == Qt::ToolTipRole) {
        QString tip = unevaluated ? tr("Run %1 finished without any evaluation: every image of its classes was a training "
                                       "shot. Train with fewer shots, or on a folder with more images per class (or "
                                       "train/ and test/ sub-folders).")
                                        .arg(r->id)
                      : r->message.empty() ? tr("Run %1 · %2 · folder %3").arg(r->id).arg(qs(status), qs(r->folder))
                                           : qs(r->message);
        if (!r->notes.empty())
            tip += QStringLiteral("\n\n") + qs(r->notes);
        return tip;
    }
    if (role == Qt::ForegroundRole && index.column() == Status)
        return QBrush(statusColor(status));
    if (role == Qt::ForegroundRole && index.column() == Base && unevaluated)
        return QBrush(statusColor("cancelled"));
    if (role == Qt::TextAlignmentRole && index.column() != Name && index.column() != Method && index.column() != Status
        && index.column() != Created && index.column() != Duration)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    const bool live = r->id == m_liveRun && !m_liveText.isEmpty() && (status == "running" || status == "queued");
    switch (index.column()) {
    case Id:
        return role == SortRole ? QVariant::fromValue<qint64>(r->id) : QVariant(QString::number(r->id));
    case Name:
        // A note without a name still shows that the run has notes.
        return qs(r->name) + (r->notes.empty() ? QString() : QStringLiteral(" ✎"));
    case Method:
        return qs(facade::methodTitle(r->method));
    case Shots:
        return QVariant::fromValue<qint64>(r->shots);
    case Seed:
        return QVariant::fromValue<qulonglong>(r->seed);
    case Status:
        return live ? m_liveText : qs(status);
    case Epochs:
        if (r->epochs == 0)
            return QStringLiteral("–");
        return QStringLiteral("%1/%2").arg(r->epochsRecorded).arg(r->epochs);
    case Base:
        if (unevaluated && role == Qt::DisplayRole)
            return tr("no evaluation");
        return r->baseToNew ? accuracyCell(*r, "base") : accuracyCell(*r, "all");
    case New:
        return accuracyCell(*r, "new");
    case HarmonicMean:
        return r->harmonicMean ? QVariant(percent(*r->harmonicMean)) : QVariant();
    case Duration: {
        // From its start to its end (or to now while it runs); what a resumed run spent before its
        // last start is not counted.
        const QDateTime start = QDateTime::fromString(qs(r->startedAt), Qt::ISODate);
        QDateTime end = QDateTime::fromString(qs(r->finishedAt), Qt::ISODate);
        if (!end.isValid() && (status == "running" || status == "queued"))
            end = QDateTime::currentDateTimeUtc();
        if (!start.isValid() || !end.isValid())
            return role == SortRole ? QVariant::fromValue<qint64>(-1) : QVariant(QStringLiteral("–"));
        const qint64 seconds = std::max<qint64>(0, start.secsTo(end));
        if (role == SortRole)
            return QVariant::fromValue<qint64>(seconds);
        return seconds < 60 ? QStringLiteral("%1 s").arg(seconds)
               : seconds < 3600 ? QStringLiteral("%1 min %2 s").arg(seconds / 60).arg(seconds % 60)
                                : QStringLiteral("%1 h %2 min").arg(seconds / 3600).arg(seconds % 3600 / 60);
    }
    case Created:
        return qs(r->createdAt).replace(QLatin1Char('T'), QLatin1Char(' ')).remove(QLatin1Char('Z'));
    }
    return {};
}

QVariant RunsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    const QString names[] = {tr("Run"),    tr("Name"),          tr("Method"), tr("Shots"), tr("Seed"),     tr("Status"),
                             tr("Epochs"), tr("Base (or all)"), tr("New"),    tr("HM"),    tr("Duration"), tr("Created")};
    return names[section];
}

QString formatStat(const train::MeanStd &s)
{
    if (s.count == 0)
        return QStringLiteral("–");
    if (s.count == 1)
        return QString::number(100 * s.mean, 'f', 1);
    return QStringLiteral("%1 ± %2").arg(100 * s.mean, 0, 'f', 1).arg(100 * s.std, 0, 'f', 1);
}

namespace {

// A run's settings as "path → value" (train.epochs → 3), without what does not change its results.
std::map<std::string, nlohmann::json> settingsOf(const projects::RunInfo &r)
{
    std::map<std::string, nlohmann::json> out;
    nlohmann::json spec = r.spec.is_object() ? r.spec : nlohmann::json::object();
    // The method, shots and protocol have columns of their own.
    for (const char *key : {"seed", "device", "selections", "cls_attention", "method", "shots", "base_to_new"})
        spec.erase(key);
    const nlohmann::json flat = spec.flatten();   // kept alive: items() refers into it
    for (const auto &[path, value] : flat.items())
        out[path] = value;
    return out;
}

// "/train/epochs" → "epochs", "/method_options/n_ctx" → "n ctx"; a path value shows its last part.
std::string describeSetting(const std::string &path, const nlohmann::json &value)
{
    std::string name = path.substr(path.rfind('/') + 1);
    std::replace(name.begin(), name.end(), '_', ' ');
    std::string shown = value.is_string() ? value.get<std::string>() : value.dump();
    if (value.is_string() && shown.find('/') != std::string::npos)
        shown = shown.substr(shown.find_last_of('/') + 1);
    return name + " " + shown;
}

} // namespace

std::vector<RunGroup> aggregateRuns(const std::vector<projects::RunInfo> &runs)
{
    // Key: method, shots, protocol, then every other setting.
    using Key = std::tuple<std::string, int64_t, bool, std::map<std::string, nlohmann::json>>;
    std::map<Key, std::vector<const projects::RunInfo *>> groups;
    for (const auto &r : runs)
        if (r.status == "finished")
            groups[{r.method, r.shots, r.baseToNew, settingsOf(r)}].push_back(&r);

    // The settings that differ between groups of one method are what a reader must be shown.
    std::map<std::string, std::set<std::string>> varying;   // method → setting paths
    std::map<std::string, std::map<std::string, nlohmann::json>> firstSeen;
    for (const auto &[key, members] : groups) {
        const auto &[method, shots, baseToNew, settings] = key;
        auto [first, fresh] = firstSeen.emplace(method, settings);
        if (fresh)
            continue;
        std::set<std::string> paths;
        for (const auto &[path, value] : settings)
            paths.insert(path);
        for (const auto &[path, value] : first->second)
            paths.insert(path);
        for (const auto &path : paths) {
            const auto &other = first->second;
            const auto a = settings.find(path);
            const auto b = other.find(path);
            if (a == settings.end() || b == other.end() || a->second != b->second)
                varying[method].insert(path);
        }
    }

    std::vector<RunGroup> out;
    for (const auto &[key, members] : groups) {
        RunGroup g;
        const auto &settings = std::get<3>(key);
        std::tie(g.method, g.shots, g.baseToNew, std::ignore) = key;
        std::vector<double> base, novel, hm, all;
        const auto &spec = members.front()->spec;
        g.data = spec.is_object() ? spec.value("data", std::string()) : std::string();
        for (const auto *r : members) {
            g.seeds.push_back(r->seed);
            if (auto it = r->accuracy.find("base"); it != r->accuracy.end())
                base.push_back(it->second);
            if (auto it = r->accuracy.find("new"); it != r->accuracy.end())
                novel.push_back(it->second);
            if (auto it = r->accuracy.find("all"); it != r->accuracy.end())
                all.push_back(it->second);
            if (r->harmonicMean)
                hm.push_back(*r->harmonicMean);
        }
        g.base = train::meanStd(base);
        g.novel = train::meanStd(novel);
        g.hm = train::meanStd(hm);
        g.all = train::meanStd(all);
        for (const auto &path : varying[g.method]) {
            const auto it = settings.find(path);
            const std::string part = it == settings.end() ? path.substr(path.rfind('/') + 1) + " (default)"
                                                          : describeSetting(path, it->second);
            g.settings += (g.settings.empty() ? "" : ", ") + part;
        }
        out.push_back(std::move(g));
    }
    return out;
}

RunSummaryModel::RunSummaryModel(QObject *parent) : QAbstractTableModel(parent) {}

void RunSummaryModel::setRuns(const std::vector<projects::RunInfo> &runs)
{
    beginResetModel();
    m_groups = aggregateRuns(runs);
    endResetModel();
}

int RunSummaryModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : static_cast<int>(m_groups.size()); }
int RunSummaryModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunSummaryModel::data(const QModelIndex &index, int role) const
{
    if (index.row() < 0 || index.row() >= rowCount())
        return {};
    const RunGroup &g = m_groups[static_cast<size_t>(index.row())];
    if (role == Qt::TextAlignmentRole && index.column() >= Seeds && index.column() <= All)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::FontRole && index.column() == (g.baseToNew ? HarmonicMean : All) && isBest(static_cast<size_t>(index.row()))) {
        QFont bold;
        bold.setBold(true);
        return bold;
    }
    if (role == Qt::ToolTipRole && isBest(static_cast<size_t>(index.row())))
        return tr("The best %1 of this protocol (same images, shots and protocol)")
            .arg(g.baseToNew ? tr("harmonic mean") : tr("accuracy"));
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case Method:
        return qs(facade::methodTitle(g.method));
    case Shots:
        return QVariant::fromValue<qint64>(g.shots);
    case Protocol:
        return g.baseToNew ? QStringLiteral("base-to-new") : QStringLiteral("all classes");
    case Seeds: {
        QStringList seeds;
        for (auto s : g.seeds)
            seeds << QString::number(s);
        return seeds.join(QLatin1String(", "));
    }
    case Base:
        return formatStat(g.base);
    case New:
        return formatStat(g.novel);
    case HarmonicMean:
        return formatStat(g.hm);
    case All:
        return formatStat(g.all);
    case Settings:
        return qs(g.settings);
    }
    return {};
}

namespace {

bool sameProtocol(const RunGroup &a, const RunGroup &b)
{
    return a.baseToNew == b.baseToNew && a.shots == b.shots && a.data == b.data;
}

// A group's headline as the table shows it (a tenth of a point): groups are compared by what a
// person reads, so two that show the same number tie rather than one "beating" the other.
double shownHeadline(const RunGroup &g) { return std::round(1000 * g.headline().mean); }

} // namespace

bool RunSummaryModel::isBest(size_t i) const
{
    const RunGroup &g = m_groups[i];
    if (g.headline().count == 0)
        return false;
    for (const auto &other : m_groups)
        if (&other != &g && sameProtocol(g, other) && other.headline().count > 0 && shownHeadline(other) > shownHeadline(g))
            return false;
    return true;
}

QString RunSummaryModel::verdict() const
{
    QStringList sentences;
    for (size_t i = 0; i < m_groups.size(); ++i) {
        const RunGroup &best = m_groups[i];
        if (best.method == "sep" || !isBest(i))
            continue;
        // The best SEP group of the same protocol, if there is one.
        const RunGroup *sep = nullptr;
        for (const auto &g : m_groups)
            if (g.method == "sep" && sameProtocol(g, best) && g.headline().count > 0 && (!sep || shownHeadline(g) > shownHeadline(*sep)))
                sep = &g;
        if (!sep || shownHeadline(*sep) >= shownHeadline(best))
            continue;   // no SEP run here, or SEP ties
        const QString folder = QFileInfo(qs(best.data)).fileName();
        sentences << tr("On %1 (%2, %3): %4 beats SEP, %5 against %6 %7.")
                         .arg(folder.isEmpty() ? tr("these images") : folder,
                              best.baseToNew ? tr("base-to-new") : tr("all classes"), count::shots(best.shots),
                              qs(facade::methodTitle(best.method)), formatStat(best.headline()), formatStat(sep->headline()),
                              best.baseToNew ? tr("harmonic mean") : tr("accuracy"));
    }
    if (sentences.isEmpty())
        return {};
    return QStringLiteral("%1 %2")
        .arg(toneHtml(Tone::Warning, QStringLiteral("⚠ ") + sentences.join(QLatin1Char(' ')).toHtmlEscaped()),
             tr("With few seeds or small test sets, differences of a few points may be noise: compare the ± over seeds."));
}

QVariant RunSummaryModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *names[] = {"Method", "Shots", "Protocol", "Seeds", "Base %", "New %", "HM %", "All %", "Settings"};
    return QString::fromLatin1(names[section]);
}

} // namespace sep::ui
