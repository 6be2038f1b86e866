#include "projects/test_hooks.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

namespace sep::projects {

void pauseHereForTests(const char *point, int64_t epoch)
{
    const char *request = std::getenv("SEP_TEST_PAUSE_AT");
    if (!request || !*request)
        return;
    std::string wanted = request;
    int64_t wantedEpoch = 1;
    if (const auto colon = wanted.find(':'); colon != std::string::npos) {
        wantedEpoch = std::atoll(wanted.c_str() + colon + 1);
        wanted.resize(colon);
    }
    if (wanted != point || wantedEpoch != epoch)
        return;
    if (const char *marker = std::getenv("SEP_TEST_PAUSE_MARKER"); marker && *marker) {
        // Written whole under another name first, so the test never reads half a marker.
        const std::string tmp = std::string(marker) + ".tmp";
        std::ofstream(tmp) << ::getpid() << ' ' << point << ' ' << epoch << '\n';
        std::rename(tmp.c_str(), marker);
    }
    std::fprintf(stderr, "sep: test hook: paused at %s (epoch %lld), PID %d\n", point, static_cast<long long>(epoch),
                 static_cast<int>(::getpid()));
    std::fflush(stderr);
    for (;;)
        std::this_thread::sleep_for(std::chrono::seconds(1));
}

} // namespace sep::projects
