#include "ui/inspector_view.h"

#include "engine/clip/image.h"
#include "engine/export/explain.h"
#include "ui/engine_facade.h"
#include "ui/project_session.h"
#include "ui/qt_convert.h"
#include "ui/scaled_picture.h"
#include "ui/theme.h"

#include <QDir>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QRegularExpression>
#include <QScrollArea>
#include <QSlider>
#include <QSplitter>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <algorithm>
#include <cmath>

namespace sep::ui {

namespace {

QImage toQImage(const cv::Mat &rgb)
{
    if (rgb.empty())
        return {};
    return QImage(rgb.data, rgb.cols, rgb.rows, static_cast<int>(rgb.step), QImage::Format_RGB888).copy();
}

// "ViT image 224 px, patch 16, …" → 224 and 14
void geometryFromModel(const std::string &model, const prompt::ImageSelection &sel, int &imageSize, int &grid)
{
    imageSize = 224;
    grid = 14;
    const auto m = QRegularExpression(QStringLiteral("image (\\d+) px, patch (\\d+)")).match(qs(model));
    if (m.hasMatch()) {
        imageSize = m.captured(1).toInt();
        grid = imageSize / std::max(1, m.captured(2).toInt());
    } else if (!sel.clsAttention.empty()) {
        grid = static_cast<int>(std::lround(std::sqrt(static_cast<double>(sel.clsAttention.front().size()))));
    }
}

InspectorPictures renderPictures(QString path, prompt::ImageSelection sel, int imageSize, int grid)
{
    InspectorPictures out;
    try {
        const cv::Mat rgb = clip::decodeImage(ss(path));
        const cv::Mat view = exporting::modelView(rgb, imageSize);
        out.view = toQImage(view);
        const int tile = 256;
        for (const auto &layer : sel.layers) {
            out.selection << toQImage(exporting::selectionTile(view, layer, grid, tile));
            const auto b = static_cast<size_t>(layer.block);
            out.attention << (b < sel.clsAttention.size() ? toQImage(exporting::attentionTile(view, sel.clsAttention[b], grid, tile))
                                                           : QImage());
        }
        if (sel.layers.empty() && !sel.clsAttention.empty())
            out.attention << toQImage(exporting::attentionTile(view, sel.clsAttention.back(), grid, tile));
    } catch (const std::exception &e) {
        out.error = qs(e.what());
    }
    return out;
}

QTableWidget *makeTable(const QStringList &headers)
{
    auto *t = new QTableWidget(0, headers.size());
    t->setHorizontalHeaderLabels(headers);
    t->verticalHeader()->hide();
    t->horizontalHeader()->setStretchLastSection(true);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionMode(QAbstractItemView::NoSelection);
    t->setMinimumHeight(96);   // a few rows readable; the side panes scroll when the window is small
    return t;
}

QGroupBox *boxed(const QString &title, QWidget *w)
{
    auto *box = new QGroupBox(title);
    auto *l = new QVBoxLayout(box);
    l->addWidget(w);
    return box;
}

} // namespace

InspectorView::InspectorView(ProjectSession *session, QWidget *parent) : QWidget(parent), m_session(session)
{
    m_title = new QLabel(tr("Pick an image: double-click one in Results (misclassified gallery) or in the Dataset view."));
    m_title->setWordWrap(true);
    m_picture = new ScaledPicture;
    m_picture->setObjectName(QStringLiteral("selectionPicture"));
    m_heat = new ScaledPicture;
    m_heat->setObjectName(QStringLiteral("attentionPicture"));
    m_slider = new QSlider(Qt::Horizontal);
    m_slider->setObjectName(QStringLiteral("layerSlider"));
    m_slider->setEnabled(false);
    m_layerLabel = new QLabel;
    m_note = new QLabel;
    m_note->setWordWrap(true);
    m_opacity = new QSlider(Qt::Horizontal);
    m_opacity->setObjectName(QStringLiteral("heatOpacity"));
    m_opacity->setRange(0, 100);
    m_opacity->setValue(55);
    m_opacity->setToolTip(tr("How much of the heat map covers the (grey) image"));

    // Legends: the outline colours rank the selected tokens; the heat map's colour scale.
    QPixmap ranks(5 * 30 + 4, 18);
    ranks.fill(Qt::transparent);
    {
        QPainter painter(&ranks);
        painter.setRenderHint(QPainter::Antialiasing);
        for (int r = 0; r < 5; ++r) {
            const cv::Scalar c = exporting::selectionRankColour(static_cast<size_t>(r));
            painter.setPen(QPen(QColor(static_cast<int>(c[0]), static_cast<int>(c[1]), static_cast<int>(c[2])), 2));
            painter.drawRect(r * 30 + 2, 2, 13, 13);
            painter.setPen(palette().color(QPalette::WindowText));
            painter.drawText(QRect(r * 30 + 17, 0, 12, 18), Qt::AlignVCenter, QString::number(r + 1));
        }
    }
    auto *rankLegend = new QLabel;
    rankLegend->setPixmap(ranks);
    auto *rankText = new QLabel(tr("rank, 1 = highest score"));
    rankText->setToolTip(tr("Outlines number the selected patches by score. A badge “[CLS] k” in the corner means the "
                            "[CLS] token was selected, at rank k."));
    rankLegend->setToolTip(rankText->toolTip());
    const cv::Mat barMat = exporting::attentionColourBar(120, 12);
    auto *heatBar = new QLabel;
    heatBar->setPixmap(QPixmap::fromImage(toQImage(barMat)));
    heatBar->setToolTip(tr("Attention of [CLS] to each patch, as a share of the largest at this layer"));

    auto *pictures = new QHBoxLayout;
    auto *left = new QVBoxLayout;
    auto *selectionTitle = new QLabel(tr("<b>Selected image tokens</b> (outlined, numbered by rank)"));
    selectionTitle->setWordWrap(true);
    left->addWidget(selectionTitle);
    left->addWidget(m_picture, 1);
    auto *rankRow = new QHBoxLayout;
    rankRow->addWidget(rankLegend);
    rankRow->addWidget(rankText, 1);
    left->addLayout(rankRow);
    left->addSpacing(m_opacity->sizeHint().height());   // the pictures line up with the heat map's
    auto *right = new QVBoxLayout;
    auto *heatTitle = new QLabel(tr("<b>CLIP's [CLS] attention</b> at this layer"));
    heatTitle->setWordWrap(true);
    right->addWidget(heatTitle);
    right->addWidget(m_heat, 1);
    auto *heatRow = new QHBoxLayout;
    heatRow->addWidget(new QLabel(tr("low")));
    heatRow->addWidget(heatBar);
    heatRow->addWidget(new QLabel(tr("high")));
    heatRow->addStretch();
    right->addLayout(heatRow);
    auto *opacityRow = new QHBoxLayout;
    opacityRow->addWidget(new QLabel(tr("Opacity:")));
    opacityRow->addWidget(m_opacity, 1);
    right->addLayout(opacityRow);
    pictures->addLayout(left, 1);
    pictures->addLayout(right, 1);
    auto *sliderRow = new QHBoxLayout;
    sliderRow->addWidget(new QLabel(tr("Layer:")));
    sliderRow->addWidget(m_slider, 1);
    sliderRow->addWidget(m_layerLabel);

    auto *stripHost = new QWidget;
    m_strip = new QHBoxLayout(stripHost);
    m_strip->setContentsMargins(0, 0, 0, 0);
    m_strip->addStretch();
    auto *stripScroll = new QScrollArea;
    stripScroll->setWidget(stripHost);
    stripScroll->setWidgetResizable(true);
    stripScroll->setFixedHeight(80);

    auto *leftPane = new QWidget;
    auto *lp = new QVBoxLayout(leftPane);
    lp->addWidget(m_title);
    lp->addLayout(pictures, 1);
    lp->addLayout(sliderRow);
    lp->addWidget(new QLabel(tr("<b>All layers</b> (click one)")));
    lp->addWidget(stripScroll);
    lp->addWidget(m_note);

    m_top = makeTable({tr("Class"), tr("Probability")});
    m_top->setObjectName(QStringLiteral("topFive"));
    m_compare = makeTable({tr("Run"), tr("Prediction"), tr("Probability")});
    m_compare->setObjectName(QStringLiteral("comparison"));
    m_fusion = new QTableWidget;
    m_fusion->setObjectName(QStringLiteral("fusionAttention"));
    m_fusion->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_fusion->setToolTip(tr("Rows: the layer's image prompt tokens · columns: the selected tokens they attend to"));
    m_tokens = new QTreeWidget;
    m_tokens->setObjectName(QStringLiteral("promptTokens"));
    m_tokens->setHeaderLabels({tr("Class / layer"), tr("Selected text tokens")});
    m_tokens->setMinimumHeight(96);
    m_fusion->setMinimumHeight(96);

    auto *rightPane = new QSplitter(Qt::Vertical);
    rightPane->addWidget(boxed(tr("Prediction (top 5)"), m_top));
    rightPane->addWidget(boxed(tr("Other methods on this image"), m_compare));
    rightPane->addWidget(boxed(tr("Fusion attention at this layer"), m_fusion));
    rightPane->addWidget(boxed(tr("Selected prompt tokens per class"), m_tokens));

    // The side panes keep readable heights and scroll when the window is too small for all four.
    auto *rightScroll = new QScrollArea;
    rightScroll->setWidget(rightPane);
    rightScroll->setWidgetResizable(true);
    rightScroll->setFrameShape(QFrame::NoFrame);
    rightScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    rightScroll->setMinimumWidth(220);
    auto *split = new QSplitter;
    split->addWidget(leftPane);
    split->addWidget(rightScroll);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(split);

    connect(m_slider, &QSlider::valueChanged, this, &InspectorView::showLayer);
    connect(m_opacity, &QSlider::valueChanged, this, [this] { showLayer(m_slider->value()); });
    // Hover: what the grid holds under the pointer.
    const auto patchAt = [this](QPointF at) {
        const int col = std::clamp(static_cast<int>(at.x() * m_grid), 0, m_grid - 1);
        const int row = std::clamp(static_cast<int>(at.y() * m_grid), 0, m_grid - 1);
        return row * m_grid + col;
    };
    m_picture->setDescribe([this, patchAt](QPointF at) {
        const int index = m_slider->value();
        if (index < 0 || index >= static_cast<int>(m_selection.layers.size()))
            return QString();
        const int patch = patchAt(at);
        const auto &layer = m_selection.layers[static_cast<size_t>(index)];
        for (size_t k = 0; k < layer.tokens.size(); ++k)
            if (layer.tokens[k] == patch + 1)
                return tr("patch %1 (row %2, column %3): selected, rank %4, score %5")
                    .arg(patch)
                    .arg(patch / m_grid + 1)
                    .arg(patch % m_grid + 1)
                    .arg(k + 1)
                    .arg(k < layer.scores.size() ? QString::number(layer.scores[k], 'g', 3) : QStringLiteral("?"));
        return tr("patch %1 (row %2, column %3): not selected").arg(patch).arg(patch / m_grid + 1).arg(patch % m_grid + 1);
    });
    m_heat->setDescribe([this, patchAt](QPointF at) {
        const int index = m_slider->value();
        const auto block = index >= 0 && index < static_cast<int>(m_selection.layers.size())
                               ? static_cast<size_t>(m_selection.layers[static_cast<size_t>(index)].block)
                               : m_selection.clsAttention.size() - 1;
        if (block >= m_selection.clsAttention.size())
            return QString();
        const auto &weights = m_selection.clsAttention[block];
        const int patch = patchAt(at);
        if (patch >= static_cast<int>(weights.size()))
            return QString();
        const float top = std::max(*std::max_element(weights.begin(), weights.end()), 1e-12f);
        return tr("patch %1: [CLS] attention %2 (%3 of this layer's largest)")
            .arg(patch)
            .arg(static_cast<double>(weights[static_cast<size_t>(patch)]), 0, 'g', 3)
            .arg(percent(weights[static_cast<size_t>(patch)] / top));
    });
    if (m_session) {
        connect(m_session, &ProjectSession::opened, this, &InspectorView::clear);
        connect(m_session, &ProjectSession::closed, this, &InspectorView::clear);
    }
    connect(&m_watcher, &QFutureWatcher<InspectorPictures>::finished, this, [this] {
        if (m_watcher.property("generation").toInt() != m_generation)
            return;   // drawn for an image of a project that is no longer open
        m_pictures = m_watcher.result();
        if (!m_pictures.error.isEmpty()) {
            m_picture->setText(m_pictures.error);
            m_heat->clear();
            Q_EMIT message(m_pictures.error);
        }
        // The strip of small multiples.
        for (QLabel *l : m_stripLabels)
            delete l;
        m_stripLabels.clear();
        for (int i = 0; i < m_pictures.selection.size(); ++i) {
            auto *l = new QLabel;
            l->setPixmap(QPixmap::fromImage(m_pictures.selection[i].scaled(64, 64, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
            l->setToolTip(tr("block %1").arg(m_selection.layers[static_cast<size_t>(i)].block));
            l->setCursor(Qt::PointingHandCursor);
            l->installEventFilter(this);
            l->setProperty("layerIndex", i);
            m_strip->insertWidget(m_strip->count() - 1, l);
            m_stripLabels << l;
        }
        m_slider->setEnabled(m_pictures.selection.size() > 1);
        m_slider->setRange(0, std::max<int>(0, static_cast<int>(m_pictures.selection.size()) - 1));
        showLayer(m_slider->value());
        Q_EMIT rendered();
    });
}

void InspectorView::clear()
{
    m_run = m_evaluation = 0;
    m_position = -1;
    m_prediction = {};
    m_selection = {};
    m_classes.clear();
    m_pictures = {};
    ++m_generation;   // a picture still being drawn belongs to the old project
    m_title->setText(tr("Pick an image: double-click one in Results (misclassified gallery) or in the Dataset view."));
    m_picture->clear();
    m_heat->clear();
    m_note->clear();
    m_layerLabel->clear();
    for (QLabel *l : m_stripLabels)
        delete l;
    m_stripLabels.clear();
    {
        const QSignalBlocker block(m_slider);
        m_slider->setValue(0);
        m_slider->setEnabled(false);
    }
    m_top->setRowCount(0);
    m_fusion->setRowCount(0);
    m_fusion->setColumnCount(0);
    m_compare->setRowCount(0);
    m_tokens->clear();
}

int InspectorView::layer() const { return m_slider->value(); }
void InspectorView::setLayer(int index) { m_slider->setValue(index); }
QString InspectorView::headline() const { return m_title->text(); }

void InspectorView::inspect(int64_t runId, int64_t evaluationId, int64_t position)
{
    if (!m_session || !m_session->store())
        return;
    auto *store = m_session->store();
    const projects::RunInfo *run = m_session->run(runId);
    m_run = runId;
    m_evaluation = evaluationId;
    m_position = position;
    std::string set;
    try {
        m_classes.clear();
        for (const auto &e : m_session->evaluations(runId))
            if (e.id == evaluationId) {
                m_classes = e.classes;
                set = e.set;
            }
        m_prediction = {};
        for (const auto &p : m_session->predictions(evaluationId))
            if (p.position == position)
                m_prediction = p;
        m_selection = store->imageSelection(evaluationId, position);
    } catch (const std::exception &e) {
        Q_EMIT message(qs(e.what()));
        return;
    }
    QString path = qs(m_prediction.path);
    if (QFileInfo(path).isRelative() && run && run->spec.contains("data"))
        path = QDir(qs(run->spec.at("data").get<std::string>())).filePath(path);
    const auto className = [&](int64_t i) {
        return i >= 0 && i < static_cast<int64_t>(m_classes.size()) ? qs(m_classes[static_cast<size_t>(i)]) : QStringLiteral("?");
    };
    const bool correct = !m_prediction.top.empty() && m_prediction.top.front() == m_prediction.label;
    m_title->setText(tr("<b>%1</b> · true class <b>%2</b> · predicted <b style='color:%3'>%4</b> · run %5 (%6)")
                         .arg(QFileInfo(path).fileName().toHtmlEscaped(), className(m_prediction.label).toHtmlEscaped(),
                              toneColour(correct ? Tone::Good : Tone::Bad).name(),
                              m_prediction.top.empty() ? QStringLiteral("?") : className(m_prediction.top.front()).toHtmlEscaped())
                         .arg(runId)
                         .arg(run ? qs(facade::methodTitle(run->method)) : QString()));

    m_top->setRowCount(0);
    for (size_t i = 0; i < m_prediction.top.size(); ++i) {
        m_top->insertRow(static_cast<int>(i));
        auto *name = new QTableWidgetItem(className(m_prediction.top[i]));
        if (m_prediction.top[i] == m_prediction.label)
            name->setForeground(toneColour(Tone::Good));
        m_top->setItem(static_cast<int>(i), 0, name);
        const float p = i < m_prediction.topProb.size() ? m_prediction.topProb[i] : 0.f;
        m_top->setItem(static_cast<int>(i), 1, new QTableWidgetItem(percent(p)));
    }
    // Where the true class stands when it is not among the best few: how far off the model was.
    const bool trueInTop = std::find(m_prediction.top.begin(), m_prediction.top.end(), m_prediction.label)
                           != m_prediction.top.end();
    if (!trueInTop && m_prediction.label >= 0) {
        const int row = m_top->rowCount();
        m_top->insertRow(row);
        QTableWidgetItem *name = nullptr;
        QTableWidgetItem *prob = nullptr;
        if (m_prediction.trueRank) {
            name = new QTableWidgetItem(tr("%1 (true class, rank %2 of %3)")
                                            .arg(className(m_prediction.label))
                                            .arg(*m_prediction.trueRank)
                                            .arg(m_classes.size()));
            prob = new QTableWidgetItem(percent(m_prediction.trueProb.value_or(0.f)));
        } else {
            name = new QTableWidgetItem(tr("%1 (true class, below the top %2)").arg(className(m_prediction.label)).arg(m_prediction.top.size()));
            name->setToolTip(tr("This evaluation was recorded before SEP Studio kept the true class's rank; evaluate the run "
                                "again to see it."));
            prob = new QTableWidgetItem(QStringLiteral("–"));
        }
        name->setForeground(toneColour(Tone::Good));
        m_top->setItem(row, 0, name);
        m_top->setItem(row, 1, prob);
    }
    m_top->resizeColumnsToContents();

    m_tokens->clear();
    try {
        for (const auto &c : store->classSelections(evaluationId)) {
            QStringList pieces;
            for (const auto &p : c.pieces)
                pieces << (p.empty() ? QStringLiteral("·") : qs(p));
            auto *item = new QTreeWidgetItem(m_tokens, {qs(c.className), pieces.join(QLatin1Char(' '))});
            for (const auto &l : c.layers) {
                QStringList pos;
                for (auto p : l.positions)
                    pos << QString::number(p);
                new QTreeWidgetItem(item, {tr("block %1").arg(l.block), tr("positions %1").arg(pos.join(QLatin1String(", ")))});
            }
        }
    } catch (const std::exception &e) {
        Q_EMIT message(qs(e.what()));
    }
    m_tokens->resizeColumnToContents(0);
    if (m_tokens->topLevelItemCount() == 0)
        new QTreeWidgetItem(m_tokens, {tr("(this method selects no text tokens)"), QString()});

    fillComparison(m_prediction.path, set);

    m_note->setText(m_selection.layers.empty()
                        ? tr("This method selects no image tokens (zero-shot and CoOp); the [CLS] attention is shown when the run recorded it.")
                        : (m_selection.clsAttention.empty() ? tr("[CLS] attention was not recorded for this run (enable it in the train wizard).")
                                                            : QString()));
    int imageSize = 224, grid = 14;
    geometryFromModel(run ? run->model : std::string(), m_selection, imageSize, grid);
    m_grid = std::max(1, grid);
    m_picture->setText(tr("drawing…"));
    const QSignalBlocker block(m_slider);
    m_slider->setValue(0);
    m_watcher.setProperty("generation", m_generation);
    m_watcher.setFuture(QtConcurrent::run(renderPictures, path, m_selection, imageSize, grid));
}

bool InspectorView::inspectPath(int64_t runId, const QString &path)
{
    if (!m_session || !m_session->store())
        return false;
    try {
        for (const auto &e : m_session->evaluations(runId))
            for (const auto &p : m_session->predictions(e.id)) {
                const QString pp = qs(p.path);
                if (pp == path || path.endsWith(QLatin1Char('/') + pp)) {
                    inspect(runId, e.id, p.position);
                    return true;
                }
            }
    } catch (const std::exception &e) {
        Q_EMIT message(qs(e.what()));
        return false;
    }
    Q_EMIT message(tr("%1 is not among run %2's evaluated images (training images are not evaluated).").arg(path).arg(runId));
    return false;
}

void InspectorView::fillComparison(const std::string &path, const std::string &set)
{
    m_compare->setRowCount(0);
    if (!m_session)
        return;
    const projects::RunInfo *self = m_session->run(m_run);
    for (const auto &r : m_session->runs()) {
        if (r.id == m_run || r.status != "finished" || (self && r.datasetId != self->datasetId))
            continue;
        try {
            for (const auto &e : m_session->evaluations(r.id)) {
                if (e.set != set)
                    continue;
                for (const auto &p : m_session->predictions(e.id)) {
                    if (p.path != path || p.top.empty())
                        continue;
                    const int row = m_compare->rowCount();
                    m_compare->insertRow(row);
                    m_compare->setItem(row, 0, new QTableWidgetItem(QStringLiteral("%1 · %2 · seed %3").arg(r.id).arg(qs(facade::methodTitle(r.method))).arg(r.seed)));
                    const auto c = static_cast<size_t>(p.top.front());
                    auto *pred = new QTableWidgetItem(c < e.classes.size() ? qs(e.classes[c]) : QStringLiteral("?"));
                    pred->setForeground(toneColour(p.top.front() == p.label ? Tone::Good : Tone::Bad));
                    m_compare->setItem(row, 1, pred);
                    m_compare->setItem(row, 2, new QTableWidgetItem(percent(p.topProb.empty() ? 0 : p.topProb.front())));
                }
            }
        } catch (const std::exception &) {
        }
    }
    if (m_compare->rowCount() == 0) {
        m_compare->insertRow(0);
        m_compare->setItem(0, 0, new QTableWidgetItem(tr("Train a zero-shot or CoOp run on this dataset to compare.")));
        m_compare->setSpan(0, 0, 1, 3);
    }
    m_compare->resizeColumnsToContents();
}

void InspectorView::showHeat(const std::vector<float> *weights)
{
    if (!weights || m_pictures.view.isNull()) {
        m_heat->setText(tr("[CLS] attention not recorded"));
        return;
    }
    // Drawn again at the chosen opacity (a 256-px tile: a millisecond).
    const QImage rgb = m_pictures.view.convertToFormat(QImage::Format_RGB888);
    const cv::Mat view(rgb.height(), rgb.width(), CV_8UC3, const_cast<uchar *>(rgb.constBits()), static_cast<size_t>(rgb.bytesPerLine()));
    m_heat->setImage(toQImage(exporting::attentionTile(view, *weights, m_grid, 256, m_opacity->value() / 100.0)));
}

bool InspectorView::eventFilter(QObject *watched, QEvent *event)
{
    if (event->type() == QEvent::MouseButtonPress && watched->property("layerIndex").isValid()) {
        setLayer(watched->property("layerIndex").toInt());
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

void InspectorView::showLayer(int index)
{
    if (index >= 0 && index < m_pictures.selection.size()) {
        m_picture->setImage(m_pictures.selection[index]);
        const auto block = static_cast<size_t>(m_selection.layers[static_cast<size_t>(index)].block);
        showHeat(block < m_selection.clsAttention.size() ? &m_selection.clsAttention[block] : nullptr);
        const auto &layer = m_selection.layers[static_cast<size_t>(index)];
        m_layerLabel->setText(tr("block %1 of %2").arg(layer.block).arg(m_pictures.selection.size()));
        for (int i = 0; i < m_stripLabels.size(); ++i)
            m_stripLabels[i]->setStyleSheet(i == index ? QStringLiteral("border: 3px solid #0072b2;") : QString());
        // Fusion attention: n_prompts × K.
        const size_t k = layer.tokens.size();
        const size_t rows = k ? layer.attention.size() / k : 0;
        m_fusion->clear();
        m_fusion->setRowCount(static_cast<int>(rows));
        m_fusion->setColumnCount(static_cast<int>(k));
        QStringList cols;
        // Named as the picture numbers them: by rank, with the token.
        for (size_t j = 0; j < k; ++j)
            cols << (layer.tokens[j] == 0 ? tr("#%1 [CLS]").arg(j + 1) : tr("#%1 patch %2").arg(j + 1).arg(layer.tokens[j] - 1));
        m_fusion->setHorizontalHeaderLabels(cols);
        for (size_t r = 0; r < rows; ++r)
            for (size_t j = 0; j < k; ++j) {
                const float w = layer.attention[r * k + j];
                auto *it = new QTableWidgetItem(QString::number(w, 'f', 2));
                it->setBackground(QColor::fromRgbF(1 - 0.8 * w, 1 - 0.5 * w, 1));
                it->setForeground(Qt::black);
                m_fusion->setItem(static_cast<int>(r), static_cast<int>(j), it);
            }
        if (rows == 0) {
            m_fusion->setRowCount(1);
            m_fusion->setColumnCount(1);
            m_fusion->setItem(0, 0, new QTableWidgetItem(tr("not recorded (reference fusion mode)")));
        }
        m_fusion->resizeColumnsToContents();
    } else if (!m_pictures.view.isNull()) {
        m_picture->setImage(m_pictures.view);
        showHeat(m_selection.clsAttention.empty() ? nullptr : &m_selection.clsAttention.back());
        m_layerLabel->clear();
        m_fusion->clear();
        m_fusion->setRowCount(0);
        m_fusion->setColumnCount(0);
    }
}

} // namespace sep::ui
