#pragma once
// The one exception type the engine throws. Its message is meant for a person: it names the file,
// key or option at fault and, where there is one, what to do about it.
//
//   throw sep::Error("weights.pt: key 'visual.proj' has shape [512, 768], expected [768, 512]");

#include <stdexcept>
#include <string>

namespace sep {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace sep
