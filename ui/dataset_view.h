#pragma once
// A dataset of the project (a chooser lists them all): classes with image counts, base/new half and editable display names
// (undoable; saved in the project, which gives them to the runs it starts; the dataset's folder is
// never written), and a thumbnail grid of the selected class (or all) that loads lazily, smooth for
// 10,000 images. Unreadable files recorded by the last scan are flagged with their reason.

#include "engine/data/image_folder.h"
#include "projects/project_store.h"

#include <QAbstractListModel>
#include <QHash>
#include <QSet>
#include <QWidget>

#include <optional>

class QLabel;
class QComboBox;
class QListView;
class QSplitter;
class QTableWidget;
class QUndoStack;

namespace sep::ui {

class ProjectSession;
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
    DatasetView(ProjectSession *session, QUndoStack *undo, QWidget *parent = nullptr);

    // The project's dataset `datasetId` as its folder was scanned (in a job), plus the unreadable files
    // the project's last scan recorded. Names given in the project replace the folder's.
    void setDataset(int64_t datasetId, const data::ImageFolder &folder, const QHash<QString, QString> &unreadable);
    // Every dataset of the project, for the chooser above the classes (hidden when there is one).
    void setDatasets(const std::vector<projects::DatasetInfo> &datasets);
    int64_t datasetId() const { return m_datasetId; }
    QComboBox *datasetChooser() const { return m_chooser; }
    QString headerText() const;
    // What a run did with the images: its few-shot sample (absolute paths) and, per tested image, the
    // class it predicted and whether that was right. Shown on the thumbnails and in the header;
    // runId 0 forgets it.
    struct Tested {
        QString predicted;
        bool correct = false;
    };
    void setRunMarks(qint64 runId, const QSet<QString> &shots, const QHash<QString, Tested> &tested);
    void clear();
    ImageGridModel *gridModel() const { return m_model; }
    QTableWidget *classTable() const { return m_classes; }
    // Renames class i in the project (undoable); the name the folder gives takes a given name back.
    // Returns false with a message, and changes nothing, when the name is not one line of text or the
    // project cannot be written now.
    bool renameClass(int index, const QString &name, QString *error = nullptr);
    QStringList classNames() const;

Q_SIGNALS:
    void imageActivated(const QString &path);
    void message(const QString &text);
    // The person picked another dataset of the project: it should be scanned and set.
    void datasetChosen(qint64 datasetId);

private:
    void showClass(int index);
    // Gives class i the name `given` in the project (std::nullopt: the folder's name) and shows it.
    bool applyName(int index, const std::optional<QString> &given, QString *error);
    void fillClassTable();

    ProjectSession *m_session;
    QUndoStack *m_undo;
    ThumbnailLoader *m_loader;
    ImageGridModel *m_model;
    QTableWidget *m_classes;
    QComboBox *m_chooser;
    QSplitter *m_split;
    QListView *m_grid;
    QLabel *m_header;
    data::ImageFolder m_folder;
    int64_t m_datasetId = 0;
    QStringList m_names;
    QStringList m_folderNames;   // as the folder names its classes (folder name or its classnames.txt)
    QHash<QString, QString> m_unreadable;
    bool m_filling = false;
    int m_shownClass = -1;       // the class the grid shows, -1 for all
    qint64 m_markedRun = 0;
    QSet<QString> m_shots;
    QHash<QString, Tested> m_tested;
};

} // namespace sep::ui
