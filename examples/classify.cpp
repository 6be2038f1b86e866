// classify: the smallest program that uses a tuned model. It links only the engine (no Qt, no
// project store) and prints the top classes of each image given.
//
//   build/examples/classify pets.sepmodel cat.jpg dog.png
//
// The bundle comes from `sep export` (or `sep import-reference`); its backbone is inside it
// (--include-backbone) or beside it.
#include "engine/core/error.h"
#include "engine/export/predictor.h"

#include <cstdio>
#include <exception>

int main(int argc, char **argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL.sepmodel IMAGE...\n", argv[0]);
        return 2;
    }
    try {
        sep::Predictor predictor(argv[1]);
        std::printf("%s: %s over %zu classes\n", argv[1], predictor.manifest().method.c_str(), predictor.classNames().size());
        for (int i = 2; i < argc; ++i) {
            try {
                const auto result = predictor.classifyFile(argv[i], 3);
                std::printf("%s\n", argv[i]);
                for (const auto &c : result.top)
                    std::printf("  %5.1f%%  %s\n", 100.0 * c.probability, c.name.c_str());
            } catch (const sep::Error &e) {   // an unreadable image: say so, go on with the others
                std::fprintf(stderr, "%s\n", e.what());
            }
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "classify: %s\n", e.what());
        return 1;
    }
    return 0;
}
