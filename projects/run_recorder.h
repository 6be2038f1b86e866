#pragma once
// Records a training run into a project while train::trainRun runs it: the observer the engine
// calls after each file of the run folder is written (so the database never claims more than the
// folder holds). Every call is one transaction of the store.
//
//   const int64_t id = store.createRun(spec, datasetId);
//   sep::projects::RunRecorder recorder(store, id, /*resuming=*/false);
//   sep::train::trainRun(spec, store.runFolder(id), false, recorder.hooks(hooks), &recorder);
//
// Runs on the training thread; the store must not be used by another thread meanwhile.

#include "engine/core/hooks.h"
#include "engine/train/run.h"
#include "projects/project_store.h"

namespace sep::projects {

class RunRecorder : public train::RunObserver {
public:
    RunRecorder(ProjectStore &store, int64_t runId, bool resuming);

    // The hooks to give trainRun: `inner` plus the crash tests' pause point inside training epochs
    // (test_hooks.h; inert unless SEP_TEST_PAUSE_AT asks for it).
    Hooks hooks(const Hooks &inner) const;

    void started(const train::RunSpec &spec, const nlohmann::json &plan, const std::string &device) override;
    void epoch(const train::EpochRecord &record) override;
    void checkpoint(int64_t epoch, const std::string &path) override;
    void evaluated(const std::string &set, const std::vector<std::string> &classes, const train::EvalResult &result,
                   const std::vector<prompt::ClassSelection> &classSelections) override;
    void ended(const std::string &status, const std::string &message) override;

    int64_t runId() const { return m_runId; }

private:
    ProjectStore &m_store;
    int64_t m_runId;
    bool m_resuming;
    std::shared_ptr<int64_t> m_epochsDone;   // shared with the hooks' progress wrapper
};

// Trains a run created with store.createRun() into its folder, recording as it goes. Its classes
// carry the names given in the project (ProjectStore::givenClassNames into RunSpec::classNames), so
// run.json, the plan and the evaluations use them and a resume keeps them. Should trainRun
// stop before it could record the end itself (a missing weights file, a folder it cannot create), the
// run is marked failed with the message; the exception is passed on.
train::RunSummary runRecorded(ProjectStore &store, int64_t runId, const train::RunSpec &spec, const Hooks &hooks);

// Continues a run that was interrupted (its process died), cancelled or failed, after its last
// checkpoint, with the spec stored in its folder (`device`, when not empty, replaces the recorded one).
// A run that never started is started afresh. Refuses a finished run and one whose process still runs.
train::RunSummary resumeRecorded(ProjectStore &store, int64_t runId, const std::string &device, const Hooks &hooks);

} // namespace sep::projects
