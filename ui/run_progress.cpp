#include "ui/run_progress.h"

#include <algorithm>

namespace sep::ui {

RunProgress::RunProgress(int evaluationSets, bool trains)
    : m_sets(std::max(1, evaluationSets)), m_trainShare(trains ? 0.9 : 0.0), m_trainingDone(!trains)
{
}

RunProgress::State RunProgress::update(qint64 done, qint64 total, const QString &what, double secondsLeft, double now)
{
    const double fraction = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 0.0;
    State next;
    // The evaluator's events say "evaluating" (engine/train/evaluator.cpp); everything else is training.
    if (!what.startsWith(QLatin1String("evaluating"))) {
        m_trainText = what;
        m_trainLeft = secondsLeft;
        m_trainAt = now;
        m_trainingDone = done >= total;
        next.permille = static_cast<int>(1000 * m_trainShare * fraction);
        next.text = what;
        next.secondsLeft = secondsLeft;
    } else if (!m_trainingDone) {
        // Between epochs: the training's estimate keeps counting down.
        next.permille = m_state.permille;
        next.text = QStringLiteral("%1 · evaluating %2%").arg(m_trainText).arg(static_cast<int>(100 * fraction));
        next.secondsLeft = m_trainLeft < 0 ? -1 : std::max(0.0, m_trainLeft - (now - m_trainAt));
    } else {
        // The final evaluation, one pass per test set: a count that starts again is the next set.
        if (done < m_lastEvalDone)
            ++m_setsDone;
        m_lastEvalDone = done;
        const int sets = std::max(m_sets, m_setsDone + 1);
        const double evaluated = (m_setsDone + fraction) / sets;
        next.permille = static_cast<int>(1000 * (m_trainShare + (1 - m_trainShare) * evaluated));
        next.text = sets > 1 ? QStringLiteral("evaluating test set %1 of %2 · %3%").arg(m_setsDone + 1).arg(sets).arg(static_cast<int>(100 * fraction))
                             : QStringLiteral("evaluating · %1%").arg(static_cast<int>(100 * fraction));
        next.secondsLeft = secondsLeft < 0 ? -1 : secondsLeft * (sets - m_setsDone - fraction) / std::max(1e-9, 1 - fraction);
        if (fraction >= 1)
            next.secondsLeft = -1;   // the next set's length is not known yet
    }
    next.permille = std::clamp(std::max(next.permille, m_state.permille), 0, 999);   // never back; 1000 is "finished"
    m_state = next;
    return m_state;
}

} // namespace sep::ui
