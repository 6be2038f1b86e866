#include "engine/clip/tokenizer.h"

#include "engine/core/error.h"
#include "engine/core/files.h"

#include <nlohmann/json.hpp>
#include <utf8proc.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

namespace sep::clip {

namespace {

namespace fs = std::filesystem;

constexpr const char *kSot = "<|startoftext|>";
constexpr const char *kEot = "<|endoftext|>";
constexpr const char *kEndOfWord = "</w>";
constexpr int64_t kByteSymbols = 256;
constexpr int64_t kLayoutOverhead = 2 * kByteSymbols + 2;   // byte symbols, their "</w>" twins, SOT, EOT
// The cache only exists to skip repeated BPE work; a bound keeps a long pretraining run from growing it
// without limit on noisy captions.
constexpr size_t kCacheLimit = size_t(1) << 18;

// ---------------------------------------------------------------------------------------------------
// UTF-8 <-> code points

void appendUtf8(std::string &out, char32_t cp)
{
    if (cp < 0x80) {
        out.push_back(char(cp));
    } else if (cp < 0x800) {
        out.push_back(char(0xC0 | (cp >> 6)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(char(0xE0 | (cp >> 12)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(char(0xF0 | (cp >> 18)));
        out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    }
}

std::string toUtf8(const std::u32string &s)
{
    std::string out;
    out.reserve(s.size());
    for (char32_t cp : s)
        appendUtf8(out, cp);
    return out;
}

// Invalid bytes become U+FFFD, as Python's errors="replace" would show them, so that no input can
// make the tokenizer fail.
std::u32string fromUtf8(std::string_view s)
{
    std::u32string out;
    out.reserve(s.size());
    const auto *p = reinterpret_cast<const utf8proc_uint8_t *>(s.data());
    utf8proc_ssize_t left = utf8proc_ssize_t(s.size());
    while (left > 0) {
        if (*p < 0x80) {
            out.push_back(*p);
            ++p;
            --left;
            continue;
        }
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {
            out.push_back(0xFFFD);
            n = 1;
        } else {
            out.push_back(char32_t(cp));
        }
        p += n;
        left -= n;
    }
    return out;
}

std::string sanitizeUtf8(const std::string &s)
{
    return toUtf8(fromUtf8(s));
}

// ---------------------------------------------------------------------------------------------------
// Byte symbols: every byte gets a printable stand-in character so that merges can be written as text.

bool byteStandsForItself(int b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

struct ByteSymbols {
    std::array<uint8_t, 256> byteAtId{};        // symbol id 0..255 -> byte
    std::array<std::string, 256> textOf;        // byte -> its stand-in character, UTF-8
    std::array<int16_t, 0x144> byteOfChar{};    // stand-in code point -> byte, -1 where none
};

const ByteSymbols &byteSymbols()
{
    static const ByteSymbols table = [] {
        ByteSymbols t;
        t.byteOfChar.fill(-1);
        int id = 0;
        for (int b = 0; b < 256; ++b) {
            if (byteStandsForItself(b)) {
                t.byteAtId[id++] = uint8_t(b);
                t.textOf[b].clear();
                appendUtf8(t.textOf[b], char32_t(b));
                t.byteOfChar[b] = int16_t(b);
            }
        }
        int shifted = 0;
        for (int b = 0; b < 256; ++b) {
            if (!byteStandsForItself(b)) {
                t.byteAtId[id++] = uint8_t(b);
                const char32_t cp = 0x100 + shifted++;
                t.textOf[b].clear();
                appendUtf8(t.textOf[b], cp);
                t.byteOfChar[cp] = int16_t(b);
            }
        }
        return t;
    }();
    return table;
}

// ---------------------------------------------------------------------------------------------------
// Character classes, matching what the reference's Python and `regex` module use.

utf8proc_category_t category(char32_t c)
{
    return utf8proc_category(utf8proc_int32_t(c));
}

// Unicode White_Space: what the `regex` module's \s matches.
bool isWhiteSpace(char32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
           || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
           || c == 0x3000;
}

// Python's str.strip() also drops the information separators 0x1C–0x1F, which \s does not match.
bool isPythonSpace(char32_t c)
{
    return isWhiteSpace(c) || (c >= 0x1C && c <= 0x1F);
}

bool isLetter(char32_t c)
{
    const auto cat = category(c);
    // U+0345 is a combining mark, but the reference matches \p{L} case-insensitively, and its case
    // partners (Ι, ι) are letters.
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) || c == 0x345;
}

bool isNumber(char32_t c)
{
    const auto cat = category(c);
    return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

// Unicode "Cased", as Python's final-sigma rule uses it. Other_Lowercase letters without a case
// mapping are listed by range; the rarest ones are left out.
bool isCased(char32_t c)
{
    const auto cat = category(c);
    if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT)
        return true;
    const auto ic = utf8proc_int32_t(c);
    if (utf8proc_tolower(ic) != ic || utf8proc_toupper(ic) != ic)
        return true;
    return c == 0xAA || c == 0xBA || (c >= 0x2B0 && c <= 0x2B8) || c == 0x2C0 || c == 0x2C1
           || (c >= 0x2E0 && c <= 0x2E4) || c == 0x345 || c == 0x37A || (c >= 0x1D2C && c <= 0x1D6A)
           || c == 0x1D78 || (c >= 0x1D9B && c <= 0x1DBF) || c == 0x2071 || c == 0x207F
           || (c >= 0x2090 && c <= 0x209C);
}

// Unicode "Case_Ignorable": marks, format characters, modifiers and the word-internal punctuation
// (apostrophes, periods, colons) that Word_Break calls MidLetter, MidNumLet and Single_Quote.
bool isCaseIgnorable(char32_t c)
{
    switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018:
    case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07:
    case 0xFF0E: case 0xFF1A:
        return true;
    default:
        break;
    }
    const auto cat = category(c);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_CF
           || cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SK;
}

// ---------------------------------------------------------------------------------------------------
// HTML entities. The table holds HTML 4's 252 named entities plus &apos; and the six upper-case names
// HTML5 also accepts; the rest of HTML5's two thousand names almost never occur in captions.

// U+00A0 … U+00FF in order: the only names (with &amp; &lt; &gt; &quot;) valid without a semicolon.
constexpr const char *kLatin1Names[96] = {
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para",
    "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest", "Agrave",
    "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute", "Ecirc",
    "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute", "Ocirc",
    "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute", "THORN",
    "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil", "egrave",
    "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde", "ograve",
    "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc", "uuml",
    "yacute", "thorn", "yuml",
};

struct NamedEntity {
    const char *name;
    char32_t cp;
    bool legacy;   // also valid without the closing semicolon
};

constexpr NamedEntity kOtherEntities[] = {
    {"quot", 0x22, true}, {"amp", 0x26, true}, {"apos", 0x27, false}, {"lt", 0x3C, true},
    {"gt", 0x3E, true}, {"QUOT", 0x22, true}, {"AMP", 0x26, true}, {"LT", 0x3C, true},
    {"GT", 0x3E, true}, {"COPY", 0xA9, true}, {"REG", 0xAE, true},
    {"OElig", 0x152, false}, {"oelig", 0x153, false}, {"Scaron", 0x160, false},
    {"scaron", 0x161, false}, {"Yuml", 0x178, false}, {"fnof", 0x192, false}, {"circ", 0x2C6, false},
    {"tilde", 0x2DC, false},
    {"Alpha", 0x391, false}, {"Beta", 0x392, false}, {"Gamma", 0x393, false}, {"Delta", 0x394, false},
    {"Epsilon", 0x395, false}, {"Zeta", 0x396, false}, {"Eta", 0x397, false}, {"Theta", 0x398, false},
    {"Iota", 0x399, false}, {"Kappa", 0x39A, false}, {"Lambda", 0x39B, false}, {"Mu", 0x39C, false},
    {"Nu", 0x39D, false}, {"Xi", 0x39E, false}, {"Omicron", 0x39F, false}, {"Pi", 0x3A0, false},
    {"Rho", 0x3A1, false}, {"Sigma", 0x3A3, false}, {"Tau", 0x3A4, false}, {"Upsilon", 0x3A5, false},
    {"Phi", 0x3A6, false}, {"Chi", 0x3A7, false}, {"Psi", 0x3A8, false}, {"Omega", 0x3A9, false},
    {"alpha", 0x3B1, false}, {"beta", 0x3B2, false}, {"gamma", 0x3B3, false}, {"delta", 0x3B4, false},
    {"epsilon", 0x3B5, false}, {"zeta", 0x3B6, false}, {"eta", 0x3B7, false}, {"theta", 0x3B8, false},
    {"iota", 0x3B9, false}, {"kappa", 0x3BA, false}, {"lambda", 0x3BB, false}, {"mu", 0x3BC, false},
    {"nu", 0x3BD, false}, {"xi", 0x3BE, false}, {"omicron", 0x3BF, false}, {"pi", 0x3C0, false},
    {"rho", 0x3C1, false}, {"sigmaf", 0x3C2, false}, {"sigma", 0x3C3, false}, {"tau", 0x3C4, false},
    {"upsilon", 0x3C5, false}, {"phi", 0x3C6, false}, {"chi", 0x3C7, false}, {"psi", 0x3C8, false},
    {"omega", 0x3C9, false}, {"thetasym", 0x3D1, false}, {"upsih", 0x3D2, false}, {"piv", 0x3D6, false},
    {"ensp", 0x2002, false}, {"emsp", 0x2003, false}, {"thinsp", 0x2009, false}, {"zwnj", 0x200C, false},
    {"zwj", 0x200D, false}, {"lrm", 0x200E, false}, {"rlm", 0x200F, false}, {"ndash", 0x2013, false},
    {"mdash", 0x2014, false}, {"lsquo", 0x2018, false}, {"rsquo", 0x2019, false},
    {"sbquo", 0x201A, false}, {"ldquo", 0x201C, false}, {"rdquo", 0x201D, false},
    {"bdquo", 0x201E, false}, {"dagger", 0x2020, false}, {"Dagger", 0x2021, false},
    {"bull", 0x2022, false}, {"hellip", 0x2026, false}, {"permil", 0x2030, false},
    {"prime", 0x2032, false}, {"Prime", 0x2033, false}, {"lsaquo", 0x2039, false},
    {"rsaquo", 0x203A, false}, {"oline", 0x203E, false}, {"frasl", 0x2044, false},
    {"euro", 0x20AC, false}, {"image", 0x2111, false}, {"weierp", 0x2118, false},
    {"real", 0x211C, false}, {"trade", 0x2122, false}, {"alefsym", 0x2135, false},
    {"larr", 0x2190, false}, {"uarr", 0x2191, false}, {"rarr", 0x2192, false}, {"darr", 0x2193, false},
    {"harr", 0x2194, false}, {"crarr", 0x21B5, false}, {"lArr", 0x21D0, false}, {"uArr", 0x21D1, false},
    {"rArr", 0x21D2, false}, {"dArr", 0x21D3, false}, {"hArr", 0x21D4, false},
    {"forall", 0x2200, false}, {"part", 0x2202, false}, {"exist", 0x2203, false},
    {"empty", 0x2205, false}, {"nabla", 0x2207, false}, {"isin", 0x2208, false},
    {"notin", 0x2209, false}, {"ni", 0x220B, false}, {"prod", 0x220F, false}, {"sum", 0x2211, false},
    {"minus", 0x2212, false}, {"lowast", 0x2217, false}, {"radic", 0x221A, false},
    {"prop", 0x221D, false}, {"infin", 0x221E, false}, {"ang", 0x2220, false}, {"and", 0x2227, false},
    {"or", 0x2228, false}, {"cap", 0x2229, false}, {"cup", 0x222A, false}, {"int", 0x222B, false},
    {"there4", 0x2234, false}, {"sim", 0x223C, false}, {"cong", 0x2245, false},
    {"asymp", 0x2248, false}, {"ne", 0x2260, false}, {"equiv", 0x2261, false}, {"le", 0x2264, false},
    {"ge", 0x2265, false}, {"sub", 0x2282, false}, {"sup", 0x2283, false}, {"nsub", 0x2284, false},
    {"sube", 0x2286, false}, {"supe", 0x2287, false}, {"oplus", 0x2295, false},
    {"otimes", 0x2297, false}, {"perp", 0x22A5, false}, {"sdot", 0x22C5, false},
    {"lceil", 0x2308, false}, {"rceil", 0x2309, false}, {"lfloor", 0x230A, false},
    {"rfloor", 0x230B, false},
    // HTML5 moved these two from U+2329/U+232A to the mathematical angle brackets.
    {"lang", 0x27E8, false}, {"rang", 0x27E9, false},
    {"loz", 0x25CA, false}, {"spades", 0x2660, false}, {"clubs", 0x2663, false},
    {"hearts", 0x2665, false}, {"diams", 0x2666, false},
};

// Windows-1252's reading of 0x80–0x9F; the five bytes it leaves undefined keep their Latin-1 meaning.
constexpr char32_t kCp1252High[32] = {
    0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152,
    0x8D, 0x17D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122,
    0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
};

struct EntityTables {
    std::unordered_map<std::string, char32_t> withSemicolon;   // name -> character
    std::unordered_map<std::string, char32_t> legacy;          // names also valid without ';'
};

const EntityTables &entityTables();

bool isAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }
bool isAsciiHex(char32_t c) { return isAsciiDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool isAsciiAlnum(char32_t c) { return isAsciiDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

int hexValue(char32_t c)
{
    if (isAsciiDigit(c))
        return int(c - '0');
    return int((c | 0x20) - 'a' + 10);
}

// What a numeric character reference stands for under the HTML5 rules Python's html.unescape applies.
std::u32string numericReference(uint32_t num)
{
    if (num == 0)
        return U"\uFFFD";
    if (num == 0x0D)
        return U"\r";
    if (num >= 0x80 && num <= 0x9F)
        return std::u32string(1, kCp1252High[num - 0x80]);
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
        return U"\uFFFD";
    if ((num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) || num == 0x7F
        || (num >= 0xFDD0 && num <= 0xFDEF) || (num & 0xFFFE) == 0xFFFE)
        return {};
    return std::u32string(1, char32_t(num));
}

// Python's html.unescape: numeric references with or without ';', named references with ';', and the
// legacy names without it (longest such prefix wins, "&copy2020" -> "©2020").
std::u32string pythonUnescape(const std::u32string &s)
{
    if (s.find(U'&') == std::u32string::npos)
        return s;
    const EntityTables &tables = entityTables();
    std::u32string out;
    out.reserve(s.size());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        if (s[i] != U'&') {
            out.push_back(s[i++]);
            continue;
        }
        size_t j = i + 1;
        if (j < n && s[j] == U'#') {
            const bool hex = j + 1 < n && (s[j + 1] == U'x' || s[j + 1] == U'X');
            size_t k = hex ? j + 2 : j + 1;
            const size_t digitsStart = k;
            uint32_t num = 0;
            while (k < n && (hex ? isAsciiHex(s[k]) : isAsciiDigit(s[k]))) {
                num = num * (hex ? 16 : 10) + uint32_t(hex ? hexValue(s[k]) : int(s[k] - '0'));
                num = std::min<uint32_t>(num, 0x110000);   // any larger value means the same: invalid
                ++k;
            }
            if (k == digitsStart) {   // "&#" or "&#x" with no digits is left alone
                out.push_back(s[i++]);
                continue;
            }
            if (k < n && s[k] == U';')
                ++k;
            out += numericReference(num);
            i = k;
            continue;
        }
        size_t k = j;
        while (k < n && k - j < 32) {
            const char32_t c = s[k];
            if (c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' || c == U'#'
                || c == U';')
                break;
            ++k;
        }
        if (k == j) {
            out.push_back(s[i++]);
            continue;
        }
        const bool semicolon = k < n && s[k] == U';';
        const std::string name = toUtf8(s.substr(j, k - j));
        const size_t end = semicolon ? k + 1 : k;
        if (semicolon) {
            if (auto it = tables.withSemicolon.find(name); it != tables.withSemicolon.end()) {
                out.push_back(it->second);
                i = end;
                continue;
            }
        } else if (auto it = tables.legacy.find(name); it != tables.legacy.end()) {
            out.push_back(it->second);
            i = end;
            continue;
        }
        // The longest legacy name the reference starts with; the rest of the match stays as text.
        const std::u32string whole = s.substr(j, end - j);
        bool replaced = false;
        for (size_t len = whole.size() - 1; len >= 2 && !replaced; --len) {
            const auto it = tables.legacy.find(toUtf8(whole.substr(0, len)));
            if (it != tables.legacy.end()) {
                out.push_back(it->second);
                out += whole.substr(len);
                replaced = true;
            }
        }
        if (!replaced) {
            out.push_back(U'&');
            out += whole;
        }
        i = end;
    }
    return out;
}

std::u32string pythonUpper(const std::u32string &s)
{
    std::u32string out;
    for (char32_t c : s) {
        if (c == 0xDF)
            out += U"SS";
        else
            out.push_back(char32_t(utf8proc_toupper(utf8proc_int32_t(c))));
    }
    return out;
}

const EntityTables &entityTables()
{
    static const EntityTables tables = [] {
        EntityTables t;
        for (int i = 0; i < 96; ++i) {
            t.withSemicolon.emplace(kLatin1Names[i], char32_t(0xA0 + i));
            t.legacy.emplace(kLatin1Names[i], char32_t(0xA0 + i));
        }
        for (const NamedEntity &e : kOtherEntities) {
            t.withSemicolon.emplace(e.name, e.cp);
            if (e.legacy)
                t.legacy.emplace(e.name, e.cp);
        }
        return t;
    }();
    return tables;
}

// ftfy also reads all-caps spellings of lower-case names ("P&EACUTE;REZ" -> "PÉREZ"), unless the all-caps
// spelling already means something to html.unescape (as "&LT;" does).
const std::unordered_map<std::string, std::u32string> &shoutedEntities()
{
    static const auto shouted = [] {
        std::unordered_map<std::string, std::u32string> t;
        for (const auto &[name, cp] : entityTables().withSemicolon) {
            if (std::any_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
                continue;
            std::string upper = name;
            for (char &c : upper)
                c = (c >= 'a' && c <= 'z') ? char(c - 32) : c;
            if (upper == name)
                continue;
            const std::u32string reference = fromUtf8("&" + upper + ";");
            if (pythonUnescape(reference) == reference)
                t.emplace(upper, pythonUpper(std::u32string(1, cp)));
        }
        return t;
    }();
    return shouted;
}

// ftfy's own unescape step: only references that end in ';' and are at most 24 characters long.
std::u32string ftfyUnescape(const std::u32string &s)
{
    if (s.find(U'&') == std::u32string::npos)
        return s;
    const EntityTables &tables = entityTables();
    std::u32string out;
    out.reserve(s.size());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        if (s[i] != U'&') {
            out.push_back(s[i++]);
            continue;
        }
        const bool numeric = i + 1 < n && s[i + 1] == U'#';
        const size_t start = numeric ? i + 2 : i + 1;
        size_t k = start;
        while (k < n && isAsciiAlnum(s[k]))
            ++k;
        const size_t len = k - start;
        if (len < 1 || len > 24 || k >= n || s[k] != U';') {
            out.push_back(s[i++]);
            continue;
        }
        const std::u32string reference = s.substr(i, k + 1 - i);
        if (numeric) {
            // Decoded only when the whole reference was consumed, semicolon included.
            const std::u32string decoded = pythonUnescape(reference);
            out += decoded.find(U';') == std::u32string::npos ? decoded : reference;
        } else {
            const std::string name = toUtf8(s.substr(start, len));
            if (auto it = tables.withSemicolon.find(name); it != tables.withSemicolon.end())
                out.push_back(it->second);
            else if (auto up = shoutedEntities().find(name); up != shoutedEntities().end())
                out += up->second;
            else
                out += reference;
        }
        i = k + 1;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// ftfy's character fixes

const std::array<std::u32string, 0xFFEF - 0xFF01 + 1> &widthMap()
{
    // Half- and full-width forms map to their NFKC form, as ftfy builds its table.
    static const auto table = [] {
        std::array<std::u32string, 0xFFEF - 0xFF01 + 1> t;
        for (char32_t cp = 0xFF01; cp <= 0xFFEF; ++cp) {
            std::string one;
            appendUtf8(one, cp);
            utf8proc_uint8_t *norm = utf8proc_NFKC(reinterpret_cast<const utf8proc_uint8_t *>(one.c_str()));
            if (!norm)
                continue;
            std::string mapped(reinterpret_cast<const char *>(norm));
            std::free(norm);
            if (mapped != one)
                t[cp - 0xFF01] = fromUtf8(mapped);
        }
        return t;
    }();
    return table;
}

std::u32string ligatureOf(char32_t c)
{
    switch (c) {
    case 0x132: return U"IJ";
    case 0x133: return U"ij";
    case 0x149: return U"\u02BCn";
    case 0x1C4: return U"D\u017D";
    case 0x1C5: return U"D\u017E";
    case 0x1C6: return U"d\u017E";
    case 0x1C7: return U"LJ";
    case 0x1C8: return U"Lj";
    case 0x1C9: return U"lj";
    case 0x1CA: return U"NJ";
    case 0x1CB: return U"Nj";
    case 0x1CC: return U"nj";
    case 0x1F1: return U"DZ";
    case 0x1F2: return U"Dz";
    case 0x1F3: return U"dz";
    case 0xFB00: return U"ff";
    case 0xFB01: return U"fi";
    case 0xFB02: return U"fl";
    case 0xFB03: return U"ffi";
    case 0xFB04: return U"ffl";
    case 0xFB05: return U"\u017Ft";
    case 0xFB06: return U"st";
    default: return {};
    }
}

bool isRemovedControl(char32_t c)
{
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F)
           || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

// One pass of ftfy's per-character fixes, in its order: C1 controls read as Windows-1252, Latin
// ligatures split, width forms narrowed, quotes uncurled, line breaks unified, terminal escapes and
// stray control characters removed.
std::u32string fixCharacters(const std::u32string &s)
{
    const auto &width = widthMap();
    std::u32string out;
    out.reserve(s.size());
    for (char32_t c : s) {
        if (c >= 0x80 && c <= 0x9F)
            c = kCp1252High[c - 0x80];
        if (std::u32string lig = ligatureOf(c); !lig.empty()) {
            out += lig;
            continue;
        }
        if (c == 0x3000) {
            out.push_back(U' ');
            continue;
        }
        if (c >= 0xFF01 && c <= 0xFFEF && !width[c - 0xFF01].empty()) {
            out += width[c - 0xFF01];
            continue;
        }
        out.push_back(c);
    }
    for (char32_t &c : out) {
        if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B))
            c = U'\'';
        else if (c >= 0x201C && c <= 0x201F)
            c = U'"';
    }

    std::u32string lines;
    lines.reserve(out.size());
    for (size_t i = 0; i < out.size(); ++i) {
        const char32_t c = out[i];
        if (c == U'\r') {
            lines.push_back(U'\n');
            if (i + 1 < out.size() && out[i + 1] == U'\n')
                ++i;
        } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
            lines.push_back(U'\n');
        } else {
            lines.push_back(c);
        }
    }

    std::u32string clean;
    clean.reserve(lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i] == 0x1B && i + 1 < lines.size() && lines[i + 1] == U'[') {
            size_t k = i + 2;
            while (k < lines.size() && (lines[k] == U';' || category(lines[k]) == UTF8PROC_CATEGORY_ND))
                ++k;
            const char32_t last = k < lines.size() ? (lines[k] | 0x20) : 0;
            if (last >= U'a' && last <= U'z') {
                i = k;
                continue;
            }
        }
        if (!isRemovedControl(lines[i]))
            clean.push_back(lines[i]);
    }
    return clean;
}

std::u32string nfc(const std::u32string &s)
{
    // Nothing below U+00C0 composes or decomposes canonically.
    if (std::all_of(s.begin(), s.end(), [](char32_t c) { return c < 0xC0; }))
        return s;
    const std::string utf8 = toUtf8(s);
    utf8proc_uint8_t *dst = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t *>(utf8.data()),
                                            utf8proc_ssize_t(utf8.size()), &dst,
                                            utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n < 0 || !dst)
        return s;
    std::u32string out = fromUtf8(std::string_view(reinterpret_cast<const char *>(dst), size_t(n)));
    std::free(dst);
    return out;
}

bool needsRepair(const std::u32string &s)
{
    for (char32_t c : s) {
        if (c == U'&' || c >= 0x7F || (c < 0x20 && c != U'\t' && c != U'\n'))
            return true;
    }
    return false;
}

// ftfy.fix_text: fixes repeated until nothing changes, line by line. Entities are decoded by this step
// only until a line containing '<' appears (it might be HTML).
std::u32string ftfyRepair(const std::u32string &text)
{
    std::u32string out;
    out.reserve(text.size());
    bool unescapeHtml = true;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find(U'\n', pos);
        end = end == std::u32string::npos ? text.size() : end + 1;
        std::u32string segment = text.substr(pos, end - pos);
        pos = end;
        if (segment.find(U'<') != std::u32string::npos)
            unescapeHtml = false;
        if (!needsRepair(segment)) {
            out += segment;
            continue;
        }
        // Every step only shortens or normalizes, so this settles in a few passes; the bound is a guard.
        for (int pass = 0; pass < 16; ++pass) {
            std::u32string next = unescapeHtml ? ftfyUnescape(segment) : segment;
            next = nfc(fixCharacters(next));
            if (next == segment)
                break;
            segment = std::move(next);
        }
        out += segment;
    }
    return out;
}

