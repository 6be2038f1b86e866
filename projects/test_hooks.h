#pragma once
// Test hook, not a feature: lets the crash tests stop a `sep train --project` process at a known
// point so that they can kill -9 it there. Nothing happens unless the environment asks for it:
//
//   SEP_TEST_PAUSE_AT=<point>[:<epoch>]   point: epoch (during a training step of that epoch),
//                                         checkpoint (inside the transaction recording that epoch's
//                                         checkpoint), metrics (inside the one recording its metrics),
//                                         evaluation (inside the one recording a final evaluation);
//                                         epoch defaults to 1
//   SEP_TEST_PAUSE_MARKER=<file>          written (PID, point, epoch) when the point is reached
//
// At the point the process writes the marker and sleeps until it is killed.

#include <cstdint>

namespace sep::projects {

void pauseHereForTests(const char *point, int64_t epoch);

} // namespace sep::projects
