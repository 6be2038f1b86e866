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

// Outside text (a class name, an archive entry, a value from a file) as a message shows it: at most
// `limit` bytes, cut at a UTF-8 character boundary, with how much was left out; control characters
// become '?', so a crafted value cannot flood or redraw the terminal.
inline std::string shortened(const std::string &text, size_t limit = 80)
{
    size_t end = std::min(text.size(), limit);
    while (end > 0 && end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
        --end;   // not inside a multi-byte character
    std::string out = text.substr(0, end);
    for (char &c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
            c = '?';
    if (end < text.size())
        out += "… (" + std::to_string(text.size()) + " bytes)";
    return out;
}

// An error message about `path` as a reason to show beside that path: "a.png: empty file" → "empty
// file", so that a report of (path, reason) pairs does not print the path twice.
inline std::string reasonAbout(const std::string &path, const std::string &message)
{
    const std::string prefix = path + ": ";
    return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

} // namespace sep
