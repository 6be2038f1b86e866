#pragma once
// Image–text pairs for contrastive pretraining, read from the demo data's manifests:
//   <root>/emoji/manifest.jsonl   {"path", "class", "style", "category", "subcategory", "keywords"}
//   <root>/pairs/manifest.jsonl   {"path", "source", "captions", "keywords"}
// Emoji become captions from their names, categories and keywords through varied templates; styles
// held out for downstream tuning are never read, so "new" downstream images are new to the model.
//
//   auto set = sep::pretrain::readPairs("demo-data", {"openmoji", "twemoji"});
//   set.pairs[0].captions;   // {"a photo of a red apple.", "red apple emoji", …}
//
// Torch-free.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace sep::pretrain {

struct Pair {
    std::string path;                    // absolute
    std::vector<std::string> captions;   // one is drawn per step
    std::string group;                   // images of one group are positives of each other (the emoji class)
};

struct PairSet {
    std::vector<Pair> pairs;
    std::set<std::string> styles;        // emoji styles read
    std::vector<std::string> notes;      // counts per source, lines skipped with reasons
};

// Reads both manifests below `root`; emoji of `excludeStyles` are left out. Throws sep::Error naming
// the manifest when neither exists or a line is not valid JSON.
PairSet readPairs(const std::string &root, const std::set<std::string> &excludeStyles, bool includeExtraPairs = true);

// The emoji of one style with their class names (for zero-shot checks on a held-out style).
std::vector<std::pair<std::string, std::string>> readStyle(const std::string &root, const std::string &style);

// Captions for an emoji class: the downstream template among them ("a photo of a {}.") so that
// zero-shot prompts look like pretraining text.
std::vector<std::string> emojiCaptions(const std::string &name, const std::string &category,
                                       const std::string &subcategory, const std::vector<std::string> &keywords);

} // namespace sep::pretrain
