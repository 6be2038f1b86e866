#include "engine/pretrain/pairs.h"

#include "engine/core/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>

namespace sep::pretrain {
namespace fs = std::filesystem;
namespace {

std::string dashesToSpaces(std::string s)
{
    for (auto &c : s)
        if (c == '-' || c == '_')
            c = ' ';
    return s;
}

template <typename Fn>
void readJsonLines(const std::string &path, std::vector<std::string> &notes, Fn &&fn)
{
    std::ifstream in(path);
    if (!in)
        throw Error(path + ": cannot be read");
    std::string line;
    int64_t lineNo = 0, bad = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
            fn(j);
        } catch (const nlohmann::json::exception &e) {
            if (++bad <= 5)
                notes.push_back(path + ": line " + std::to_string(lineNo) + " skipped (" + e.what() + ")");
        }
    }
    if (bad > 5)
        notes.push_back(path + ": " + std::to_string(bad) + " lines skipped in all");
}

} // namespace

std::vector<std::string> emojiCaptions(const std::string &name, const std::string &category,
                                       const std::string &subcategory, const std::vector<std::string> &keywords)
{
    std::vector<std::string> c = {
        "a photo of a " + name + ".", name, "an icon of " + name, name + " emoji", "a drawing of " + name + ".",
        "a picture of " + name, "the " + name + " symbol",
    };
    if (!subcategory.empty())
        c.push_back(name + ", " + dashesToSpaces(subcategory));
    if (!category.empty())
        c.push_back(name + ", a kind of " + dashesToSpaces(category));
    if (!keywords.empty()) {
        std::string k = name;
        for (size_t i = 0; i < keywords.size() && i < 4; ++i)
            if (keywords[i] != name)
                k += ", " + keywords[i];
        c.push_back(k);
    }
    return c;
}

std::vector<std::pair<std::string, std::string>> readStyle(const std::string &rootPath, const std::string &style)
{
    std::vector<std::pair<std::string, std::string>> out;
    std::vector<std::string> notes;
    const fs::path root(rootPath);
    readJsonLines((root / "emoji" / "manifest.jsonl").string(), notes, [&](const nlohmann::json &j) {
        if (j.at("style").get<std::string>() == style)
            out.emplace_back((root / "emoji" / j.at("path").get<std::string>()).string(), j.at("class").get<std::string>());
    });
    return out;
}

PairSet readPairs(const std::string &rootPath, const std::set<std::string> &excludeStyles, bool includeExtraPairs)
{
    PairSet set;
    const fs::path root(rootPath);
    const fs::path emoji = root / "emoji" / "manifest.jsonl", extra = root / "pairs" / "manifest.jsonl";
    std::error_code ec;
    const bool hasEmoji = fs::exists(emoji, ec), hasExtra = includeExtraPairs && fs::exists(extra, ec);
    if (!hasEmoji && !hasExtra)
        throw Error(rootPath + ": no emoji/manifest.jsonl or pairs/manifest.jsonl; build the demo data with "
                               "packaging/build-demo-data.sh");
    std::map<std::string, int64_t> perSource;
    if (hasEmoji) {
        readJsonLines(emoji.string(), set.notes, [&](const nlohmann::json &j) {
            const std::string style = j.at("style").get<std::string>();
            if (excludeStyles.count(style))
                return;
            const std::string name = j.at("class").get<std::string>();
            Pair p;
            p.path = (root / "emoji" / j.at("path").get<std::string>()).string();
            p.captions = emojiCaptions(name, j.value("category", ""), j.value("subcategory", ""),
                                       j.value("keywords", std::vector<std::string>{}));
            p.group = "emoji:" + name;
            set.styles.insert(style);
            set.pairs.push_back(std::move(p));
            ++perSource["emoji (" + style + ")"];
        });
    }
    if (hasExtra) {
        int64_t index = 0;
        readJsonLines(extra.string(), set.notes, [&](const nlohmann::json &j) {
            Pair p;
            p.path = (root / "pairs" / j.at("path").get<std::string>()).string();
            p.captions = j.value("captions", std::vector<std::string>{});
            const auto keywords = j.value("keywords", std::vector<std::string>{});
            if (!keywords.empty()) {
                std::string k;
                for (size_t i = 0; i < keywords.size() && i < 6; ++i)
                    k += (i ? ", " : "") + keywords[i];
                p.captions.push_back(k);
            }
            if (p.captions.empty())
                return;
            const std::string source = j.value("source", "pairs");
            p.group = source + ":" + std::to_string(index++);   // each picture its own positive
            set.pairs.push_back(std::move(p));
            ++perSource[source];
        });
    }
    for (const auto &[source, n] : perSource)
        set.notes.push_back(source + ": " + std::to_string(n) + " images");
    return set;
}

} // namespace sep::pretrain
