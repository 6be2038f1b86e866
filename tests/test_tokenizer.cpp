// Tests of CLIP's BPE tokenizer.
//
// Two vocabularies: the public CLIP merges file (reference vectors from the spec), and a tiny merges
// file written here, whose ids are worked out by hand from the layout:
//   printable ASCII byte b -> id b − 33; the same with "</w>" -> b + 223;
//   bytes 161–172 -> 94 + (b − 161), bytes 174–255 -> 106 + (b − 174);
//   bytes 0–32 -> 188 + b, bytes 127–160 -> 221 + (b − 127), byte 173 -> 255; "</w>" adds 256.
// A few ASCII ids used below:  a 64/320  b 65/321  c 66/322  e 68/324  h 71/327  i 72/328  l 75/331
//   m 76/332  o 78/334  s 82/338  t 83/339  w 86/342  x 87/343  ! 0/256  ' 6/262  . 13/269  ? 30/286
//   0 15/271  1 16/272  2 17/273  4 19/275  < 27/283  > 29/285  | 91/347    (plain / with "</w>")

#include "engine/clip/tokenizer.h"
#include "engine/core/error.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <functional>
#include <optional>

using sep::clip::Tokenizer;

namespace {

// Merges of the tiny vocabulary, rank by rank; merge k gets id 512 + k.
//   512 "he"  513 "ll"  514 "hell"  515 "hello</w>"  516 "lo</w>"  517 "aba"  518 "ab"  519 "aa"
// With 8 merges the vocabulary has 514 + 8 = 522 ids: SOT 520, EOT 521.
// "ab a" is ranked before "a b" on purpose: a word can then tell merging every occurrence of a pair
// at once from merging one occurrence at a time.
const char *const kTinyMerges[] = {"h e", "l l", "he ll", "hell o</w>", "l o</w>", "ab a", "a b", "a a"};
constexpr int64_t kTinyVocab = 522;

QByteArray idsText(const std::vector<int64_t> &ids)
{
    QByteArray out;
    for (int64_t id : ids) {
        if (!out.isEmpty())
            out += ' ';
        out += QByteArray::number(qint64(id));
    }
    return out;
}

// The sep::Error message fn throws, or "" when it throws nothing.
std::string errorOf(const std::function<void()> &fn)
{
    try {
        fn();
    } catch (const sep::Error &e) {
        return e.what();
    }
    return {};
}

bool writeFile(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
}

// The stand-in character of each byte, in id order, as the spec defines the layout.
QList<QString> byteSymbolsInIdOrder()
{
    auto itself = [](int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); };
    QList<QString> symbols;
    for (int b = 0; b < 256; ++b) {
        if (itself(b))
            symbols.append(QString(QChar(b)));
    }
    int n = 0;
    for (int b = 0; b < 256; ++b) {
        if (!itself(b))
            symbols.append(QString(QChar(0x100 + n++)));
    }
    return symbols;
}

// vocab.json for the tiny vocabulary, every id shifted by `shift` (mod the size).
QByteArray tinyVocabJson(int shift)
{
    const QList<QString> bytes = byteSymbolsInIdOrder();
    QList<QString> tokens = bytes;
    for (const QString &s : bytes)
        tokens.append(s + QStringLiteral("</w>"));
    for (const char *merge : kTinyMerges)
        tokens.append(QString::fromLatin1(merge).remove(QLatin1Char(' ')));
    tokens.append(QStringLiteral("<|startoftext|>"));
    tokens.append(QStringLiteral("<|endoftext|>"));
    QJsonObject obj;
    for (int id = 0; id < tokens.size(); ++id)
        obj.insert(tokens[id], (id + shift) % int(tokens.size()));
    return QJsonDocument(obj).toJson(QJsonDocument::Compact);
}

