#include "projects/run_recorder.h"

#include "engine/core/error.h"
#include "engine/data/few_shot.h"
#include "projects/test_hooks.h"

#include <algorithm>
#include <filesystem>

#include <unistd.h>

namespace sep::projects {

RunRecorder::RunRecorder(ProjectStore &store, int64_t runId, bool resuming)
    : m_store(store), m_runId(runId), m_resuming(resuming), m_epochsDone(std::make_shared<int64_t>(0))
{
    if (resuming)
        *m_epochsDone = std::max<int64_t>(0, store.run(runId).checkpointEpoch);
}

Hooks RunRecorder::hooks(const Hooks &inner) const
{
    Hooks h = inner;
    auto done = m_epochsDone;
    auto forward = inner.progress;
    h.progress = [done, forward](const ProgressEvent &e) {
        // Training steps report "epoch N/M …"; evaluation and preparation report other things.
        if (e.what.rfind("epoch ", 0) == 0)
            pauseHereForTests("epoch", *done + 1);
        if (forward)
            forward(e);
    };
    return h;
}

void RunRecorder::started(const train::RunSpec &spec, const nlohmann::json &plan, const std::string &device)
{
    // The few-shot sample, drawn again the way trainRun drew it (a listing and a seeded shuffle),
    // so the project knows which images each run trained on.
    std::vector<std::string> trainImages;
    if (!m_resuming) {
        const auto folder = data::ImageFolder::scan(spec.data);
        data::SplitOptions split;
        split.shots = spec.shots;
        split.seed = spec.seed;
        split.baseToNew = spec.baseToNew;
        for (const auto &r : data::planRun(folder, split).train)
            trainImages.push_back(r.path);
    }
    m_store.runStarted(m_runId, spec, plan, device, trainImages, m_resuming);
    if (m_resuming)
        *m_epochsDone = std::max<int64_t>(0, m_store.run(m_runId).checkpointEpoch);
}

void RunRecorder::epoch(const train::EpochRecord &record)
{
    m_store.recordEpoch(m_runId, record);
    *m_epochsDone = std::max(*m_epochsDone, record.epoch);
}

void RunRecorder::checkpoint(int64_t epoch, const std::string &path) { m_store.recordCheckpoint(m_runId, epoch, path); }

void RunRecorder::evaluated(const std::string &set, const std::vector<std::string> &classes,
                            const train::EvalResult &result, const std::vector<prompt::ClassSelection> &classSelections)
{
    m_store.recordEvaluation(m_runId, set, classes, result, classSelections);
}

void RunRecorder::ended(const std::string &status, const std::string &message)
{
    m_store.runEnded(m_runId, status, message);
}

namespace {

train::RunSummary runWithRecorder(ProjectStore &store, int64_t runId, const train::RunSpec &requested, bool resume,
                                  const Hooks &hooks)
{
    // A new run names its classes as the project does; a resumed one keeps the names in its run.json.
    train::RunSpec spec = requested;
    if (!resume)
        if (const int64_t dataset = store.run(runId).datasetId)
            for (const auto &[folder, name] : store.givenClassNames(dataset))
                spec.classNames.insert_or_assign(folder, name);
    RunRecorder recorder(store, runId, resume);
    const std::string folder = store.runFolder(runId);
    auto markIfUnrecorded = [&](const std::string &status, const std::string &message) {
        // trainRun records the end of every run it started; this covers the ones it never started.
        try {
            // Started runs belong to this process and trainRun has recorded their end already.
            const auto r = store.run(runId);
            if (r.status == "queued" || r.owner.pid != static_cast<int64_t>(::getpid()))
                store.runEnded(runId, status, message);
        } catch (const std::exception &e) {
            hooks.warn(std::string("could not record the run's end: ") + e.what());
        }
    };
    try {
        return train::trainRun(spec, folder, resume, recorder.hooks(hooks), &recorder);
    } catch (const Cancelled &) {
        markIfUnrecorded("cancelled", "");
        throw;
    } catch (const std::exception &e) {
        markIfUnrecorded("failed", e.what());
        throw;
    }
}

} // namespace

train::RunSummary runRecorded(ProjectStore &store, int64_t runId, const train::RunSpec &spec, const Hooks &hooks)
{
    return runWithRecorder(store, runId, spec, false, hooks);
}

train::RunSummary resumeRecorded(ProjectStore &store, int64_t runId, const std::string &device, const Hooks &hooks)
{
    const RunInfo r = store.run(runId);
    const std::string name = "run " + std::to_string(runId);
    if (r.status == "finished")
        throw Error(name + " has finished; there is nothing to resume (start a new run to train again)");
    if ((r.status == "running" || r.status == "queued") && !r.interrupted)
        throw Error(name + " is still " + r.status + " in " + r.owner.describe() + "; it cannot be resumed twice");
    std::error_code ec;
    const bool started = std::filesystem::exists(r.folder + "/run.json", ec);
    train::RunSpec spec = started ? train::readRunSpec(r.folder) : train::RunSpec::fromJson(r.spec, store.path() + ", " + name);
    if (!device.empty())
        spec.device = device;
    if (started)
        hooks.info("resuming " + name + " (" + r.method + ") after epoch " + std::to_string(std::max<int64_t>(0, r.checkpointEpoch)));
    return runWithRecorder(store, runId, spec, started, hooks);
}

} // namespace sep::projects
