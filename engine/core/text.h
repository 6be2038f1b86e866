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

// The length of the well-formed UTF-8 sequence at the start of s[0, remaining), or 0 when there is
// none (overlong forms, surrogates and code points past U+10FFFF are not well formed).
inline size_t utf8SequenceLength(const unsigned char *s, size_t remaining)
{
    const unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;   // the range allowed for the second byte
    if (c >= 0xC2 && c <= 0xDF)
        length = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        length = 3, low = c == 0xE0 ? 0xA0 : 0x80, high = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        length = 4, low = c == 0xF0 ? 0x90 : 0x80, high = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (length > remaining || s[1] < low || s[1] > high)
        return 0;
    for (size_t k = 2; k < length; ++k)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return length;
}

// Whether `text` is well-formed UTF-8: what JSON files and the project database can hold as text.
inline bool isValidUtf8(const std::string &text)
{
    const auto *s = reinterpret_cast<const unsigned char *>(text.data());
    for (size_t i = 0, n = text.size(); i < n;) {
        const size_t length = utf8SequenceLength(s + i, n - i);
        if (length == 0)
            return false;
        i += length;
    }
    return true;
}

// `text` with every byte that is not part of well-formed UTF-8 shown as '?', for messages and
// reports about a name that is not UTF-8 itself.
inline std::string asUtf8(const std::string &text)
{
    std::string out;
    const auto *s = reinterpret_cast<const unsigned char *>(text.data());
    for (size_t i = 0, n = text.size(); i < n;) {
        const size_t length = utf8SequenceLength(s + i, n - i);
        if (length == 0) {
            out += '?';
            ++i;
        } else {
            out.append(text, i, length);
            i += length;
        }
    }
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
