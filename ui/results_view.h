#pragma once
// Results of the project's runs: the runs grouped by method and shots with mean ± std over seeds;
// for one run and test set, the confusion matrix as a heat map (click a cell → those images below),
// per-class accuracy bars, and a gallery of the misclassified images (double-click → inspector).

#include "projects/project_store.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QListView;
class QTableView;
class QCustomPlot;

namespace sep::ui {

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
    QTableView *confusionView() const { return m_confusionView; }
    // Shows the images of true class t predicted as p (t = p = -1: every misclassified image).
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
    QTableView *m_summaryView, *m_confusionView;
    QComboBox *m_runBox, *m_setBox;
    QLabel *m_headline, *m_galleryTitle;
    QCustomPlot *m_bars;
    QListView *m_galleryView;
};

} // namespace sep::ui
