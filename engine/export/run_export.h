#pragma once
// A finished run's tuned model, loaded for export: the one path `sep export` and SEP Studio's export
// dialog take, so which checkpoint and which classes a bundle gets is decided in one place.
//
//   sep::exporting::RunExportOptions o;                 // every class of the run's data by default
//   o.extraClasses = sep::exporting::readClassNames("more.txt");
//   auto written = sep::exporting::exportRun("runs/pets-sep", "pets.sepmodel", o, hooks);
//
// A base-to-new run is tuned on its base classes only, but its learned context is shared by all
// classes: its bundle predicts over base and new classes together unless trainedClassesOnly is set.
// The manifest records which classes were trained and which were added.

#include "engine/core/hooks.h"
#include "engine/export/bundle.h"

#include <string>
#include <vector>

namespace sep::exporting {

struct RunExportOptions {
    ExportOptions bundle;
    bool trainedClassesOnly = false;          // only the classes the run was tuned on
    std::vector<std::string> classes;         // when given: exactly these classes instead
    std::vector<std::string> extraClasses;    // appended to the list (names already in it are skipped)
    std::string classifier;                   // when given, also the class text embeddings here (writeClassifier)
};

struct RunExport {
    std::string method;
    std::string weights;                      // the backbone the run used (its spec's weights)
    std::vector<std::string> classes;         // the bundle's class list, in order
    std::vector<std::string> trained;         // the classes the prompt was tuned on
    std::vector<std::string> added;           // the others
    bool backboneIncluded = false;
};

// The classes of a run's data: those it was tuned on (run.json's plan), then the test classes it was
// not tuned on (a base-to-new run's new classes), each once.
struct RunClasses {
    std::vector<std::string> trained, all;
};
RunClasses runClasses(const std::string &runDir);

// Writes the bundle of the finished run in `runDir` (its last checkpoint) to `out`, and/or its
// classifier when options.classifier is set (`out` may then be empty).
RunExport exportRun(const std::string &runDir, const std::string &out, const RunExportOptions &options, const Hooks &hooks = {});

} // namespace sep::exporting
