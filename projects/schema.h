#pragma once
// The project database's schema, as a history: the SQL that made version 1, then one migration per
// later version. A new project runs all of them in order, so every migration is exercised by every
// project ever created, and an old project runs the ones it lacks. Each step runs in its own
// transaction and bumps meta.schema_version in it: a step either happens whole or not at all.
//
//   sep::projects::createSchema(db);             // new, empty database
//   sep::projects::migrate(db, from, notes);     // from < kSchemaVersion
//
// Version history:
//   1  datasets, classes, images (size, decode status), runs, checkpoints, per-epoch metrics,
//      evaluations, predictions, exports
//   2  images: content hash, modification time, state present/missing, last seen; datasets: the
//      last scan's report; run_images: the few-shot sample each run trained on (with the hash then)
//   3  selections (per evaluation, image and text side, per layer; indices and attention as
//      little-endian BLOBs); runs.owner_start (tells a reused process id from the run's owner)
//   4  classes.given_name: the name a class was given in the project (NULL: the folder names it);
//      scans update classes.name only, so given names survive them
//   5  runs: a name and notes a person gives them, and the reproducibility record's weights SHA-256
//      and program version; predictions: the true class's rank and probability (outside the top k too)

#include "projects/sqlite.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sep::projects {

constexpr int kSchemaVersion = 5;
// PRAGMA application_id of every project file: 'SEPS'. A database without it is not ours.
constexpr int32_t kApplicationId = 0x53455053;
constexpr const char *kApplicationName = "SEP Studio project";

// The SQL of version 1 (tables and the meta rows' shape; the caller fills meta).
const std::string &schemaV1();
// The SQL that moves version `from` to `from + 1`.
const std::string &migrationFrom(int from);

// Creates every table of the current version in an empty database (inside transactions) and writes
// the meta rows and the application id.
void createSchema(Database &db, const std::string &createdAt);

// Runs the migrations from `from` up to kSchemaVersion, one transaction each; appends a note per step.
void migrate(Database &db, int from, const std::string &now, std::vector<std::string> &notes);

} // namespace sep::projects