std::u32string strip(const std::u32string &s)
{
    size_t b = 0;
    size_t e = s.size();
    while (b < e && isPythonSpace(s[b]))
        ++b;
    while (e > b && isPythonSpace(s[e - 1]))
        --e;
    return s.substr(b, e - b);
}

std::u32string collapseWhiteSpace(const std::u32string &s)
{
    std::u32string out;
    out.reserve(s.size());
    bool inRun = false;
    for (char32_t c : s) {
        if (isWhiteSpace(c)) {
            if (!inRun)
                out.push_back(U' ');
            inRun = true;
        } else {
            out.push_back(c);
            inRun = false;
        }
    }
    return out;
}

// Python's str.lower(): simple lower-case mappings, except İ (two code points) and the final-sigma rule.
std::u32string pythonLower(const std::u32string &s)
{
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char32_t c = s[i];
        if (c < 0x80) {
            out.push_back((c >= U'A' && c <= U'Z') ? c + 32 : c);
        } else if (c == 0x130) {
            out += U"i\u0307";
        } else if (c == 0x3A3) {
            size_t j = i;
            while (j > 0 && isCaseIgnorable(s[j - 1]))
                --j;
            bool finalSigma = j > 0 && isCased(s[j - 1]);
            if (finalSigma) {
                size_t k = i + 1;
                while (k < s.size() && isCaseIgnorable(s[k]))
                    ++k;
                finalSigma = k == s.size() || !isCased(s[k]);
            }
            out.push_back(finalSigma ? 0x3C2 : 0x3C3);
        } else {
            out.push_back(char32_t(utf8proc_tolower(utf8proc_int32_t(c))));
        }
    }
    return out;
}

