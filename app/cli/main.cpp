// `sep`: the command line. Thin: parses options, calls the engine, prints text or JSON.
#include "app/cli/common.h"

#include "engine/core/error.h"
#include "engine/core/runtime.h"
#include "engine/core/version.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <iostream>

namespace {

// Whether the command line asks for JSON: then a failure is a JSON object on stdout as well, so a
// script that reads stdout always gets JSON.
bool wantsJson(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0)
            return false;
        if (std::strcmp(argv[i], "--json") == 0)
            return true;
    }
    return false;
}

int fail(bool json, const std::string &message, int code, const char *prefix = "sep: error: ")
{
    if (json) {
        const nlohmann::json j = {{"error", message}, {"exit_code", code}};
        // File names need not be UTF-8; replace what JSON cannot carry instead of failing again.
        std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    } else {
        std::cerr << prefix << message << std::endl;
    }
    return code;
}

} // namespace

int main(int argc, char **argv)
{
    sep::configureThreads();
    CLI::App app{"sep: few-shot prompt tuning (zero-shot CLIP, CoOp, SEP) for CLIP-like models"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "sep " + sep::programVersion());
    sep::cli::addInfoCommand(app);
    sep::cli::addEncodeCommand(app);
    sep::cli::addZeroShotCommand(app);
    sep::cli::addTrainCommands(app);
    sep::cli::addPretrainCommand(app);
    sep::cli::addDemoCommand(app);
    sep::cli::addExportCommands(app);
    sep::cli::addProjectCommands(app);
    sep::cli::addBenchCommand(app);
    const bool json = wantsJson(argc, argv);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        if (json && e.get_exit_code() != 0)
            return fail(json, e.what(), e.get_exit_code());
        return app.exit(e);
    } catch (const sep::Error &e) {
        return fail(json, e.what(), 1);
    } catch (const sep::Cancelled &) {
        return fail(json, "cancelled", 130, "sep: ");
    } catch (const std::exception &e) {
        // LibTorch and the standard library past an entry point: still a message (without a C++
        // backtrace), never an abort.
        return fail(json, sep::describeFailure(e), 2, "sep: unexpected error: ");
    }
    return 0;
}
