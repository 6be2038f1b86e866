#pragma once
// Results of the project's runs: the runs grouped by method and settings with mean ± std over seeds
// (the best of each protocol marked, and a sentence when a baseline beats SEP); for one run and test
// set, the confusion matrix as a heat map that scales to 1000 classes (click a cell → those images
// below), per-class accuracy as a sortable table, and a gallery of the misclassified images
// (double-click → inspector).

#include "projects/project_store.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QListView;
class QTableView;
class QStandardItemModel;

namespace sep::ui {

class ConfusionHeatMap;
class ConfusionModel;
class ImageGridModel;
class ProjectSession;
class RunSummaryModel;
class ThumbnailLoader;

class ResultsView : public QWidget {
    Q_OBJECT
public:
    explicit ResultsView(ProjectSession *session, QWidget *parent = nullptr);

    void showRun(int64_t runId);
    int64_t currentRun() const { return m_run; }
    ConfusionModel *confusionModel() const { return m_confusion; }
    RunSummaryModel *summaryModel() const { return m_summary; }
    ImageGridModel *galleryModel() const { return m_gallery; }
    ConfusionHeatMap *heatMap() const { return m_heatMap; }
    QTableView *perClassView() const { return m_perClassView; }
    // Shows the images of true class t predicted as p (t = p = -1: every misclassified image; p = -1
    // alone: every misclassified image of class t).
    void filterGallery(int trueClass, int predicted);

public Q_SLOTS:
    void refresh();
    // Forgets the shown run, matrix, bars and gallery: another project was opened or this one closed.
    void clear();

Q_SIGNALS:
    void inspectImage(qint64 runId, qint64 evaluationId, qint64 position);

private:
    void showEvaluation(int index);

    ProjectSession *m_session;
    int64_t m_run = 0;
    std::vector<projects::StoredEvaluation> m_evaluations;
    std::vector<projects::StoredPrediction> m_predictions;
    int m_evaluation = -1;

    RunSummaryModel *m_summary;
    ConfusionModel *m_confusion;
    ThumbnailLoader *m_loader;
    ImageGridModel *m_gallery;
    QTableView *m_summaryView, *m_perClassView;
    ConfusionHeatMap *m_heatMap;
    QStandardItemModel *m_perClass;
    QComboBox *m_runBox, *m_setBox;
    QLabel *m_headline, *m_galleryTitle, *m_verdict;
    QListView *m_galleryView;
};

} // namespace sep::ui