std::u32string cleanText(const std::string &text)
{
    std::u32string s = ftfyRepair(fromUtf8(text));
    s = pythonUnescape(pythonUnescape(s));
    s = strip(collapseWhiteSpace(strip(s)));
    return pythonLower(s);
}

// ---------------------------------------------------------------------------------------------------
// Pre-split: the reference's findall over
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// with IGNORECASE. On lower-cased text, the one case-insensitive match left is ſ for s.

bool matchesAt(const std::u32string &s, size_t i, const char *ascii)
{
    for (; *ascii; ++ascii, ++i) {
        if (i >= s.size())
            return false;
        const char32_t c = s[i];
        if (c != char32_t(*ascii) && !(*ascii == 's' && c == 0x17F))
            return false;
    }
    return true;
}

enum class Special { None, Sot, Eot };

template <class Emit>
void preSplit(const std::u32string &s, Emit &&emit)
{
    static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const char32_t c = s[i];
        if (isWhiteSpace(c)) {
            ++i;
            continue;
        }
        if (c == U'<') {
            if (matchesAt(s, i, kSot)) {
                emit(i, i + std::strlen(kSot), Special::Sot);
                i += std::strlen(kSot);
                continue;
            }
            if (matchesAt(s, i, kEot)) {
                emit(i, i + std::strlen(kEot), Special::Eot);
                i += std::strlen(kEot);
                continue;
            }
        }
        if (c == U'\'') {
            bool matched = false;
            for (const char *contraction : contractions) {
                if (matchesAt(s, i, contraction)) {
                    const size_t len = std::strlen(contraction);
                    emit(i, i + len, Special::None);
                    i += len;
                    matched = true;
                    break;
                }
            }
            if (matched)
                continue;
        }
        size_t end = i + 1;
        if (isLetter(c)) {
            while (end < n && isLetter(s[end]))
                ++end;
        } else if (!isNumber(c)) {
            while (end < n && !isWhiteSpace(s[end]) && !isLetter(s[end]) && !isNumber(s[end]))
                ++end;
        }
        emit(i, end, Special::None);
        i = end;
    }
}

