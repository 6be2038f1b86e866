#include "ui/dataset_view.h"

#include "ui/project_session.h"
#include "ui/counts.h"
#include "ui/qt_convert.h"
#include "ui/theme.h"
#include "ui/thumbnail_loader.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QListView>
#include <QSplitter>
#include <QTableWidget>
#include <QUndoStack>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

namespace sep::ui {

ImageGridModel::ImageGridModel(ThumbnailLoader *loader, QObject *parent) : QAbstractListModel(parent), m_loader(loader)
{
    connect(loader, &ThumbnailLoader::ready, this, [this](const QString &path) {
        const auto it = m_rows.constFind(path);
        if (it != m_rows.constEnd())
            Q_EMIT dataChanged(index(*it), index(*it), {Qt::DecorationRole});
    });
}

void ImageGridModel::setItems(QVector<Item> items)
{
    beginResetModel();
    m_items = std::move(items);
    m_rows.clear();
    for (int i = 0; i < m_items.size(); ++i)
        m_rows.insert(m_items[i].path, i);
    m_loader->clearQueue();
    endResetModel();
}

const ImageGridModel::Item *ImageGridModel::item(int row) const
{
    return row >= 0 && row < m_items.size() ? &m_items[row] : nullptr;
}

int ImageGridModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : m_items.size(); }

QVariant ImageGridModel::data(const QModelIndex &index, int role) const
{
    const Item *it = item(index.row());
    if (!it)
        return {};
    switch (role) {
    case Qt::DisplayRole:
        return it->caption;
    case Qt::DecorationRole: {
        // Asked only for items the view paints: this is what makes the grid lazy.
        QImage img = m_loader->thumbnail(it->path);
        if (img.isNull()) {
            m_loader->request(it->path);
            QImage blank(m_loader->size(), QImage::Format_ARGB32_Premultiplied);
            blank.fill(QApplication::palette().color(QPalette::AlternateBase));
            return blank;
        }
        return img;
    }
    case Qt::ToolTipRole:
        return it->problem.isEmpty() ? it->path : it->path + QStringLiteral("\n⚠ ") + it->problem;
    case Qt::ForegroundRole:
        return it->problem.isEmpty() ? QVariant() : QVariant(toneColour(Tone::Bad));
    case PathRole:
        return it->path;
    case LabelRole:
        return it->label;
    case ProblemRole:
        return it->problem;
    case TagRole:
        return it->tag;
    }
    return {};
}

namespace {

// Renaming a class: its given name before and after (none: the folder's), so undo restores exactly.
// It is pushed once the rename is saved, so the push's own redo has nothing left to do.
class RenameClassCommand : public QUndoCommand {
public:
    using Apply = std::function<bool(const std::optional<QString> &)>;
    RenameClassCommand(Apply apply, std::optional<QString> before, std::optional<QString> after, const QString &text)
        : QUndoCommand(text), m_apply(std::move(apply)), m_before(std::move(before)), m_after(std::move(after))
    {
    }
    void redo() override
    {
        if (!m_applied)
            m_apply(m_after);
        m_applied = false;
    }
    void undo() override { m_apply(m_before); }

private:
    Apply m_apply;
    std::optional<QString> m_before, m_after;
    bool m_applied = true;
};

} // namespace

DatasetView::DatasetView(ProjectSession *session, QUndoStack *undo, QWidget *parent)
    : QWidget(parent), m_session(session), m_undo(undo)
{
    m_loader = new ThumbnailLoader({96, 96}, this);
    m_model = new ImageGridModel(m_loader, this);

    m_classes = new QTableWidget(0, 3);
    m_classes->setObjectName(QStringLiteral("classTable"));
    m_classes->setHorizontalHeaderLabels({tr("Class"), tr("Images"), tr("Half")});
    m_classes->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_classes->verticalHeader()->hide();
    m_classes->setToolTip(tr("Double-click a class name to rename it (Edit ▸ Undo takes it back)"));
    m_classes->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_classes->setSelectionMode(QAbstractItemView::SingleSelection);

    m_grid = new QListView;
    m_grid->setObjectName(QStringLiteral("thumbnailGrid"));
    m_grid->setModel(m_model);
    m_grid->setViewMode(QListView::IconMode);
    m_grid->setIconSize({96, 96});
    m_grid->setGridSize({116, 126});
    m_grid->setUniformItemSizes(true);
    m_grid->setResizeMode(QListView::Adjust);
    m_grid->setMovement(QListView::Static);
    m_grid->setLayoutMode(QListView::Batched);
    m_grid->setBatchSize(200);
    m_grid->setWordWrap(false);
    m_grid->setTextElideMode(Qt::ElideMiddle);

    m_header = new QLabel;
    m_header->setObjectName(QStringLiteral("datasetHeader"));
    m_header->setWordWrap(true);

    m_chooser = new QComboBox;
    m_chooser->setObjectName(QStringLiteral("datasetChooser"));
    m_chooser->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_chooser->setMinimumContentsLength(20);
    m_chooser->setToolTip(tr("The project's image folders; runs name the one they used"));
    m_chooser->hide();

    auto *left = new QWidget;
    auto *ll = new QVBoxLayout(left);
    ll->setContentsMargins(0, 0, 0, 0);
    ll->addWidget(m_chooser);
    ll->addWidget(m_classes, 1);

    auto *right = new QWidget;
    auto *rl = new QVBoxLayout(right);
    rl->setContentsMargins(0, 0, 0, 0);
    rl->addWidget(m_header);
    rl->addWidget(m_grid, 1);
    m_split = new QSplitter;
    m_split->addWidget(left);
    m_split->addWidget(right);
    m_split->setStretchFactor(1, 1);
    m_split->setSizes({280, 700});
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_split);

    connect(m_chooser, &QComboBox::activated, this, [this](int i) {
        const qint64 id = m_chooser->itemData(i).toLongLong();
        if (id != m_datasetId)
            Q_EMIT datasetChosen(id);
    });

    connect(m_classes, &QTableWidget::currentCellChanged, this, [this](int row) { showClass(row); });
    connect(m_classes, &QTableWidget::itemChanged, this, [this](QTableWidgetItem *item) {
        if (m_filling || item->column() != 0)
            return;
        QString error;
        const int row = item->row();
        if (!renameClass(row, item->text().trimmed(), &error)) {
            Q_EMIT message(error);
            m_filling = true;
            item->setText(m_names.value(row));
            m_filling = false;
        }
    });
    connect(m_grid, &QListView::activated, this, [this](const QModelIndex &i) {
        Q_EMIT imageActivated(i.data(ImageGridModel::PathRole).toString());
    });
}

