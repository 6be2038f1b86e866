#pragma once
// The open project as the windows see it: a read-only view of the project store (readers never lock,
// and see each write a worker commits), the path, and a change signal the views refresh on.
// Writing (new runs, imports, exports) happens in jobs (jobs.h) through their own writable store.
//
//   ProjectSession session;
//   QString error;
//   if (!session.open("pets.sepproj", &error)) QMessageBox::warning(…, error);
//   for (const auto &run : session.runs()) …
//
// UI thread only.

#include "projects/project_store.h"

#include <QObject>
#include <QString>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace sep::ui {

class ProjectSession : public QObject {
    Q_OBJECT
public:
    explicit ProjectSession(QObject *parent = nullptr);
    ~ProjectSession() override;

    bool open(const QString &path, QString *error);
    void close();
    bool isOpen() const { return m_store != nullptr; }
    QString path() const { return m_path; }
    QString name() const;                       // "pets" for pets.sepproj
    projects::ProjectStore *store() { return m_store.get(); }

    const std::vector<projects::RunInfo> &runs() const { return m_runs; }
    const std::vector<projects::DatasetInfo> &datasets() const { return m_datasets; }
    const projects::RunInfo *run(int64_t id) const;
    QStringList notes() const;

    // Re-reads runs and datasets and tells the views.
    void refresh();

    // Names classes of a dataset in the project (ProjectStore::setClassNames: folder → name, or
    // std::nullopt to take a given name back) through a writable store opened for this one write.
    // False, with the reason and nothing changed, when the project cannot be written now (another
    // process, or a training job of this window, is writing it).
    bool setClassNames(int64_t datasetId, const std::map<std::string, std::optional<std::string>> &names, QString *error);
    // Deletes a run: its records and its folder (ProjectStore::removeRun; refused while its process
    // runs). False with the reason, and nothing changed, when it cannot be done now.
    bool removeRun(int64_t runId, QString *error);
    // Gives a run a name (one line; "" takes it back) and notes (ProjectStore::setRunName, setRunNotes),
    // both or neither. False with the reason, and nothing changed, when it cannot be done now.
    bool describeRun(int64_t runId, const QString &name, const QString &notes, QString *error);

    // A run's evaluations and an evaluation's predictions, read once and shared by the views that
    // show them (Results, the Dataset tab's marks, the Inspector) until the project changes.
    // sep::Error when the store cannot read them.
    const std::vector<projects::StoredEvaluation> &evaluations(int64_t runId);
    const std::vector<projects::StoredPrediction> &predictions(int64_t evaluationId);

Q_SIGNALS:
    void opened();
    void closed();
    void changed();

private:
    // Opens the project for one write (`purpose` is shown to a second writer) and runs `write`;
    // then refreshes when the runs changed. False with "<failure>: <reason>" in *error when it fails.
    enum class AfterWrite { Refresh, Keep };
    bool writeOnce(const char *purpose, const std::function<void(projects::ProjectStore &)> &write, AfterWrite after,
                   const QString &failure, QString *error);

    std::unique_ptr<projects::ProjectStore> m_store;
    QString m_path;
    std::vector<projects::RunInfo> m_runs;
    std::vector<projects::DatasetInfo> m_datasets;
    std::map<int64_t, std::vector<projects::StoredEvaluation>> m_evaluations;   // by run
    std::map<int64_t, std::vector<projects::StoredPrediction>> m_predictions;   // by evaluation
};

} // namespace sep::ui