// ---------------------------------------------------------------------------------------------------
// Files

std::string readMaybeGzip(const std::string &path, const char *what)
{
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw Error(path + ": " + what + " not found");
    if (fs::is_directory(path, ec))
        throw Error(path + ": is a directory, expected the " + what);
    requireRegularFile(path, what);
    // gzopen reads plain files transparently, so one reader serves .txt.gz, .txt and .json.
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f)
        throw Error(path + ": cannot open the " + what + " (" + std::strerror(errno) + ")");
    std::string data;
    std::array<char, 1 << 16> buffer;
    for (;;) {
        const int n = gzread(f, buffer.data(), unsigned(buffer.size()));
        if (n < 0) {
            int code = 0;
            const std::string message = gzerror(f, &code);
            gzclose(f);
            throw Error(path + ": cannot read the " + what + " (" + message + "); the file may be damaged");
        }
        if (n == 0)
            break;
        data.append(buffer.data(), size_t(n));
    }
    gzclose(f);
    return data;
}

std::vector<std::string_view> splitLines(std::string_view text)
{
    std::vector<std::string_view> lines;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        lines.push_back(line);
        pos = end + 1;
    }
    return lines;
}

// "a b" -> {"a", "b"}; false unless the line holds exactly two symbols.
bool splitMerge(std::string_view line, std::string_view &left, std::string_view &right)
{
    auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
    std::string_view parts[3];
    int count = 0;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && isSpace(line[i]))
            ++i;
        if (i >= line.size())
            break;
        size_t j = i;
        while (j < line.size() && !isSpace(line[j]))
            ++j;
        if (count == 3)
            return false;
        parts[count++] = line.substr(i, j - i);
        i = j;
    }
    if (count != 2)
        return false;
    left = parts[0];
    right = parts[1];
    return true;
}

