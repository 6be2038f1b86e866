#include "engine/core/version.h"

namespace sep {

const std::string &programVersion()
{
    static const std::string version = SEP_VERSION;
    return version;
}

const std::string &programName()
{
    static const std::string name = "SEP Studio " + programVersion();
    return name;
}

} // namespace sep
