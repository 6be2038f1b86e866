#pragma once
// One overall progress for a training run. The engine reports two streams through the same hook:
// training steps ("epoch 3/10 loss …", done/total over all epochs) and evaluation passes
// ("evaluating", images done/total, once per test set and possibly between epochs). Shown raw, the
// bar jumped between them each epoch ("evaluating · 100% · 0 s left"). Here training fills the first
// 90% (all of it for a method that does not train), the final evaluation the rest; the bar never
// goes back, and an evaluation between epochs keeps the training's estimate counting down.

#include <QString>

namespace sep::ui {

class RunProgress {
public:
    // `evaluationSets`: test sets evaluated at the end (2 for base-to-new, else 1); `trains`: false
    // for zero-shot, whose run is evaluation only.
    RunProgress(int evaluationSets, bool trains);

    struct State {
        int permille = 0;          // 0 … 1000 (1000 only once the run has finished)
        QString text;              // what is happening now
        double secondsLeft = -1;   // negative when unknown
    };
    // One engine event at time `now` (seconds, any fixed origin).
    State update(qint64 done, qint64 total, const QString &what, double secondsLeft, double now);
    State state() const { return m_state; }

private:
    int m_sets;
    double m_trainShare;
    bool m_trainingDone = false;
    QString m_trainText;
    double m_trainLeft = -1, m_trainAt = 0;
    int m_setsDone = 0;
    qint64 m_lastEvalDone = 0;
    State m_state;
};

} // namespace sep::ui
