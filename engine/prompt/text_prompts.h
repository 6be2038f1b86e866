#pragma once
// Class prompts for the text tower: hand-crafted templates ("a photo of a {}.") encoded once by the
// frozen model, and learnable prompts "X X … X {name}." whose X embeddings are replaced by context
// vectors (CoOp, SEP).
//
//   at::Tensor t = sep::prompt::encodeTemplates(clip, names, "a photo of a {}.");   // [C, E], normalized
//   auto p = sep::prompt::LearnablePrompts::build(clip, names, 6, 13);
//   at::Tensor x = p.embed(clip, ctx);     // [C, length, width] with positions added, ready for block 0

#include "engine/clip/weights.h"

#include <string>
#include <vector>

namespace sep::prompt {

// "{}" replaced by the class name ('_' shown as ' '); a template without "{}" gets the name appended.
std::string fillTemplate(const std::string &templ, const std::string &className);

// Token ids [M, context] of the texts; sep::Error naming the text when one does not fit.
at::Tensor tokenize(clip::LoadedClip &clip, const std::vector<std::string> &texts);

// Frozen text features of the filled template for each class, normalized, computed in chunks of
// `chunk` classes without gradients: [C, E] on the model's device.
at::Tensor encodeTemplates(clip::LoadedClip &clip, const std::vector<std::string> &classNames, const std::string &templ,
                           int64_t chunk = 256);

// Context vectors initialised from words, as CoOp's and KgCoOp's "ctx_init": the frozen token
// embeddings of `words` ("a photo of a"), [tokens, width] on the model's device. nCtx 0 takes as
// many as the words are tokens; otherwise sep::Error when they are not exactly nCtx (the message
// gives their count).
at::Tensor contextFromWords(clip::LoadedClip &clip, const std::string &words, int64_t nCtx);

struct LearnablePrompts {
    at::Tensor ids;        // [C, length] "X X … X {name}." token ids, cut after the longest EOT
    at::Tensor eot;        // [C] EOT positions
    int64_t nCtx = 0;
    int64_t length = 0;    // positions computed: max(longest EOT + 1, minLength)
    at::Tensor prefix;     // [C, 1, width] frozen embedding of [SOT]
    at::Tensor suffix;     // [C, length − 1 − nCtx, width] frozen embeddings after the context

    // minLength: positions the method reads beyond the context (SEP: 1 + n_ctx + K).
    static LearnablePrompts build(clip::LoadedClip &clip, const std::vector<std::string> &classNames, int64_t nCtx,
                                  int64_t minLength = 0);
    // [SOT] + ctx (shared by all classes, [nCtx, width]) + suffix, plus positional embeddings.
    at::Tensor embed(clip::LoadedClip &clip, const at::Tensor &ctx) const;
    // Rows [begin, end) only (chunked encoding).
    LearnablePrompts rows(int64_t begin, int64_t end) const;
    int64_t size() const { return ids.defined() ? ids.size(0) : 0; }
};

} // namespace sep::prompt
