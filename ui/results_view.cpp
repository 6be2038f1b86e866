#include "ui/results_view.h"

#include "ui/confusion_model.h"
#include "ui/dataset_view.h"
#include "ui/engine_facade.h"
#include "ui/project_session.h"
#include "ui/confusion_heatmap.h"
#include "ui/counts.h"
#include "ui/qt_convert.h"
#include "ui/runs_model.h"
#include "ui/thumbnail_loader.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListView>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

namespace sep::ui {

namespace {

constexpr int ClassIndexRole = Qt::UserRole + 1;   // per-class table: the class's index in the evaluation

QString resolvePath(const std::string &path, const projects::RunInfo *run)
{
    const QString p = qs(path);
    if (QFileInfo(p).isAbsolute() || !run || !run->spec.contains("data"))
        return p;
    return QDir(qs(run->spec.at("data").get<std::string>())).filePath(p);
}

QString setTitle(const std::string &set)
{
    if (set == "base")
        return QStringLiteral("base classes");
    if (set == "new")
        return QStringLiteral("new classes");
    if (set == "all")
        return QStringLiteral("all classes");
    return qs(set);
}

} // namespace

ResultsView::ResultsView(ProjectSession *session, QWidget *parent) : QWidget(parent), m_session(session)
{
    m_summary = new RunSummaryModel(this);
    m_confusion = new ConfusionModel(this);
    m_loader = new ThumbnailLoader({80, 80}, this);
    m_gallery = new ImageGridModel(m_loader, this);

    m_summaryView = new QTableView;
    m_summaryView->setObjectName(QStringLiteral("summaryTable"));
    m_summaryView->setModel(m_summary);
    m_summaryView->verticalHeader()->hide();
    m_summaryView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_summaryView->setSelectionMode(QAbstractItemView::NoSelection);

    m_runBox = new QComboBox;
    m_runBox->setObjectName(QStringLiteral("resultsRun"));
    m_runBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_setBox = new QComboBox;
    m_setBox->setObjectName(QStringLiteral("resultsSet"));
    m_headline = new QLabel;
    auto *pick = new QHBoxLayout;
    pick->addWidget(new QLabel(tr("Run:")));
    pick->addWidget(m_runBox);
    pick->addWidget(new QLabel(tr("Test set:")));
    pick->addWidget(m_setBox);
    pick->addWidget(m_headline, 1);

    m_heatMap = new ConfusionHeatMap(m_confusion);
    auto *byError = new QCheckBox(tr("Worst classes first"));
    byError->setObjectName(QStringLiteral("orderByError"));
    byError->setToolTip(tr("Order rows and columns by the true class's accuracy, lowest first"));
    auto *resetZoom = new QToolButton;
    resetZoom->setText(tr("Fit"));
    resetZoom->setToolTip(tr("Show the whole matrix again (wheel zooms, drag pans)"));

    m_perClass = new QStandardItemModel(this);
    m_perClassView = new QTableView;
    m_perClassView->setObjectName(QStringLiteral("perClassTable"));
    m_perClassView->setModel(m_perClass);
    m_perClassView->verticalHeader()->hide();
    m_perClassView->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    m_perClassView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_perClassView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_perClassView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_perClassView->setSortingEnabled(true);
    m_perClassView->setMinimumHeight(60);
    m_perClassView->setToolTip(tr("Click a header to sort; click a class to see its misclassified images"));

    auto *confusionBox = new QWidget;
    auto *cl = new QVBoxLayout(confusionBox);
    cl->setContentsMargins(0, 0, 0, 0);
    auto *confusionTitle = new QHBoxLayout;
    auto *matrixTitle = new QLabel(tr("<b>Confusion matrix</b> (rows: true, columns: predicted)"));
    matrixTitle->setWordWrap(true);
    confusionTitle->addWidget(matrixTitle, 1);
    confusionTitle->addWidget(byError);
    confusionTitle->addWidget(resetZoom);
    cl->addLayout(confusionTitle);
    cl->addWidget(m_heatMap, 1);
    auto *perClassBox = new QWidget;
    auto *bl = new QVBoxLayout(perClassBox);
    bl->setContentsMargins(0, 0, 0, 0);
    bl->addWidget(new QLabel(tr("<b>Accuracy per class</b>")));
    bl->addWidget(m_perClassView, 1);
    auto *middle = new QSplitter;
    middle->addWidget(confusionBox);
    middle->addWidget(perClassBox);
    middle->setStretchFactor(0, 3);
    middle->setStretchFactor(1, 2);
    middle->setSizes({600, 400});

    m_galleryTitle = new QLabel;
    m_galleryTitle->setWordWrap(true);
    m_galleryView = new QListView;
    m_galleryView->setObjectName(QStringLiteral("misclassifiedGallery"));
    m_galleryView->setModel(m_gallery);
    m_galleryView->setViewMode(QListView::IconMode);
    m_galleryView->setIconSize({80, 80});
    m_galleryView->setGridSize({130, 112});
    m_galleryView->setUniformItemSizes(true);
    m_galleryView->setResizeMode(QListView::Adjust);
    m_galleryView->setMovement(QListView::Static);
    m_galleryView->setTextElideMode(Qt::ElideRight);
    m_galleryView->setMinimumHeight(48);
    auto *galleryBox = new QWidget;
    auto *gl = new QVBoxLayout(galleryBox);
    gl->setContentsMargins(0, 0, 0, 0);
    gl->addWidget(m_galleryTitle);
    gl->addWidget(m_galleryView, 1);

    auto *vsplit = new QSplitter(Qt::Vertical);
    vsplit->addWidget(middle);
    vsplit->addWidget(galleryBox);

    auto *summaryTitle = new QLabel(tr("<b>Runs by method and settings</b> (finished runs; mean ± standard deviation "
                                       "over seeds; only the seed may differ within a row)"));
    summaryTitle->setWordWrap(true);
    m_verdict = new QLabel;
    m_verdict->setObjectName(QStringLiteral("resultsVerdict"));
    m_verdict->setWordWrap(true);
    m_verdict->hide();
    // The summary shares the height with the matrix and the gallery; each part can be given more.
    auto *summaryBox = new QWidget;
    auto *sl = new QVBoxLayout(summaryBox);
    sl->setContentsMargins(0, 0, 0, 0);
    sl->addWidget(summaryTitle);
    sl->addWidget(m_summaryView, 1);
    sl->addWidget(m_verdict);
    sl->addLayout(pick);
    vsplit->insertWidget(0, summaryBox);
    vsplit->setStretchFactor(0, 0);
    vsplit->setStretchFactor(1, 3);
    vsplit->setStretchFactor(2, 1);
    vsplit->setSizes({180, 420, 200});
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(vsplit, 1);

    connect(m_runBox, &QComboBox::activated, this, [this](int i) { showRun(m_runBox->itemData(i).toLongLong()); });
    connect(m_setBox, &QComboBox::currentIndexChanged, this, &ResultsView::showEvaluation);
    connect(m_heatMap, &ConfusionHeatMap::cellClicked, this, &ResultsView::filterGallery);
    connect(byError, &QCheckBox::toggled, m_heatMap, &ConfusionHeatMap::setOrderByError);
    connect(resetZoom, &QToolButton::clicked, m_heatMap, &ConfusionHeatMap::resetZoom);
    connect(m_perClassView, &QTableView::clicked, this, [this](const QModelIndex &i) {
        filterGallery(m_perClass->item(i.row(), 0)->data(ClassIndexRole).toInt(), -1);
    });
    connect(m_galleryView, &QListView::activated, this, [this](const QModelIndex &i) {
        if (m_evaluation >= 0)
            Q_EMIT inspectImage(m_run, m_evaluations[static_cast<size_t>(m_evaluation)].id, i.data(ImageGridModel::TagRole).toLongLong());
    });
    if (m_session) {
        connect(m_session, &ProjectSession::changed, this, &ResultsView::refresh);
        // Run ids repeat across projects: nothing shown may outlive the project it came from.
        connect(m_session, &ProjectSession::opened, this, [this] {
            clear();
            refresh();
        });
        connect(m_session, &ProjectSession::closed, this, &ResultsView::clear);
    }
}

void ResultsView::clear()
{
    m_run = 0;
    m_evaluations.clear();
    m_predictions.clear();
    {
        const QSignalBlocker block(m_setBox);
        m_setBox->clear();
    }
    m_runBox->clear();
    m_summary->setRuns({});
    showEvaluation(-1);
}

void ResultsView::refresh()
{
    m_summary->setRuns(m_session ? m_session->runs() : std::vector<projects::RunInfo>{});
    m_summaryView->resizeColumnsToContents();
    const QString verdict = m_summary->verdict();
    m_verdict->setText(verdict);
    m_verdict->setVisible(!verdict.isEmpty());
    // As tall as its rows (up to five), so the matrix and gallery get the room.
    const int rows = std::clamp(m_summary->rowCount(), 1, 5);
    m_summaryView->setMinimumHeight(m_summaryView->horizontalHeader()->height() + m_summaryView->verticalHeader()->defaultSectionSize() + 4);
    m_summaryView->setMaximumHeight(m_summaryView->horizontalHeader()->height() + rows * m_summaryView->verticalHeader()->defaultSectionSize() + 4);
    m_runBox->clear();
    if (!m_session)
        return;
    int current = -1;
    for (const auto &r : m_session->runs()) {
        if (r.accuracy.empty())
            continue;
        m_runBox->addItem(QStringLiteral("%1 · %2 · %3 shots · seed %4")
                              .arg(r.id)
                              .arg(qs(facade::methodTitle(r.method)))
                              .arg(r.shots)
                              .arg(r.seed),
                          QVariant::fromValue<qint64>(r.id));
        if (r.id == m_run)
            current = m_runBox->count() - 1;
    }
    if (current >= 0)
        m_runBox->setCurrentIndex(current);
    else if (m_runBox->count() > 0 && m_run == 0)
        showRun(m_runBox->itemData(m_runBox->count() - 1).toLongLong());
}

void ResultsView::showRun(int64_t runId)
{
    if (!m_session || !m_session->store())
        return;
    m_run = runId;
    for (int i = 0; i < m_runBox->count(); ++i)
        if (m_runBox->itemData(i).toLongLong() == runId)
            m_runBox->setCurrentIndex(i);
    try {
        m_evaluations = m_session->evaluations(runId);
    } catch (const std::exception &e) {
        m_evaluations.clear();
        m_headline->setText(qs(e.what()));
    }
    const QSignalBlocker block(m_setBox);
    m_setBox->clear();
    for (const auto &e : m_evaluations)
        m_setBox->addItem(setTitle(e.set));
    m_evaluation = -1;
    showEvaluation(m_evaluations.empty() ? -1 : 0);
}

void ResultsView::showEvaluation(int index)
{
    m_evaluation = index;
    m_perClass->clear();
    if (index < 0 || index >= static_cast<int>(m_evaluations.size())) {
        m_confusion->setMatrix({}, {});
        m_gallery->setItems({});
        m_predictions.clear();
        m_headline->setText(m_run ? tr("This run has no evaluation yet.") : QString());
        m_galleryTitle->clear();
        return;
    }
    const auto &e = m_evaluations[static_cast<size_t>(index)];
    m_confusion->setEvaluation(e);
    m_headline->setText(tr("  accuracy <b>%1</b> (%2 of %3)%4")
                            .arg(percent(e.accuracy))
                            .arg(e.correct)
                            .arg(count::images(e.total))
                            .arg(e.failures.empty() ? QString() : tr(", %1 unreadable").arg(e.failures.size())));
    try {
        m_predictions = m_session->predictions(e.id);
    } catch (const std::exception &ex) {
        m_predictions.clear();
        m_galleryTitle->setText(qs(ex.what()));
    }

    // Per class: accuracy, test images, and the class it is most often taken for. Sorted by the
    // UserRole values (numbers as numbers; no accuracy sorts first).
    m_perClass->setHorizontalHeaderLabels({tr("Class"), tr("Accuracy %"), tr("Images"), tr("Most often taken for")});
    m_perClass->setSortRole(Qt::UserRole);
    const int n = static_cast<int>(e.classes.size());
    QList<QList<QStandardItem *>> rows;
    for (int c = 0; c < n; ++c) {
        auto *name = new QStandardItem(qs(e.classes[static_cast<size_t>(c)]));
        name->setData(name->text().toLower(), Qt::UserRole);
        name->setData(c, ClassIndexRole);
        const auto &acc = static_cast<size_t>(c) < e.perClassAccuracy.size() ? e.perClassAccuracy[static_cast<size_t>(c)]
                                                                             : std::optional<double>();
        auto *accuracy = new QStandardItem(acc ? QString::number(100 * *acc, 'f', 1) : QStringLiteral("–"));
        accuracy->setData(acc ? 100 * *acc : -1.0, Qt::UserRole);
        accuracy->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        const qint64 total = static_cast<size_t>(c) < e.perClassCount.size() ? e.perClassCount[static_cast<size_t>(c)] : 0;
        auto *images = new QStandardItem(QString::number(total));
        images->setData(total, Qt::UserRole);
        images->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        int worst = -1;
        int64_t worstCount = 0;
        for (int p = 0; p < n; ++p)
            if (p != c && m_confusion->count(c, p) > worstCount) {
                worst = p;
                worstCount = m_confusion->count(c, p);
            }
        auto *confused = new QStandardItem(worst < 0 ? QString()
                                                     : QStringLiteral("%1 (%2)").arg(m_confusion->className(worst)).arg(worstCount));
        confused->setData(worst < 0 ? QString() : m_confusion->className(worst).toLower(), Qt::UserRole);
        rows.append({name, accuracy, images, confused});
    }
    for (auto &row : rows)
        m_perClass->appendRow(row);
    m_perClassView->sortByColumn(1, Qt::AscendingOrder);   // the weakest classes first
    m_perClassView->resizeColumnToContents(1);
    m_perClassView->resizeColumnToContents(2);
    m_perClassView->resizeColumnToContents(0);
    m_perClassView->setColumnWidth(0, std::clamp(m_perClassView->columnWidth(0), 120, 260));
    m_perClassView->horizontalHeader()->setStretchLastSection(true);
    filterGallery(-1, -1);
}

void ResultsView::filterGallery(int trueClass, int predicted)
{
    if (m_evaluation < 0)
        return;
    const auto &e = m_evaluations[static_cast<size_t>(m_evaluation)];
    const projects::RunInfo *run = m_session ? m_session->run(m_run) : nullptr;
    QVector<ImageGridModel::Item> items;
    for (const auto &p : m_predictions) {
        if (p.top.empty())
            continue;
        const int64_t pred = p.top.front();
        const bool wanted = trueClass < 0    ? pred != p.label
                            : predicted < 0 ? (p.label == trueClass && pred != p.label)
                                            : (p.label == trueClass && pred == predicted);
        if (!wanted)
            continue;
        ImageGridModel::Item it;
        it.path = resolvePath(p.path, run);
        it.label = static_cast<int>(p.label);
        it.tag = p.position;
        const auto name = [&](int64_t i) { return i >= 0 && i < static_cast<int64_t>(e.classes.size()) ? qs(e.classes[static_cast<size_t>(i)]) : QStringLiteral("?"); };
        it.caption = pred == p.label ? name(pred) : name(p.label) + QStringLiteral(" → ") + name(pred);
        items.push_back(it);
    }
    if (trueClass < 0)
        m_galleryTitle->setText(tr("<b>Misclassified images</b> (%1) · click a matrix cell or a class to filter · double-click an image to inspect it")
                                    .arg(count::images(items.size())));
    else if (predicted < 0)
        m_galleryTitle->setText(tr("<b>%1, misclassified</b> (%2) · double-click an image to inspect it")
                                    .arg(m_confusion->className(trueClass).toHtmlEscaped(), count::images(items.size())));
    else
        m_galleryTitle->setText(tr("<b>True %1, predicted %2</b> (%3) · double-click an image to inspect it")
                                    .arg(m_confusion->className(trueClass).toHtmlEscaped(), m_confusion->className(predicted).toHtmlEscaped(),
                                         count::images(items.size())));
    m_gallery->setItems(std::move(items));
}

} // namespace sep::ui