std::string quoteStart(const std::string &text)
{
    const std::u32string cps = fromUtf8(text);
    constexpr size_t kShown = 40;
    std::string shown = toUtf8(cps.substr(0, kShown));
    if (cps.size() > kShown)
        shown += "…";
    return "\"" + shown + "\"";
}

uint64_t pairKey(int32_t left, int32_t right)
{
    return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
}

} // namespace

// ---------------------------------------------------------------------------------------------------

struct Tokenizer::Data {
    struct Merge {
        int32_t rank;
        int32_t result;
    };

    std::string source;                                    // named in error messages
    std::vector<std::string> tokens;                       // id -> symbol text (byte stand-ins)
    std::unordered_map<std::string, int32_t> encoder;      // symbol text -> id
    std::unordered_map<uint64_t, Merge> merges;            // (left id, right id) -> rank, merged id
    std::array<int32_t, 256> byteId{};                     // byte -> id of its symbol
    std::array<int32_t, 256> byteEndId{};                  // byte -> id of its symbol + "</w>"
    int64_t sot = 0;
    int64_t eot = 0;

    // Symbol ids here are always the encoder's ids for their text, so comparing ids compares text and
    // the merge table can be keyed by id pairs.
    void addMerge(int32_t rank, const std::string &left, const std::string &right, int32_t result)
    {
        const auto l = encoder.find(left);
        const auto r = encoder.find(right);
        if (l == encoder.end() || r == encoder.end())
            return;   // a part that is no symbol never appears in a word, so the merge cannot fire
        // A repeated pair takes its later rank, as a Python dict built from the list would.
        merges[pairKey(l->second, r->second)] = Merge{rank, result};
    }

