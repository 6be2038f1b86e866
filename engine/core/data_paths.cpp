#include "engine/core/data_paths.h"

#include <cstdlib>
#include <filesystem>

namespace sep {
namespace fs = std::filesystem;

std::string builtinModelPath()
{
    std::error_code ec;
    auto ok = [&](const fs::path &p) { return fs::is_regular_file(p / "model.safetensors", ec); };
    if (const char *env = std::getenv("SEP_BUILTIN_MODEL"); env && *env && ok(env))
        return env;
#ifdef SEP_SOURCE_DIR
    if (ok(fs::path(SEP_SOURCE_DIR) / "resources/models/builtin"))
        return (fs::path(SEP_SOURCE_DIR) / "resources/models/builtin").string();
#endif
#ifdef SEP_INSTALL_DATADIR
    if (ok(fs::path(SEP_INSTALL_DATADIR) / "models/builtin"))
        return (fs::path(SEP_INSTALL_DATADIR) / "models/builtin").string();
#endif
    return {};
}

std::string builtinModelWeights()
{
    const std::string dir = builtinModelPath();
    return dir.empty() ? std::string() : dir + "/model.safetensors";
}

} // namespace sep
