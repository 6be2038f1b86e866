#pragma once
// `sep-studio --bench-ui`: trains SEP on a generated colour dataset for a while with the window open
// and measures how long the UI thread's event loop stalls (a 10 ms timer's lateness), then prints the
// longest stall and the 99th percentile and quits. Target: under 50 ms.

#include <QString>

namespace sep::ui {

class MainWindow;

// Starts the benchmark; the application exits with 0 (within target), 1 (over) or 2 (could not run).
void startUiBench(MainWindow *window, int seconds, const QString &weights, const QString &vocab = {});

} // namespace sep::ui