    std::vector<int64_t> bpe(const std::string &bytes) const
    {
        std::vector<int32_t> word(bytes.size());
        for (size_t i = 0; i < bytes.size(); ++i)
            word[i] = byteId[uint8_t(bytes[i])];
        word.back() = byteEndId[uint8_t(bytes.back())];

        std::vector<int32_t> merged;
        merged.reserve(word.size());
        while (word.size() > 1) {
            int32_t bestRank = INT32_MAX;
            uint64_t bestKey = 0;
            int32_t bestResult = 0;
            for (size_t i = 0; i + 1 < word.size(); ++i) {
                const uint64_t key = pairKey(word[i], word[i + 1]);
                const auto it = merges.find(key);
                if (it != merges.end() && it->second.rank < bestRank) {
                    bestRank = it->second.rank;
                    bestKey = key;
                    bestResult = it->second.result;
                }
            }
            if (bestRank == INT32_MAX)
                break;
            // Every occurrence of the pair, left to right, without overlaps ("a a a" -> "aa a").
            merged.clear();
            for (size_t i = 0; i < word.size(); ++i) {
                if (i + 1 < word.size() && pairKey(word[i], word[i + 1]) == bestKey) {
                    merged.push_back(bestResult);
                    ++i;
                } else {
                    merged.push_back(word[i]);
                }
            }
            word.swap(merged);
        }
        return std::vector<int64_t>(word.begin(), word.end());
    }
};

