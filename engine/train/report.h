#pragma once
// Writing an evaluation to disk: summary.json, confusion.csv, per_class.csv, predictions.csv. The
// same files serve the CLI, the run folders and the GUI.
//
//   sep::train::writeEvaluation("runs/x/eval-test", classNames, result);

#include "engine/train/evaluator.h"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace sep::train {

// accuracy, correct, total, per-class accuracy and counts, unreadable files.
nlohmann::json evaluationJson(const std::vector<std::string> &classNames, const EvalResult &result);

// Creates `dir` and writes the four files (each atomically). Throws sep::Error naming the file on failure.
void writeEvaluation(const std::string &dir, const std::vector<std::string> &classNames, const EvalResult &result);

// selections.jsonl: one JSON object per scored image (path, and per fused block the selected tokens,
// their scores and the fusion attention; the [CLS] attention per block when recorded), and
// classes.json: the text-side selections per class.
void writeSelections(const std::string &dir, const EvalResult &result,
                     const std::vector<prompt::ClassSelection> &classSelections);

// Quotes a CSV field when needed.
std::string csvField(const std::string &s);

} // namespace sep::train
