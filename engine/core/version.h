#pragma once
// The program's version, as the build gives it (CMake's PROJECT_VERSION): recorded in every run and
// bundle so that a number can be traced to the program that produced it.
//
//   sep::programVersion()   // "0.1.0"
//   sep::programName()      // "SEP Studio 0.1.0"

#include <string>

namespace sep {

const std::string &programVersion();
const std::string &programName();

} // namespace sep