Tokenizer::Tokenizer(std::shared_ptr<Data> data) : m_data(std::move(data)) {}
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;
Tokenizer::Tokenizer(const Tokenizer &) = default;
Tokenizer &Tokenizer::operator=(const Tokenizer &) = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::fromMergesFile(const std::string &path, int64_t vocabSize)
{
    if (vocabSize < kLayoutOverhead)
        throw Error(path + ": a vocabulary of " + std::to_string(vocabSize) + " tokens is too small for CLIP's "
                    "layout (at least " + std::to_string(kLayoutOverhead) + ": 512 byte symbols and 2 special tokens)");
    const int64_t needed = vocabSize - kLayoutOverhead;
    const std::string text = readMaybeGzip(path, "BPE merges file");
    const std::vector<std::string_view> lines = splitLines(text);

    // Line 1 is a header; merges follow one per line. A blank line ends the list.
    int64_t available = 0;
    for (size_t i = 1; i < lines.size() && available < needed; ++i) {
        if (lines[i].find_first_not_of(" \t") == std::string_view::npos)
            break;
        std::string_view l, r;
        if (!splitMerge(lines[i], l, r))
            throw Error(path + ": line " + std::to_string(i + 1) + " is not a merge of two symbols ('a b')");
        ++available;
    }
    if (available < needed) {
        throw Error(path + ": holds " + std::to_string(available) + " merges after its header line, but a "
                    "vocabulary of " + std::to_string(vocabSize) + " tokens needs " + std::to_string(needed)
                    + " (vocabulary size − 514); use the merges file that belongs to these weights");
    }

    auto data = std::make_shared<Data>();
    data->source = path;
    data->tokens.reserve(size_t(vocabSize));
    const ByteSymbols &bytes = byteSymbols();
    for (int id = 0; id < kByteSymbols; ++id)
        data->tokens.push_back(bytes.textOf[bytes.byteAtId[id]]);
    for (int id = 0; id < kByteSymbols; ++id)
        data->tokens.push_back(bytes.textOf[bytes.byteAtId[id]] + kEndOfWord);
    std::vector<std::pair<std::string, std::string>> mergeParts;
    mergeParts.reserve(size_t(needed));
    for (int64_t k = 0; k < needed; ++k) {
        std::string_view l, r;
        splitMerge(lines[size_t(k) + 1], l, r);
        mergeParts.emplace_back(std::string(l), std::string(r));
        data->tokens.push_back(std::string(l) + std::string(r));
    }
    data->tokens.emplace_back(kSot);
    data->tokens.emplace_back(kEot);

    // Later ids win for repeated text, as the reference's dict(zip(vocab, range(...))) does.
    data->encoder.reserve(data->tokens.size());
    for (size_t id = 0; id < data->tokens.size(); ++id)
        data->encoder[data->tokens[id]] = int32_t(id);
    for (int b = 0; b < 256; ++b) {
        data->byteId[b] = data->encoder.at(bytes.textOf[b]);
        data->byteEndId[b] = data->encoder.at(bytes.textOf[b] + kEndOfWord);
    }
    data->merges.reserve(size_t(needed));
    for (int64_t k = 0; k < needed; ++k) {
        const auto &[l, r] = mergeParts[size_t(k)];
        data->addMerge(int32_t(k), l, r, data->encoder.at(l + r));
    }
    data->sot = data->encoder.at(kSot);
    data->eot = data->encoder.at(kEot);
    return Tokenizer(std::move(data));
}

Tokenizer Tokenizer::fromHuggingFace(const std::string &vocabJsonPath, const std::string &mergesPath)
{
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(readMaybeGzip(vocabJsonPath, "vocab.json"));
    } catch (const nlohmann::json::exception &e) {
        throw Error(vocabJsonPath + ": is not valid JSON (" + e.what() + ")");
    }
    if (!json.is_object())
        throw Error(vocabJsonPath + ": expected a JSON object mapping tokens to ids");

    auto data = std::make_shared<Data>();
    data->source = vocabJsonPath;
    int64_t maxId = -1;
    for (auto it = json.begin(); it != json.end(); ++it) {
        // Ids are dense in any real vocabulary; the bound keeps a damaged file from asking for gigabytes.
        constexpr int64_t kMaxId = int64_t(1) << 24;
        if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() >= kMaxId)
            throw Error(vocabJsonPath + ": the id of token '" + it.key() + "' is not an integer in 0 … "
                        + std::to_string(kMaxId - 1));
        const int64_t id = it.value().get<int64_t>();
        maxId = std::max(maxId, id);
        data->encoder[it.key()] = int32_t(id);
    }
    data->tokens.assign(size_t(maxId + 1), std::string());
    for (const auto &[text, id] : data->encoder)
        data->tokens[size_t(id)] = text;

    const ByteSymbols &bytes = byteSymbols();
    for (int b = 0; b < 256; ++b) {
        const auto plain = data->encoder.find(bytes.textOf[b]);
        const auto end = data->encoder.find(bytes.textOf[b] + kEndOfWord);
        if (plain == data->encoder.end() || end == data->encoder.end())
            throw Error(vocabJsonPath + ": lacks the byte symbol for byte " + std::to_string(b)
                        + " (with or without </w>); is this a CLIP vocabulary?");
        data->byteId[b] = plain->second;
        data->byteEndId[b] = end->second;
    }
    for (const char *special : {kSot, kEot}) {
        if (data->encoder.find(special) == data->encoder.end())
            throw Error(vocabJsonPath + ": has no '" + special + "' entry; is this a CLIP vocabulary?");
    }
    data->sot = data->encoder.at(kSot);
    data->eot = data->encoder.at(kEot);

    const std::string text = readMaybeGzip(mergesPath, "merges.txt");
    const std::vector<std::string_view> lines = splitLines(text);
    int32_t rank = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        if ((i == 0 && line.substr(0, 8) == "#version") || line.find_first_not_of(" \t") == std::string_view::npos)
            continue;
        std::string_view l, r;
        if (!splitMerge(line, l, r))
            throw Error(mergesPath + ": line " + std::to_string(i + 1) + " is not a merge of two symbols ('a b')");
        const std::string left(l), right(r), joined = left + right;
        for (const std::string *symbol : {&left, &right, &joined}) {
            if (data->encoder.find(*symbol) == data->encoder.end())
                throw Error(mergesPath + ": line " + std::to_string(i + 1) + " uses '" + *symbol + "', which "
                            + vocabJsonPath + " does not list; the two files do not belong together");
        }
        data->addMerge(rank++, left, right, data->encoder.at(joined));
    }
    return Tokenizer(std::move(data));
}

Tokenizer Tokenizer::fromFile(const std::string &path, int64_t vocabSize)
{
    std::error_code ec;
    const fs::path p(path);
    if (fs::is_directory(p, ec) || p.extension() == ".json") {
        const fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
        const fs::path vocab = fs::is_directory(p, ec) ? dir / "vocab.json" : p;
        const fs::path merges = dir / "merges.txt";
        Tokenizer tok = fromHuggingFace(vocab.string(), merges.string());
        if (vocabSize > 0 && tok.vocabSize() > vocabSize)
            throw Error(vocab.string() + ": lists " + std::to_string(tok.vocabSize()) + " tokens, but the model's "
                        "token embedding has only " + std::to_string(vocabSize) + " rows; use the vocabulary that "
                        "belongs to these weights");
        return tok;
    }
    return fromMergesFile(path, vocabSize);
}