void DatasetView::setDatasets(const std::vector<projects::DatasetInfo> &datasets)
{
    const QSignalBlocker block(m_chooser);
    m_chooser->clear();
    for (const auto &d : datasets) {
        const QString root = qs(d.root);
        m_chooser->addItem(QStringLiteral("%1 · %2 · %3").arg(QFileInfo(root).fileName(), count::classes(d.classes), count::images(d.images)),
                           QVariant::fromValue<qint64>(d.id));
        m_chooser->setItemData(m_chooser->count() - 1, root, Qt::ToolTipRole);
    }
    m_chooser->setVisible(datasets.size() > 1);
}

QString DatasetView::headerText() const { return m_header->text(); }

void DatasetView::setRunMarks(qint64 runId, const QSet<QString> &shots, const QHash<QString, Tested> &tested)
{
    m_markedRun = runId;
    m_shots = shots;
    m_tested = tested;
    if (!m_folderNames.isEmpty())
        showClass(m_shownClass);
}

void DatasetView::clear()
{
    m_markedRun = 0;
    m_shots.clear();
    m_tested.clear();
    m_chooser->clear();
    m_chooser->hide();
    m_folder = {};
    m_datasetId = 0;
    m_names.clear();
    m_folderNames.clear();
    m_classes->setRowCount(0);
    m_model->setItems({});
    m_header->clear();
}

void DatasetView::setDataset(int64_t datasetId, const data::ImageFolder &folder, const QHash<QString, QString> &unreadable)
{
    m_folder = folder;
    m_datasetId = datasetId;
    m_unreadable = unreadable;
    m_folderNames.clear();
    for (const auto &n : folder.classNames)
        m_folderNames << qs(n);
    std::map<std::string, std::string> given;
    try {
        if (m_session && m_session->store())
            given = m_session->store()->givenClassNames(datasetId);
    } catch (const std::exception &e) {
        Q_EMIT message(tr("The class names given in the project could not be read: %1").arg(qs(e.what())));
    }
    for (size_t i = 0; i < m_folder.classFolders.size(); ++i) {
        const auto it = given.find(m_folder.classFolders[i]);
        if (it != given.end())
            m_folder.classNames[i] = it->second;
    }
    m_names.clear();
    for (const auto &n : m_folder.classNames)
        m_names << qs(n);
    for (int i = 0; i < m_chooser->count(); ++i)
        if (m_chooser->itemData(i).toLongLong() == datasetId)
            m_chooser->setCurrentIndex(i);
    fillClassTable();
    showClass(-1);
}

void DatasetView::fillClassTable()
{
    m_filling = true;
    const auto counts = m_folder.imagesPerClass();
    const int n = m_names.size();
    const int baseCount = (n + 1) / 2;   // the engine's split: first ceil(n/2) classes by folder name
    m_classes->setRowCount(n);
    for (int i = 0; i < n; ++i) {
        auto *name = new QTableWidgetItem(m_names[i]);
        name->setToolTip(tr("folder: %1").arg(qs(m_folder.classFolders[static_cast<size_t>(i)])));
        auto *count = new QTableWidgetItem(QString::number(i < static_cast<int>(counts.size()) ? counts[static_cast<size_t>(i)] : 0));
        count->setFlags(count->flags() & ~Qt::ItemIsEditable);
        count->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        auto *half = new QTableWidgetItem(i < baseCount ? tr("base") : tr("new"));
        half->setFlags(half->flags() & ~Qt::ItemIsEditable);
        half->setForeground(toneColour(i < baseCount ? Tone::Base : Tone::New));
        m_classes->setItem(i, 0, name);
        m_classes->setItem(i, 1, count);
        m_classes->setItem(i, 2, half);
    }
    m_filling = false;
    // Wide enough for the longest name (within reason): names are what a person reads here.
    int widest = 0;
    for (const QString &name : m_names)
        widest = std::max(widest, m_classes->fontMetrics().horizontalAdvance(name));
    const int others = m_classes->horizontalHeader()->sectionSize(1) + m_classes->horizontalHeader()->sectionSize(2);
    const int wanted = std::clamp(widest + others + 48, 240, std::max(240, width() / 2));
    const QList<int> sizes = m_split->sizes();
    if (sizes.size() == 2 && sizes[0] < wanted)
        m_split->setSizes({wanted, std::max(200, sizes[0] + sizes[1] - wanted)});
}

