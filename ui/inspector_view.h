#pragma once
// The inspector: one evaluated image of a run. The image as the model saw it with the tokens SEP
// selected at each layer outlined on the patch grid (a layer slider and a small-multiples strip of
// every layer), CLIP's own [CLS]→patch attention at that layer as a heat map beside it, the fusion
// attention weights, the top-5 prediction, each class's selected prompt tokens, and the zero-shot and
// CoOp runs' predictions for the same image. Pictures are drawn by engine/export/explain (the same as
// `sep predict --explain`), off the UI thread.

#include "engine/prompt/selection.h"
#include "projects/project_store.h"

#include <QFutureWatcher>
#include <QImage>
#include <QWidget>

class QLabel;
class QSlider;
class QTableWidget;
class QTreeWidget;
class QHBoxLayout;

namespace sep::ui {

class ProjectSession;
class ScaledPicture;

struct InspectorPictures {
    QImage view;                  // the model's input view
    QVector<QImage> selection;    // per fused layer
    QVector<QImage> attention;    // per fused layer: [CLS] attention at that block (null when not recorded)
    QString error;
};

class InspectorView : public QWidget {
    Q_OBJECT
public:
    explicit InspectorView(ProjectSession *session, QWidget *parent = nullptr);

    // An image of a run's evaluation, by its position in the evaluation.
    void inspect(int64_t runId, int64_t evaluationId, int64_t position);
    // An image by path: the run's evaluation that holds it (message when none does).
    bool inspectPath(int64_t runId, const QString &path);

    const InspectorPictures &pictures() const { return m_pictures; }
    int64_t currentRun() const { return m_run; }
    const prompt::ImageSelection &selection() const { return m_selection; }
    int layer() const;
    void setLayer(int index);
    QString headline() const;
    // Back to "pick an image": another project was opened or this one closed.
    void clear();

Q_SIGNALS:
    void rendered();              // the pictures are ready (or failed: pictures().error)
    void message(const QString &text);

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    void showLayer(int index);
    // The [CLS] attention of the shown layer over the grey image, at the opacity chosen; "not
    // recorded" without weights.
    void showHeat(const std::vector<float> *weights);
    void fillComparison(const std::string &path, const std::string &set);

    ProjectSession *m_session;
    int64_t m_run = 0, m_evaluation = 0, m_position = -1;
    int m_generation = 0;   // counts clear()s, so that a late picture of a closed project is dropped
    projects::StoredPrediction m_prediction;
    prompt::ImageSelection m_selection;
    std::vector<std::string> m_classes;
    InspectorPictures m_pictures;
    QFutureWatcher<InspectorPictures> m_watcher;

    QLabel *m_title, *m_layerLabel, *m_note;
    ScaledPicture *m_picture, *m_heat;
    QSlider *m_opacity;
    int m_grid = 14;                                   // patches per side of the inspected image
    QSlider *m_slider;
    QHBoxLayout *m_strip;
    QList<QLabel *> m_stripLabels;
    QTableWidget *m_top, *m_fusion, *m_compare;
    QTreeWidget *m_tokens;
};

} // namespace sep::ui
