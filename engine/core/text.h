#pragma once
// Small text helpers shared by the engine's commands.

#include <algorithm>
#include <string>
#include <vector>

namespace sep {

// A text option that lists items, "a,b,,c" → {"a", "b", "c"} (empty items dropped, order kept).
inline std::vector<std::string> splitCommaList(const std::string &text)
{
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t end = std::min(text.find(',', start), text.size());
        if (end > start)
            out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

} // namespace sep
