// Loading a vocabulary: CLIP's merges file (plain or gzip) and Hugging Face's vocab.json + merges.txt,
// then encoding a fixed sentence with what was loaded.
//
// Input layout: byte 0 chooses the form (even: merges file, odd: Hugging Face pair) and byte 1 the
// vocabulary size asked of a merges file (512 + 4 × byte, so sizes below CLIP's minimum of 514 occur).
// A Hugging Face input is split at its first NUL byte: vocab.json before it, merges.txt after it.

#include "engine/clip/tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

#include <algorithm>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sep::fuzz::Scratch scratch;
    if (size < 2)
        return 0;
    const bool huggingFace = data[0] & 1;
    const int64_t vocabSize = 512 + 4 * int64_t(data[1]);
    const uint8_t *body = data + 2;
    const size_t bodySize = size - 2;

    sep::fuzz::expectSepError([&] {
        sep::clip::Tokenizer tok = [&] {
            if (!huggingFace)
                return sep::clip::Tokenizer::fromMergesFile(scratch.write("vocab.txt", body, bodySize), vocabSize);
            const uint8_t *nul = std::find(body, body + bodySize, uint8_t(0));
            const std::string vocab = scratch.write("vocab.json", body, size_t(nul - body));
            const size_t rest = nul == body + bodySize ? 0 : size_t(body + bodySize - nul - 1);
            const std::string merges = scratch.write("merges.txt", nul + (rest ? 1 : 0), rest);
            return sep::clip::Tokenizer::fromHuggingFace(vocab, merges);
        }();
        const auto ids = tok.encode("A photo of a dog, 3 cats & l'été — 🐈!", 77, true);
        (void)tok.decode(ids);
        (void)tok.decodePiece(tok.vocabSize() - 1);
    });
    return 0;
}
