// `sep`: the command line. Thin: parses options, calls the engine, prints text or JSON.
#include "app/cli/common.h"

#include "engine/core/error.h"
#include "engine/core/runtime.h"

#include <iostream>

int main(int argc, char **argv)
{
    sep::configureThreads();
    CLI::App app{"sep: few-shot prompt tuning (zero-shot CLIP, CoOp, SEP) for CLIP-like models"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("sep ") + SEP_VERSION);
    sep::cli::addInfoCommand(app);
    sep::cli::addEncodeCommand(app);
    sep::cli::addZeroShotCommand(app);
    sep::cli::addTrainCommands(app);
    sep::cli::addPretrainCommand(app);
    sep::cli::addDemoCommand(app);
    sep::cli::addExportCommands(app);
    sep::cli::addProjectCommands(app);
    sep::cli::addBenchCommand(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    } catch (const sep::Error &e) {
        std::cerr << "sep: error: " << e.what() << std::endl;
        return 1;
    } catch (const sep::Cancelled &) {
        std::cerr << "sep: cancelled" << std::endl;
        return 130;
    } catch (const std::exception &e) {
        // LibTorch and the standard library: still a message, never an abort.
        std::cerr << "sep: unexpected error: " << e.what() << std::endl;
        return 2;
    }
    return 0;
}
