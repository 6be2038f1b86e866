// CLIP's text cleaning and BPE on arbitrary bytes (class names and templates come from folder names,
// classnames.txt and the command line), with the public CLIP vocabulary.

#include "engine/clip/tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

#include <cstdio>
#include <cstdlib>

namespace {

const sep::clip::Tokenizer &tokenizer()
{
    static const sep::clip::Tokenizer tok = [] {
        try {
            return sep::clip::Tokenizer::fromMergesFile(SEP_FUZZ_VOCAB, 49408);
        } catch (const sep::Error &e) {
            std::fprintf(stderr, "%s\n(set SEP_FUZZ_VOCAB when configuring)\n", e.what());
            std::abort();
        }
    }();
    return tok;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string text(reinterpret_cast<const char *>(data), size);
    // A copy per input: the BPE cache would otherwise grow with every input and hide per-input work.
    sep::clip::Tokenizer tok = tokenizer();
    sep::fuzz::expectSepError([&] { (void)sep::clip::Tokenizer::preTokenize(text); });
    sep::fuzz::expectSepError([&] {
        const auto ids = tok.encode(text, 77, true);
        (void)tok.decode(ids);
    });
    sep::fuzz::expectSepError([&] { (void)tok.encode(text, 77, false); });
    sep::fuzz::expectSepError([&] {
        for (int64_t id : tok.encodeIds(text))
            (void)tok.decodePiece(id);
    });
    return 0;
}