std::string Tokenizer::findBeside(const std::string &weightsPath)
{
    std::error_code ec;
    const fs::path p(weightsPath);
    fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
    if (dir.empty())
        dir = ".";
    auto isFile = [&](const fs::path &f) { return fs::is_regular_file(f, ec); };

    if (isFile(dir / "bpe_simple_vocab_16e6.txt.gz"))
        return (dir / "bpe_simple_vocab_16e6.txt.gz").string();
    std::vector<fs::path> gz;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() > 7 && name.compare(name.size() - 7, 7, ".txt.gz") == 0 && isFile(it->path()))
            gz.push_back(it->path());
    }
    if (!gz.empty()) {
        std::sort(gz.begin(), gz.end());   // deterministic choice when several are present
        return gz.front().string();
    }
    if (isFile(dir / "vocab.json") && isFile(dir / "merges.txt"))
        return (dir / "vocab.json").string();
    if (isFile(dir / "merges.txt"))
        return (dir / "merges.txt").string();
    return {};
}

std::vector<int64_t> Tokenizer::encodeIds(const std::string &text) const
{
    const std::u32string cleaned = cleanText(text);
    std::vector<int64_t> ids;
    ids.reserve(cleaned.size() / 3 + 4);
    std::string piece;
    preSplit(cleaned, [&](size_t begin, size_t end, Special special) {
        if (special == Special::Sot) {
            ids.push_back(m_data->sot);
            return;
        }
        if (special == Special::Eot) {
            ids.push_back(m_data->eot);
            return;
        }
        piece.clear();
        for (size_t i = begin; i < end; ++i)
            appendUtf8(piece, cleaned[i]);
        auto it = m_cache.find(piece);
        if (it == m_cache.end()) {
            if (m_cache.size() >= kCacheLimit)
                m_cache.clear();
            it = m_cache.emplace(piece, m_data->bpe(piece)).first;
        }
        ids.insert(ids.end(), it->second.begin(), it->second.end());
    });
    return ids;
}

std::vector<std::string> Tokenizer::preTokenize(const std::string &text)
{
    const std::u32string cleaned = cleanText(text);
    std::vector<std::string> pieces;
    preSplit(cleaned, [&](size_t begin, size_t end, Special) {
        std::string piece;
        for (size_t i = begin; i < end; ++i)
            appendUtf8(piece, cleaned[i]);
        pieces.push_back(std::move(piece));
    });
    return pieces;
}

std::vector<std::string> Tokenizer::initialSymbols(const std::string &piece)
{
    const ByteSymbols &table = byteSymbols();
    std::vector<std::string> out;
    for (unsigned char b : piece)
        out.push_back(table.textOf[b]);
    if (!out.empty())
        out.back() += "</w>";
    return out;
}

std::vector<int64_t> Tokenizer::encode(const std::string &text, int64_t contextLength, bool truncate) const
{
    if (contextLength < 1)
        throw Error("context length must be at least 1, got " + std::to_string(contextLength));
    const std::vector<int64_t> ids = encodeIds(text);
    const int64_t needed = int64_t(ids.size()) + 2;
    if (needed > contextLength && !truncate) {
        throw Error("text " + quoteStart(text) + " needs " + std::to_string(needed) + " tokens, the model's context "
                    "holds " + std::to_string(contextLength) + "; shorten it or ask for truncation");
    }
    std::vector<int64_t> out;
    out.reserve(size_t(std::max(needed, contextLength)));
    out.push_back(m_data->sot);
    out.insert(out.end(), ids.begin(), ids.end());
    out.push_back(m_data->eot);
    if (int64_t(out.size()) > contextLength) {
        out.resize(size_t(contextLength));
        out.back() = m_data->eot;
    }
    out.resize(size_t(contextLength), 0);
    return out;
}

std::string Tokenizer::decodePiece(int64_t id) const
{
    if (id < 0 || id >= vocabSize())
        throw Error("token id " + std::to_string(id) + " is outside the vocabulary (0 … "
                    + std::to_string(vocabSize() - 1) + ") of " + m_data->source);
    const std::string &token = m_data->tokens[size_t(id)];
    if (id == m_data->sot || id == m_data->eot)
        return token;
    std::string_view body = token;
    const size_t markLen = std::strlen(kEndOfWord);
    const bool endOfWord = body.size() >= markLen && body.substr(body.size() - markLen) == kEndOfWord;
    if (endOfWord)
        body.remove_suffix(markLen);
    const ByteSymbols &bytes = byteSymbols();
    std::string out;
    for (char32_t cp : fromUtf8(body)) {
        if (cp < bytes.byteOfChar.size() && bytes.byteOfChar[cp] >= 0)
            out.push_back(char(bytes.byteOfChar[cp]));
        else
            appendUtf8(out, cp);   // not a byte stand-in (an unusual vocabulary): keep it as written
    }
    if (endOfWord)
        out.push_back(' ');
    return out;
}

std::string Tokenizer::decode(const std::vector<int64_t> &ids) const
{
    std::string bytes;
    for (int64_t id : ids) {
        if (id == m_data->eot)
            break;   // what follows EOT is padding
        if (id == m_data->sot)
            continue;
        bytes += decodePiece(id);
    }
    // Single pieces may split a character; the joined bytes are whole again, or get U+FFFD.
    return sanitizeUtf8(bytes);
}

int64_t Tokenizer::vocabSize() const { return int64_t(m_data->tokens.size()); }
int64_t Tokenizer::sotId() const { return m_data->sot; }
int64_t Tokenizer::eotId() const { return m_data->eot; }

std::string Tokenizer::clean(const std::string &text)
{
    return toUtf8(cleanText(text));
}

} // namespace sep::clip