QByteArray tinyMergesText(const QByteArray &header)
{
    QByteArray text = header + '\n';
    for (const char *merge : kTinyMerges)
        text += QByteArray(merge) + '\n';
    return text;
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::string m_tinyPath;
    std::optional<Tokenizer> m_tiny;
    std::optional<Tokenizer> m_real;

    std::string path(const QString &name) const { return m_dir.filePath(name).toStdString(); }

    const Tokenizer &real()
    {
        return *m_real;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(writeFile(m_dir.filePath(QStringLiteral("tiny.txt")), tinyMergesText("#version: tiny")));
        m_tinyPath = path(QStringLiteral("tiny.txt"));
        m_tiny.emplace(Tokenizer::fromMergesFile(m_tinyPath, kTinyVocab));
        if (QFile::exists(QStringLiteral(SEP_TEST_VOCAB)))
            m_real.emplace(Tokenizer::fromFile(SEP_TEST_VOCAB, 49408));
    }

    // ----- the public CLIP vocabulary -------------------------------------------------------------

    void realLayout()
    {
        if (!m_real)
            QSKIP("CLIP vocabulary not found at " SEP_TEST_VOCAB " (set SEP_TEST_VOCAB to bpe_simple_vocab_16e6.txt.gz)");
        QCOMPARE(real().vocabSize(), int64_t(49408));
        QCOMPARE(real().sotId(), int64_t(49406));
        QCOMPARE(real().eotId(), int64_t(49407));
        QCOMPARE(real().decodePiece(64), std::string("a"));
        QCOMPARE(real().decodePiece(320), std::string("a "));
        QCOMPARE(idsText(real().encodeIds("a")), QByteArray("320"));
        QCOMPARE(real().decodePiece(49406), std::string("<|startoftext|>"));
        QCOMPARE(real().decodePiece(49407), std::string("<|endoftext|>"));
    }

    void realReferenceVectors_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("a photo of a") << QByteArray("a photo of a") << QByteArray("49406 320 1125 539 320 49407");
        QTest::newRow("a photo of a cat.") << QByteArray("a photo of a cat.")
                                           << QByteArray("49406 320 1125 539 320 2368 269 49407");
        QTest::newRow("SEP prompt") << QByteArray("X X X X X X  cat.")
                                    << QByteArray("49406 343 343 343 343 343 343 2368 269 49407");
        QTest::newRow("dotted capital I") << QByteArray("İstanbul") << QByteArray("49406 328 16384 11231 49407");
    }

    void realReferenceVectors()
    {
        if (!m_real)
            QSKIP("CLIP vocabulary not found at " SEP_TEST_VOCAB);
        QFETCH(QByteArray, text);
        QFETCH(QByteArray, expected);
        const std::vector<int64_t> ids = real().encode(text.toStdString(), 77);
        QCOMPARE(ids.size(), size_t(77));
        const auto used = long(expected.count(' ') + 1);
        QCOMPARE(idsText(std::vector<int64_t>(ids.begin(), ids.begin() + used)), expected);
        QVERIFY(std::all_of(ids.begin() + used, ids.end(), [](int64_t id) { return id == 0; }));
    }

    void realPadding()
    {
        if (!m_real)
            QSKIP("CLIP vocabulary not found at " SEP_TEST_VOCAB);
        const std::vector<int64_t> ids = real().encode("a photo of a", 77);
        QCOMPARE(ids.size(), size_t(77));
        QCOMPARE(ids[5], int64_t(49407));
        for (size_t i = 6; i < ids.size(); ++i)
            QCOMPARE(ids[i], int64_t(0));
    }

    // Texts that cleaning must make identical, compared through the real vocabulary.
    void realCleaningEquivalence_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QByteArray>("same");
        QTest::newRow("entity") << QByteArray("caf&eacute; &amp; bar") << QByteArray("café & bar");
        QTest::newRow("ligature") << QByteArray("ﬁne ﬂour") << QByteArray("fine flour");
        QTest::newRow("curly quotes") << QByteArray("“it’s”") << QByteArray("\"it's\"");
        QTest::newRow("full width") << QByteArray("ＣＡＴ") << QByteArray("cat");
        QTest::newRow("case and spaces") << QByteArray("  A   Photo\tOF a\n") << QByteArray("a photo of a");
        QTest::newRow("decomposed") << QByteArray("cafe\xCC\x81") << QByteArray("caf\xC3\xA9");
    }

    void realCleaningEquivalence()
    {
        if (!m_real)
            QSKIP("CLIP vocabulary not found at " SEP_TEST_VOCAB);
        QFETCH(QByteArray, text);
        QFETCH(QByteArray, same);
        QCOMPARE(idsText(real().encodeIds(text.toStdString())), idsText(real().encodeIds(same.toStdString())));
    }

    void realOverlongAndTruncation()
    {
        if (!m_real)
            QSKIP("CLIP vocabulary not found at " SEP_TEST_VOCAB);
        QByteArray text;
        for (int i = 0; i < 80; ++i)
            text += "a ";
        const std::string message = errorOf([&] { real().encode(text.toStdString(), 77); });
        QVERIFY2(message.find("needs 82 tokens") != std::string::npos, message.c_str());
        QVERIFY2(message.find("holds 77") != std::string::npos, message.c_str());

        const std::vector<int64_t> ids = real().encode(text.toStdString(), 77, true);
        QCOMPARE(ids.size(), size_t(77));
        QCOMPARE(ids.front(), int64_t(49406));
        QCOMPARE(ids.back(), int64_t(49407));
        for (size_t i = 1; i + 1 < ids.size(); ++i)
            QCOMPARE(ids[i], int64_t(320));
    }

    void realDecode()
    {
        if (!m_real)
            QSKIP("CLIP vocabulary not found at " SEP_TEST_VOCAB);
        // Each pre-token's pieces join back to its bytes, then one space.
        QCOMPARE(real().decode(real().encode("A photo of a cat.", 77)), std::string("a photo of a cat . "));
        QCOMPARE(real().decode(real().encode("猫 🐱", 77)), std::string("猫 🐱 "));
    }

    // ----- the tiny vocabulary: ids worked out by hand ------------------------------------------

    void tinyLayout()
    {
        const Tokenizer &tok = *m_tiny;
        QCOMPARE(tok.vocabSize(), kTinyVocab);
        QCOMPARE(tok.sotId(), int64_t(520));
        QCOMPARE(tok.eotId(), int64_t(521));
        QCOMPARE(tok.decodePiece(0), std::string("!"));
        QCOMPARE(tok.decodePiece(93), std::string("~"));
        QCOMPARE(tok.decodePiece(94), std::string("\xA1"));      // byte 161
        QCOMPARE(tok.decodePiece(187), std::string("\xFF"));     // byte 255
        QCOMPARE(tok.decodePiece(188), std::string(1, '\0'));    // byte 0, first of the shifted ones
        QCOMPARE(tok.decodePiece(220), std::string(" "));        // byte 32
        QCOMPARE(tok.decodePiece(255), std::string("\xAD"));     // byte 173, the last one
        QCOMPARE(tok.decodePiece(476), std::string("  "));       // byte 32 with "</w>"
        QCOMPARE(tok.decodePiece(512), std::string("he"));
        QCOMPARE(tok.decodePiece(515), std::string("hello "));
        QCOMPARE(tok.decodePiece(520), std::string("<|startoftext|>"));
        QVERIFY(!errorOf([&] { tok.decodePiece(522); }).empty());
        QVERIFY(!errorOf([&] { tok.decodePiece(-1); }).empty());
    }

    void tinyBpe_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QByteArray>("expected");
        // h e l l o</w> -> he l l o</w> -> he ll o</w> -> hell o</w> -> hello</w>
        QTest::newRow("hello") << QByteArray("hello") << QByteArray("515");
        // "h e" joins h and e, not h and e</w>
        QTest::newRow("he") << QByteArray("he") << QByteArray("71 324");
        // l l (rank 1) goes before l o</w> (rank 4), though both are present
        QTest::newRow("lowest rank first") << QByteArray("llo") << QByteArray("513 334");
        QTest::newRow("lo") << QByteArray("lo") << QByteArray("516");
        // l l l o</w>: pairs taken left to right without overlap -> ll l o</w> -> ll lo</w>
        QTest::newRow("left to right") << QByteArray("lllo") << QByteArray("513 516");
        // a b a b c</w>: both "a b" merge in one step -> ab ab c</w>; one at a time would reach
        // ab a b c</w>, where "ab a" (rank 5) outranks "a b" and gives aba b c</w>
        QTest::newRow("all occurrences") << QByteArray("ababc") << QByteArray("518 518 322");
        // a b a b</w> -> ab a b</w> -> then "ab a" fires: aba b</w>
        QTest::newRow("later merge") << QByteArray("abab") << QByteArray("517 321");
        QTest::newRow("aaa") << QByteArray("aaa") << QByteArray("519 320");
        QTest::newRow("aaaaa") << QByteArray("aaaaa") << QByteArray("519 519 320");
        // h e l l o h e l l o</w> -> … -> hell o hell o</w> -> hell o hello</w>
        QTest::newRow("hellohello") << QByteArray("hellohello") << QByteArray("514 78 515");
        QTest::newRow("two words") << QByteArray("hello llo") << QByteArray("515 513 334");
        QTest::newRow("empty") << QByteArray("") << QByteArray("");
        QTest::newRow("only spaces") << QByteArray(" \t\n ") << QByteArray("");
    }

    void tinyBpe()
    {
        QFETCH(QByteArray, text);
        QFETCH(QByteArray, expected);
        QCOMPARE(idsText(m_tiny->encodeIds(text.toStdString())), expected);
        // A second pass comes from the cache and must agree.
        QCOMPARE(idsText(m_tiny->encodeIds(text.toStdString())), expected);
    }

    void preSplit_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("it's") << QByteArray("it's") << QByteArray("72 339 6 338");            // it | 's
        QTest::newRow("IT'S") << QByteArray("IT'S") << QByteArray("72 339 6 338");
        QTest::newRow("we'll") << QByteArray("we'll") << QByteArray("86 324 6 75 331");        // we | 'll
        QTest::newRow("'sam") << QByteArray("'sam") << QByteArray("6 338 64 332");             // 's | am
        QTest::newRow("lone apostrophe") << QByteArray("'x") << QByteArray("262 343");         // ' | x
        QTest::newRow("digits one by one") << QByteArray("2024") << QByteArray("273 271 273 275");
        QTest::newRow("digit splits letters") << QByteArray("a1b") << QByteArray("320 272 321");
        QTest::newRow("punctuation run") << QByteArray("wow!!?") << QByteArray("86 78 342 0 0 286");
        QTest::newRow("period") << QByteArray("a.b") << QByteArray("320 269 321");
        QTest::newRow("whitespace") << QByteArray("a  b\t\nc") << QByteArray("320 321 322");
        // α β γ = CE B1, CE B2, CE B3
        QTest::newRow("greek") << QByteArray("αβγ") << QByteArray("138 109 138 110 138 367");
        // one letter run across scripts, so "a b" still merges
        QTest::newRow("latin+greek") << QByteArray("abγ") << QByteArray("518 138 367");
        // к о т = D0 BA, D0 BE, D1 82
        QTest::newRow("cyrillic") << QByteArray("кот") << QByteArray("140 118 140 122 141 480");
        // 猫 = E7 8C AB
        QTest::newRow("cjk") << QByteArray("猫") << QByteArray("163 234 360");
        // 🐱 = F0 9F 90 B1, not a letter: its own run
        QTest::newRow("emoji") << QByteArray("cat🐱") << QByteArray("66 64 339 172 253 238 365");
        QTest::newRow("eot literal") << QByteArray("a<|endoftext|>") << QByteArray("320 521");
        QTest::newRow("sot literal") << QByteArray("<|STARTOFTEXT|>a") << QByteArray("520 320");
        // the punctuation run starting at '.' swallows "<|", so no special token is seen
        QTest::newRow("special inside run") << QByteArray(".<|endoftext|>")
                                            << QByteArray("13 27 347 68 77 67 78 69 83 68 87 339 91 285");
        // İ lowercases to i + U+0307 (CC 87); the mark is neither letter nor number
        QTest::newRow("dotted I") << QByteArray("İ") << QByteArray("328 136 485");
    }

    void preSplit()
    {
        QFETCH(QByteArray, text);
        QFETCH(QByteArray, expected);
        QCOMPARE(idsText(m_tiny->encodeIds(text.toStdString())), expected);
    }

    void clean_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("entity twice") << QByteArray("&amp;amp;") << QByteArray("&");
        // ftfy decodes entities until none is left (one pass plus the two html.unescape passes would
        // stop at "&amp;"), unless a line holds '<'; then only the two html.unescape passes apply
        QTest::newRow("entity four times") << QByteArray("&amp;amp;amp;amp;") << QByteArray("&");
        QTest::newRow("entities beside a tag") << QByteArray("<b>&amp;amp;amp;</b>") << QByteArray("<b>&amp;</b>");
        QTest::newRow("named and numeric") << QByteArray("Caf&eacute; &#233;t&#xE9; &lt;3 &quot;x&quot; &apos;")
                                           << QByteArray("café été <3 \"x\" '");
        QTest::newRow("all-caps entity") << QByteArray("P&EACUTE;REZ") << QByteArray("pérez");
        QTest::newRow("legacy entity") << QByteArray("&copy2020") << QByteArray("©2020");
        QTest::newRow("unknown entity") << QByteArray("&bogus; AT&T") << QByteArray("&bogus; at&t");
        QTest::newRow("nbsp") << QByteArray("a&nbsp;b") << QByteArray("a b");
        QTest::newRow("whitespace") << QByteArray("  many   spaces\t\n here \xE2\x80\x83 ") << QByteArray("many spaces here");
        QTest::newRow("nfc") << QByteArray("e\xCC\x81") << QByteArray("\xC3\xA9");
        QTest::newRow("curly quotes") << QByteArray("“quoted” ‘it’s’ „low‟") << QByteArray("\"quoted\" 'it's' \"low\"");
        QTest::newRow("ligatures") << QByteArray("ﬁne ﬂour ﬀ") << QByteArray("fine flour ff");
        QTest::newRow("full width") << QByteArray("ＡＢＣ　１２３！") << QByteArray("abc 123!");
        QTest::newRow("final sigma") << QByteArray("ΟΔΟΣ ΣΑΣ") << QByteArray("οδος σας");
        QTest::newRow("lone sigma") << QByteArray("Σ") << QByteArray("σ");
        // '.' is case-ignorable: a cased letter after it keeps Σ medial
        QTest::newRow("sigma before period") << QByteArray("ΑΣ.Β") << QByteArray("ασ.β");
        QTest::newRow("dotted capital I") << QByteArray("İstanbul") << QByteArray("i\xCC\x87stanbul");
        QTest::newRow("lowercase") << QByteArray("HELLO World ÀÉ") << QByteArray("hello world àé");
        QTest::newRow("C1 as Windows-1252") << QByteArray("wait\xC2\x85") << QByteArray("wait…");
        QTest::newRow("control characters") << QByteArray("a\x01" "b\x7F" "c") << QByteArray("abc");
        QTest::newRow("terminal escapes") << QByteArray("\x1B[31mred\x1B[0m") << QByteArray("red");
        QTest::newRow("empty") << QByteArray("") << QByteArray("");
    }

    void clean()
    {
        QFETCH(QByteArray, text);
        QFETCH(QByteArray, expected);
        QCOMPARE(QByteArray::fromStdString(Tokenizer::clean(text.toStdString())), expected);
    }

    void contextLength()
    {
        const Tokenizer &tok = *m_tiny;
        QCOMPARE(idsText(tok.encode("hello", 6)), QByteArray("520 515 521 0 0 0"));
        QCOMPARE(idsText(tok.encode("a a a", 5)), QByteArray("520 320 320 320 521"));   // fits exactly

        const std::string message = errorOf([&] { tok.encode("a a a a a", 5); });
        QVERIFY2(message.find("\"a a a a a\"") != std::string::npos, message.c_str());
        QVERIFY2(message.find("needs 7 tokens") != std::string::npos, message.c_str());
        QVERIFY2(message.find("holds 5") != std::string::npos, message.c_str());

        const std::vector<int64_t> cut = tok.encode("a a a a a", 5, true);
        QCOMPARE(idsText(cut), QByteArray("520 320 320 320 521"));

        // Only the start of a long text is quoted.
        std::string longText;
        for (int i = 0; i < 30; ++i)
            longText += "hello ";
        const std::string longMessage = errorOf([&] { tok.encode(longText, 10); });
        QVERIFY2(longMessage.find(longText.substr(0, 40)) != std::string::npos, longMessage.c_str());
        QVERIFY2(longMessage.find(longText.substr(0, 60)) == std::string::npos, longMessage.c_str());
    }

    void decode()
    {
        const Tokenizer &tok = *m_tiny;
        QCOMPARE(tok.decode(tok.encode("Hello, lo 2024!", 20)), std::string("hello , lo 2 0 2 4 ! "));
        // Pieces of one character rejoin.
        QCOMPARE(tok.decode(tok.encodeIds("猫")), std::string("猫 "));
    }

    void copiesAgree()
    {
        Tokenizer copy = *m_tiny;
        QCOMPARE(idsText(copy.encodeIds("hello abab")), idsText(m_tiny->encodeIds("hello abab")));
        Tokenizer moved = std::move(copy);
        QCOMPARE(idsText(moved.encodeIds("hello abab")), QByteArray("515 517 321"));
    }

    // ----- Hugging Face's vocab.json + merges.txt -----------------------------------------------

    void huggingFaceSameIds()
    {
        const QString dir = m_dir.filePath(QStringLiteral("hf"));
        QVERIFY(QDir().mkpath(dir));
        QVERIFY(writeFile(dir + QStringLiteral("/vocab.json"), tinyVocabJson(0)));
        QVERIFY(writeFile(dir + QStringLiteral("/merges.txt"), tinyMergesText("#version: 0.2")));

        const Tokenizer hf = Tokenizer::fromFile((dir + QStringLiteral("/vocab.json")).toStdString(), kTinyVocab);
        const Tokenizer viaDir = Tokenizer::fromFile(dir.toStdString(), kTinyVocab);
        QCOMPARE(hf.vocabSize(), kTinyVocab);
        QCOMPARE(hf.sotId(), int64_t(520));
        QCOMPARE(hf.eotId(), int64_t(521));
        for (const char *text : {"hello", "he", "llo", "lllo", "ababc", "abab", "aaaaa", "it's 2024!", "猫 🐱", "İ"}) {
            QCOMPARE(idsText(hf.encodeIds(text)), idsText(m_tiny->encodeIds(text)));
            QCOMPARE(idsText(viaDir.encodeIds(text)), idsText(m_tiny->encodeIds(text)));
        }
        QCOMPARE(hf.decodePiece(515), std::string("hello "));
    }

    void huggingFaceIdsFromJson()
    {
        // Every id moved by 7: the ids must come from vocab.json, not from the layout.
        const QString dir = m_dir.filePath(QStringLiteral("hf-shifted"));
        QVERIFY(QDir().mkpath(dir));
        QVERIFY(writeFile(dir + QStringLiteral("/vocab.json"), tinyVocabJson(7)));
        QVERIFY(writeFile(dir + QStringLiteral("/merges.txt"), tinyMergesText("#version: 0.2")));
        const Tokenizer hf = Tokenizer::fromHuggingFace((dir + QStringLiteral("/vocab.json")).toStdString(),
                                                        (dir + QStringLiteral("/merges.txt")).toStdString());
        QCOMPARE(hf.sotId(), int64_t(5));                                // (520 + 7) mod 522
        QCOMPARE(hf.eotId(), int64_t(6));
        QCOMPARE(idsText(hf.encodeIds("hello")), QByteArray("0"));       // 515 + 7 = 522 -> 0
        QCOMPARE(idsText(hf.encodeIds("he")), QByteArray("78 331"));     // 71 + 7, 324 + 7
        QCOMPARE(idsText(hf.encode("hello", 4)), QByteArray("5 0 6 0"));
    }

    // ----- errors -----------------------------------------------------------------------------

    void missingFile()
    {
        const std::string missing = path(QStringLiteral("nowhere/bpe.txt.gz"));
        const std::string message = errorOf([&] { Tokenizer::fromFile(missing, 49408); });
        QVERIFY2(message.find(missing) != std::string::npos, message.c_str());
        const std::string missingJson = path(QStringLiteral("nowhere/vocab.json"));
        const std::string jsonMessage = errorOf([&] { Tokenizer::fromFile(missingJson, 49408); });
        QVERIFY2(jsonMessage.find(missingJson) != std::string::npos, jsonMessage.c_str());
    }

    void tooFewMerges()
    {
        const std::string message = errorOf([&] { Tokenizer::fromMergesFile(m_tinyPath, 49408); });
        QVERIFY2(message.find(m_tinyPath) != std::string::npos, message.c_str());
        QVERIFY2(message.find("holds 8 merges") != std::string::npos, message.c_str());
        QVERIFY2(message.find("48894") != std::string::npos, message.c_str());
        // One fewer than the file holds is fine: the model decides how many are used.
        const Tokenizer fewer = Tokenizer::fromMergesFile(m_tinyPath, kTinyVocab - 1);
        QCOMPARE(fewer.eotId(), kTinyVocab - 2);
        QVERIFY(!errorOf([&] { Tokenizer::fromMergesFile(m_tinyPath, 100); }).empty());
    }

    void malformedFiles()
    {
        const QString badMerges = m_dir.filePath(QStringLiteral("bad.txt"));
        QVERIFY(writeFile(badMerges, "#version\nh e\nl l x\n"));
        const std::string message = errorOf([&] { Tokenizer::fromMergesFile(badMerges.toStdString(), 516); });
        QVERIFY2(message.find(badMerges.toStdString()) != std::string::npos, message.c_str());
        QVERIFY2(message.find("line 3") != std::string::npos, message.c_str());

        const QString dir = m_dir.filePath(QStringLiteral("hf-bad"));
        QVERIFY(QDir().mkpath(dir));
        const QString vocab = dir + QStringLiteral("/vocab.json");
        const QString merges = dir + QStringLiteral("/merges.txt");
        QVERIFY(writeFile(vocab, "{ not json"));
        QVERIFY(writeFile(merges, tinyMergesText("#version: 0.2")));
        std::string jsonMessage = errorOf([&] { Tokenizer::fromHuggingFace(vocab.toStdString(), merges.toStdString()); });
        QVERIFY2(jsonMessage.find(vocab.toStdString()) != std::string::npos, jsonMessage.c_str());

        QByteArray noEot = tinyVocabJson(0);
        noEot.replace("<|endoftext|>", "<|other|>");
        QVERIFY(writeFile(vocab, noEot));
        jsonMessage = errorOf([&] { Tokenizer::fromHuggingFace(vocab.toStdString(), merges.toStdString()); });
        QVERIFY2(jsonMessage.find("<|endoftext|>") != std::string::npos, jsonMessage.c_str());

        QVERIFY(writeFile(vocab, tinyVocabJson(0)));
        QVERIFY(writeFile(merges, "#version: 0.2\nh e\nq z\n"));   // "qz" is not in the vocabulary
        const std::string mergesMessage =
            errorOf([&] { Tokenizer::fromHuggingFace(vocab.toStdString(), merges.toStdString()); });
        QVERIFY2(mergesMessage.find(merges.toStdString()) != std::string::npos, mergesMessage.c_str());
        QVERIFY2(mergesMessage.find("line 3") != std::string::npos, mergesMessage.c_str());

        // More tokens than the model's embedding has rows.
        QVERIFY(writeFile(merges, tinyMergesText("#version: 0.2")));
        QVERIFY(!errorOf([&] { Tokenizer::fromFile(vocab.toStdString(), 500); }).empty());
    }

    // ----- finding the vocabulary beside the weights --------------------------------------------

    void findBeside()
    {
        const QString dir = m_dir.filePath(QStringLiteral("weights"));
        QVERIFY(QDir().mkpath(dir));
        const QString weights = dir + QStringLiteral("/ViT-B-16.pt");
        QVERIFY(writeFile(weights, "w"));
        QCOMPARE(Tokenizer::findBeside(weights.toStdString()), std::string());

        QVERIFY(writeFile(dir + QStringLiteral("/merges.txt"), "m"));
        QCOMPARE(Tokenizer::findBeside(weights.toStdString()), (dir + QStringLiteral("/merges.txt")).toStdString());
        QVERIFY(writeFile(dir + QStringLiteral("/vocab.json"), "{}"));
        QCOMPARE(Tokenizer::findBeside(weights.toStdString()), (dir + QStringLiteral("/vocab.json")).toStdString());
        QVERIFY(writeFile(dir + QStringLiteral("/other.txt.gz"), "g"));
        QCOMPARE(Tokenizer::findBeside(weights.toStdString()), (dir + QStringLiteral("/other.txt.gz")).toStdString());
        QVERIFY(writeFile(dir + QStringLiteral("/bpe_simple_vocab_16e6.txt.gz"), "g"));
        QCOMPARE(Tokenizer::findBeside(weights.toStdString()),
                 (dir + QStringLiteral("/bpe_simple_vocab_16e6.txt.gz")).toStdString());
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
