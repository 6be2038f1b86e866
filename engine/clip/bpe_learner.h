#pragma once
// Learning a byte-level BPE vocabulary from text, written as a merges file the CLIP tokenizer reads.
//
//   sep::clip::BpeLearner learner;
//   for (const auto &caption : captions) learner.add(caption);
//   auto merges = learner.learn(3582);                       // most frequent pair first
//   sep::clip::writeMergesFile("vocab.txt", merges);         // Tokenizer::fromMergesFile(path, 514 + 3582)
//
// Pieces are split and cleaned exactly as the tokenizer does, so the learned merges apply to the same
// symbols at encoding time. Ties between equally frequent pairs break by the pair's text, so the same
// corpus gives the same vocabulary everywhere. Torch-free; not thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sep::clip {

class BpeLearner {
public:
    void add(const std::string &text, int64_t count = 1);
    // Up to `merges` merges (fewer when no pair occurs twice any more).
    std::vector<std::pair<std::string, std::string>> learn(int64_t merges) const;
    int64_t distinctPieces() const { return static_cast<int64_t>(m_pieces.size()); }

private:
    std::map<std::string, int64_t> m_pieces;
};

// "#version: …" then one "left right" line per merge; atomic.
void writeMergesFile(const std::string &path, const std::vector<std::pair<std::string, std::string>> &merges,
                     const std::string &header = "#version: 0.2 learned by sep pretrain");

} // namespace sep::clip