void DatasetView::showClass(int index)
{
    m_shownClass = index;
    QVector<ImageGridModel::Item> items;
    int bad = 0, shots = 0, tested = 0, right = 0;
    for (const auto &r : m_folder.split("all")) {
        if (index >= 0 && r.label != index)
            continue;
        ImageGridModel::Item it;
        it.path = qs(r.path);
        it.label = static_cast<int>(r.label);
        it.caption = index >= 0 ? QFileInfo(it.path).fileName()
                                : m_names.value(static_cast<int>(r.label)) + QLatin1Char('/') + QFileInfo(it.path).fileName();
        const QString rel = QDir(qs(m_folder.root)).relativeFilePath(it.path);
        it.problem = m_unreadable.value(rel, m_unreadable.value(it.path));
        if (!it.problem.isEmpty()) {
            it.caption = QStringLiteral("⚠ ") + it.caption;
            ++bad;
        }
        if (m_markedRun) {
            const QString absolute = QDir::cleanPath(it.path);
            if (m_shots.contains(absolute)) {
                it.caption = QStringLiteral("● ") + it.caption;
                ++shots;
            } else if (const auto t = m_tested.constFind(absolute); t != m_tested.constEnd()) {
                it.caption = (t->correct ? QStringLiteral("✓ ") : QStringLiteral("✗ ") + t->predicted + QStringLiteral(" · ")) + it.caption;
                ++tested;
                right += t->correct;
            }
        }
        items.push_back(it);
    }
    const QString what = index >= 0 ? m_names.value(index) : tr("all classes");
    QString text = QStringLiteral("<b>%1</b>: %2").arg(what.toHtmlEscaped(), count::images(items.size()));
    if (bad)
        text += QStringLiteral(" · ") + toneHtml(Tone::Bad, tr("%1 unreadable (⚠, hover for the reason)").arg(bad));
    if (m_markedRun)
        text += tr(" · run %1: ● %2 shots, %3 tested (✓ %4 right, ✗ wrong: predicted class shown)")
                    .arg(m_markedRun)
                    .arg(shots)
                    .arg(tested)
                    .arg(right);
    if (index < 0 && !m_folder.issues.empty())
        text += tr(" · %1 (files or folders) not used by the scan").arg(count::entries(static_cast<qint64>(m_folder.issues.size())));
    m_header->setText(text);
    m_model->setItems(std::move(items));
}

QStringList DatasetView::classNames() const { return m_names; }

bool DatasetView::applyName(int index, const std::optional<QString> &given, QString *error)
{
    const std::string folder = m_folder.classFolders[static_cast<size_t>(index)];
    std::optional<std::string> name;
    if (given)
        name = ss(*given);
    if (!m_session || !m_session->setClassNames(m_datasetId, {{folder, name}}, error))
        return false;
    m_names[index] = given.value_or(m_folderNames.value(index));
    m_folder.classNames[static_cast<size_t>(index)] = ss(m_names[index]);
    fillClassTable();
    showClass(m_shownClass);   // the header and captions carry the name too
    Q_EMIT message(tr("Class names saved in the project; new runs use them."));
    return true;
}

bool DatasetView::renameClass(int index, const QString &name, QString *error)
{
    if (index < 0 || index >= m_names.size())
        return false;
    if (name.isEmpty() || name.contains(QLatin1Char('\n')) || name.contains(QLatin1Char('\r'))) {
        if (error)
            *error = tr("A class name must be one non-empty line.");
        return false;
    }
    if (name == m_names[index])
        return true;
    // Back to the folder's own name: the class follows the folder again rather than keeping a copy.
    const auto givenName = [this, index](const QString &n) {
        return n == m_folderNames.value(index) ? std::nullopt : std::optional<QString>(n);
    };
    const std::optional<QString> before = givenName(m_names[index]), after = givenName(name);
    const QString text = tr("Rename class “%1” to “%2”").arg(m_names[index], name);
    if (!applyName(index, after, error))
        return false;
    auto apply = [this, index](const std::optional<QString> &given) {
        QString e;
        if (!applyName(index, given, &e)) {
            Q_EMIT message(e);
            return false;
        }
        return true;
    };
    m_undo->push(new RenameClassCommand(apply, before, after, text));
    return true;
}

} // namespace sep::ui
