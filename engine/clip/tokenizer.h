#pragma once
// CLIP's byte-level BPE tokenizer, byte for byte as the reference computes it.
//
//   sep::clip::Tokenizer tok = sep::clip::Tokenizer::fromFile("bpe_simple_vocab_16e6.txt.gz", 49408);
//   std::vector<int64_t> ids = tok.encode("a photo of a cat.", 77);   // [SOT] … [EOT], padded with 0
//   std::string piece = tok.decodePiece(ids[1]);                       // "a "
//
// The vocabulary comes either from a merges file (CLIP's `.txt.gz` or plain text: a header line, then
// one merge per line) or from Hugging Face's `vocab.json` + `merges.txt`. With a merges file the ids are
// laid out as CLIP does: 256 byte symbols, the same 256 with "</w>", one symbol per merge, then
// <|startoftext|> and <|endoftext|>. The number of merges used is vocabSize − 514, so the model's
// token-embedding size decides it (CLIP's file holds more merges than CLIP uses).
//
// A Tokenizer is immutable after construction except for an internal BPE cache; encode() is not
// thread-safe on one instance (give each thread its own copy).

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace sep::clip {

class Tokenizer {
public:
    // Reads a merges file (gzip or plain). vocabSize = token-embedding rows of the model; throws
    // sep::Error naming the file when it is missing, unreadable, or holds too few merges.
    static Tokenizer fromMergesFile(const std::string &path, int64_t vocabSize);
    // Reads Hugging Face's vocab.json + merges.txt.
    static Tokenizer fromHuggingFace(const std::string &vocabJsonPath, const std::string &mergesPath);
    // Chooses by name: a directory or a vocab.json → Hugging Face pair (merges.txt beside it);
    // anything else → merges file.
    static Tokenizer fromFile(const std::string &path, int64_t vocabSize);

    // Finds the vocabulary beside a weights file: bpe_simple_vocab_16e6.txt.gz, any *.txt.gz,
    // vocab.json + merges.txt, or merges.txt. Returns "" when none is there.
    static std::string findBeside(const std::string &weightsPath);

    // [SOT] + BPE ids of the cleaned text + [EOT], padded with 0 to contextLength. When the ids do not
    // fit: throws sep::Error quoting the start of the text, unless truncate is set, in which case the
    // sequence is cut and its last id becomes EOT.
    std::vector<int64_t> encode(const std::string &text, int64_t contextLength, bool truncate = false) const;
    // BPE ids of the cleaned text alone (no SOT/EOT, no padding).
    std::vector<int64_t> encodeIds(const std::string &text) const;

    // The text one id stands for: bytes decoded, "</w>" shown as a trailing space. Special tokens
    // decode to their names; ids outside the vocabulary throw.
    std::string decodePiece(int64_t id) const;
    std::string decode(const std::vector<int64_t> &ids) const;   // pieces joined, specials and 0-padding skipped

    int64_t vocabSize() const;
    int64_t sotId() const;
    int64_t eotId() const;

    // CLIP's text cleaning on its own (ftfy-like repair, HTML unescape twice, whitespace collapsed,
    // Unicode lowercase with special casing). Exposed for tests and for showing what was tokenized.
    static std::string clean(const std::string &text);

    // The pieces BPE works on: the cleaned text split as the reference splits it (special tokens,
    // contractions, letter runs, single digits, other runs). For learning a vocabulary.
    static std::vector<std::string> preTokenize(const std::string &text);
    // A piece as BPE starts from it: one stand-in symbol per UTF-8 byte, "</w>" on the last. Merges
    // files are written in these symbols.
    static std::vector<std::string> initialSymbols(const std::string &piece);

    Tokenizer(Tokenizer &&) noexcept;
    Tokenizer &operator=(Tokenizer &&) noexcept;
    Tokenizer(const Tokenizer &);
    Tokenizer &operator=(const Tokenizer &);
    ~Tokenizer();

private:
    struct Data;
    explicit Tokenizer(std::shared_ptr<Data> data);
    std::shared_ptr<Data> m_data;              // shared, immutable vocabulary
    mutable std::unordered_map<std::string, std::vector<int64_t>> m_cache;   // per-instance BPE cache
};

} // namespace sep::clip
