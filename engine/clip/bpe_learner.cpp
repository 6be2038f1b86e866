#include "engine/clip/bpe_learner.h"

#include "engine/clip/tokenizer.h"
#include "engine/core/files.h"

#include <queue>
#include <set>
#include <unordered_map>

namespace sep::clip {
namespace {

struct Word {
    std::vector<int32_t> symbols;
    int64_t count = 0;
};

} // namespace

void BpeLearner::add(const std::string &text, int64_t count)
{
    for (const auto &piece : Tokenizer::preTokenize(text))
        m_pieces[piece] += count;
}

std::vector<std::pair<std::string, std::string>> BpeLearner::learn(int64_t merges) const
{
    // Symbols are interned; words hold symbol ids.
    std::vector<std::string> symbolText;
    std::unordered_map<std::string, int32_t> symbolId;
    auto intern = [&](const std::string &s) {
        auto it = symbolId.find(s);
        if (it != symbolId.end())
            return it->second;
        symbolText.push_back(s);
        return symbolId[s] = static_cast<int32_t>(symbolText.size() - 1);
    };
    std::vector<Word> words;
    for (const auto &[piece, count] : m_pieces) {
        if (piece == "<|startoftext|>" || piece == "<|endoftext|>")
            continue;
        Word w;
        for (const auto &s : Tokenizer::initialSymbols(piece))
            w.symbols.push_back(intern(s));
        w.count = count;
        words.push_back(std::move(w));
    }

    using Pair = std::pair<int32_t, int32_t>;
    std::map<Pair, int64_t> counts;
    std::map<Pair, std::set<size_t>> where;   // pair → words containing it
    for (size_t wi = 0; wi < words.size(); ++wi)
        for (size_t i = 0; i + 1 < words[wi].symbols.size(); ++i) {
            const Pair p{words[wi].symbols[i], words[wi].symbols[i + 1]};
            counts[p] += words[wi].count;
            where[p].insert(wi);
        }

    std::vector<std::pair<std::string, std::string>> out;
    while (static_cast<int64_t>(out.size()) < merges) {
        // The most frequent pair; ties by text so the result does not depend on interning order.
        const std::pair<const Pair, int64_t> *best = nullptr;
        for (const auto &entry : counts) {
            if (entry.second < 2)
                continue;
            if (!best || entry.second > best->second
                || (entry.second == best->second
                    && std::tie(symbolText[entry.first.first], symbolText[entry.first.second])
                           < std::tie(symbolText[best->first.first], symbolText[best->first.second])))
                best = &entry;
        }
        if (!best)
            break;
        const Pair pair = best->first;
        out.emplace_back(symbolText[pair.first], symbolText[pair.second]);
        const int32_t merged = intern(symbolText[pair.first] + symbolText[pair.second]);
        const auto affected = where[pair];
        for (size_t wi : affected) {
            Word &w = words[wi];
            // Remove this word's pair counts, merge left to right, add them back.
            for (size_t i = 0; i + 1 < w.symbols.size(); ++i) {
                const Pair p{w.symbols[i], w.symbols[i + 1]};
                if ((counts[p] -= w.count) <= 0)
                    counts.erase(p);
                where[p].erase(wi);
            }
            std::vector<int32_t> next;
            for (size_t i = 0; i < w.symbols.size(); ++i) {
                if (i + 1 < w.symbols.size() && w.symbols[i] == pair.first && w.symbols[i + 1] == pair.second) {
                    next.push_back(merged);
                    ++i;
                } else {
                    next.push_back(w.symbols[i]);
                }
            }
            w.symbols.swap(next);
            for (size_t i = 0; i + 1 < w.symbols.size(); ++i) {
                const Pair p{w.symbols[i], w.symbols[i + 1]};
                counts[p] += w.count;
                where[p].insert(wi);
            }
        }
        counts.erase(pair);
        where.erase(pair);
    }
    return out;
}

void writeMergesFile(const std::string &path, const std::vector<std::pair<std::string, std::string>> &merges,
                     const std::string &header)
{
    std::string text = header + "\n";
    for (const auto &[a, b] : merges)
        text += a + " " + b + "\n";
    writeFileAtomic(path, text);
}

} // namespace sep::clip
