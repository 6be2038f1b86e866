#include "ui/results_view.h"

#include "ui/confusion_model.h"
#include "ui/dataset_view.h"
#include "ui/engine_facade.h"
#include "ui/project_session.h"
#include "ui/qcustomplot_wrap.h"
#include "ui/counts.h"
#include "ui/qt_convert.h"
#include "ui/runs_model.h"
#include "ui/thumbnail_loader.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListView>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace sep::ui {

namespace {

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

    m_confusionView = new QTableView;
    m_confusionView->setObjectName(QStringLiteral("confusionMatrix"));
    m_confusionView->setModel(m_confusion);
    m_confusionView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_confusionView->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_confusionView->horizontalHeader()->setMinimumSectionSize(34);
    m_confusionView->verticalHeader()->setDefaultSectionSize(24);
    m_confusionView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_confusionView->setToolTip(tr("Rows: true class · columns: predicted class · click a cell to see its images"));

    m_bars = new QCustomPlot;
    m_bars->setObjectName(QStringLiteral("perClassBars"));
    m_bars->setMinimumHeight(180);
    m_bars->yAxis->setRange(0, 100);
    m_bars->yAxis->setLabel(tr("accuracy (%)"));
    m_bars->xAxis->setTickLabelRotation(50);
    m_bars->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_bars->axisRect()->setRangeDrag(Qt::Horizontal);
    m_bars->axisRect()->setRangeZoom(Qt::Horizontal);

    auto *confusionBox = new QWidget;
    auto *cl = new QVBoxLayout(confusionBox);
    cl->setContentsMargins(0, 0, 0, 0);
    cl->addWidget(new QLabel(tr("<b>Confusion matrix</b> (rows: true, columns: predicted)")));
    cl->addWidget(m_confusionView, 1);
    auto *barsBox = new QWidget;
    auto *bl = new QVBoxLayout(barsBox);
    bl->setContentsMargins(0, 0, 0, 0);
    bl->addWidget(new QLabel(tr("<b>Accuracy per class</b>")));
    bl->addWidget(m_bars, 1);
    auto *middle = new QSplitter;
    middle->addWidget(confusionBox);
    middle->addWidget(barsBox);
    middle->setSizes({500, 500});

    m_galleryTitle = new QLabel;
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
    auto *galleryBox = new QWidget;
    auto *gl = new QVBoxLayout(galleryBox);
    gl->setContentsMargins(0, 0, 0, 0);
    gl->addWidget(m_galleryTitle);
    gl->addWidget(m_galleryView, 1);

    auto *vsplit = new QSplitter(Qt::Vertical);
    vsplit->addWidget(middle);
    vsplit->addWidget(galleryBox);
    vsplit->setSizes({420, 220});

    auto *layout = new QVBoxLayout(this);
    auto *summaryTitle = new QLabel(tr("<b>Runs by method and settings</b> (finished runs; mean ± standard deviation "
                                       "over seeds; only the seed may differ within a row)"));
    summaryTitle->setWordWrap(true);
    layout->addWidget(summaryTitle);
    layout->addWidget(m_summaryView);
    layout->addLayout(pick);
    layout->addWidget(vsplit, 1);

    connect(m_runBox, &QComboBox::activated, this, [this](int i) { showRun(m_runBox->itemData(i).toLongLong()); });
    connect(m_setBox, &QComboBox::currentIndexChanged, this, &ResultsView::showEvaluation);
    connect(m_confusionView, &QTableView::clicked, this, [this](const QModelIndex &i) { filterGallery(i.row(), i.column()); });
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
    // As tall as its rows (up to five), so the matrix and gallery get the room.
    const int rows = std::clamp(m_summary->rowCount(), 1, 5);
    m_summaryView->setFixedHeight(m_summaryView->horizontalHeader()->height() + rows * m_summaryView->verticalHeader()->defaultSectionSize() + 4);
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
        m_evaluations = m_session->store()->evaluations(runId);
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
    m_bars->clearPlottables();
    if (index < 0 || index >= static_cast<int>(m_evaluations.size())) {
        m_confusion->setMatrix({}, {});
        m_gallery->setItems({});
        m_predictions.clear();
        m_headline->setText(m_run ? tr("This run has no evaluation yet.") : QString());
        m_galleryTitle->clear();
        m_bars->replot();
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
        m_predictions = m_session->store()->predictions(e.id);
    } catch (const std::exception &ex) {
        m_predictions.clear();
        m_galleryTitle->setText(qs(ex.what()));
    }

    auto *bars = new QCPBars(m_bars->xAxis, m_bars->yAxis);
    bars->setBrush(QColor(0x00, 0x72, 0xb2, 190));
    bars->setPen(Qt::NoPen);
    QVector<double> keys, values;
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (size_t i = 0; i < e.classes.size(); ++i) {
        keys << static_cast<double>(i);
        values << (i < e.perClassAccuracy.size() && e.perClassAccuracy[i] ? 100 * *e.perClassAccuracy[i] : 0);
        // Long names would squeeze the bars into a strip; the confusion matrix shows them whole.
        QString label = qs(e.classes[i]);
        if (label.size() > 14)
            label = label.left(13) + QChar(0x2026);
        ticker->addTick(static_cast<double>(i), label);
    }
    bars->setData(keys, values, true);
    m_bars->xAxis->setTicker(ticker);
    // At most 25 classes at a time; drag or wheel to see the others.
    m_bars->xAxis->setRange(-0.6, std::min<double>(25, static_cast<double>(e.classes.size())) - 0.4);
    m_bars->replot();
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
        const bool wanted = trueClass < 0 ? pred != p.label : (p.label == trueClass && pred == predicted);
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
        m_galleryTitle->setText(tr("<b>Misclassified images</b> (%1) · click a matrix cell to filter · double-click an image to inspect it")
                                    .arg(items.size()));
    else
        m_galleryTitle->setText(tr("<b>True %1, predicted %2</b> (%3) · double-click an image to inspect it")
                                    .arg(m_confusion->className(trueClass).toHtmlEscaped(), m_confusion->className(predicted).toHtmlEscaped(),
                                         count::images(items.size())));
    m_gallery->setItems(std::move(items));
}

} // namespace sep::ui
