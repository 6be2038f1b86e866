#pragma once
// The dataset of the project: classes with image counts, base/new half and editable display names
// (undoable; saved as the dataset's classnames.txt, which the engine reads), and a thumbnail grid of
// the selected class (or all) that loads lazily, smooth for 10,000 images. Unreadable files recorded
// by the last scan are flagged with their reason.

#include "engine/data/image_folder.h"

#include <QAbstractListModel>
#include <QHash>
#include <QWidget>

class QLabel;
class QListView;
class QTableWidget;
class QUndoStack;

namespace sep::ui {

class ThumbnailLoader;

class ImageGridModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role { PathRole = Qt::UserRole + 1, LabelRole, ProblemRole, TagRole };
    struct Item {
        QString path;
        int label = -1;
        QString problem;       // non-empty: why the file cannot be used
        QString caption;
        qint64 tag = -1;       // the owner's key (e.g. a prediction's position)
    };
    ImageGridModel(ThumbnailLoader *loader, QObject *parent = nullptr);
    void setItems(QVector<Item> items);
    const Item *item(int row) const;
    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;

private:
    ThumbnailLoader *m_loader;
    QVector<Item> m_items;
    QHash<QString, int> m_rows;
};

class DatasetView : public QWidget {
    Q_OBJECT
public:
    DatasetView(QUndoStack *undo, QWidget *parent = nullptr);

    // The folder as scanned (in a job) plus the unreadable files the project's last scan recorded.
    void setDataset(const data::ImageFolder &folder, const QHash<QString, QString> &unreadable);
    void clear();
    ImageGridModel *gridModel() const { return m_model; }
    QTableWidget *classTable() const { return m_classes; }
    // Renames class i (undoable); writes classnames.txt. Returns false with a message on failure.
    bool renameClass(int index, const QString &name, QString *error = nullptr);
    QStringList classNames() const;

Q_SIGNALS:
    void imageActivated(const QString &path);
    void message(const QString &text);

private:
    void showClass(int index);
    bool writeClassNames(const QStringList &names, QString *error);
    void fillClassTable();

    QUndoStack *m_undo;
    ThumbnailLoader *m_loader;
    ImageGridModel *m_model;
    QTableWidget *m_classes;
    QListView *m_grid;
    QLabel *m_header;
    data::ImageFolder m_folder;
    QStringList m_names;
    QHash<QString, QString> m_unreadable;
    bool m_filling = false;
};

} // namespace sep::ui
