// Tensor files. Safetensors: written and read back, and checked by a second reader written here from
// the format description (Qt's JSON, not the engine's). PyTorch archives: made by LibTorch itself
// (torch::jit::pickle_save, jit::Module::save) and compared with LibTorch's own view of the same
// objects, plus archives whose pickles are spelled out here opcode by opcode the way Python writes
// them. Broken files of every kind must give a sep::Error naming the file, never a crash.

#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/io/torch_archive.h"
#include "engine/io/zip_directory.h"
#include "tests/support/zip_bytes.h"

#include <ATen/CPUGeneratorImpl.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/script.h>

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

using sep::TensorMap;
using sep::io::PickleValue;

namespace {

// ---- helpers ---------------------------------------------------------------------------------

// A string literal with embedded NULs and escapes, all of it.
template <size_t N>
std::string bin(const char (&s)[N])
{
    return std::string(s, N - 1);
}

std::string bytesOf(const QByteArray &b) { return std::string(b.constData(), size_t(b.size())); }

void writeFile(const std::string &path, const std::string &bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string readFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// The message of the sep::Error `f` throws; anything else (no exception, another type) is reported
// as a string the checks below cannot mistake for a good message.
QString errorOf(const std::function<void()> &f)
{
    try {
        f();
    } catch (const sep::Error &e) {
        return QString::fromStdString(e.what());
    } catch (const std::exception &e) {
        return QStringLiteral("WRONG EXCEPTION TYPE: ") + QString::fromStdString(e.what());
    } catch (...) {
        return QStringLiteral("WRONG EXCEPTION TYPE: unknown");
    }
    return QStringLiteral("NO EXCEPTION");
}

std::string le64(uint64_t v)
{
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i)
        s[i] = char((v >> (8 * i)) & 0xff);
    return s;
}

std::string safetensorsBytes(const std::string &json, const std::string &data)
{
    return le64(json.size()) + json + data;
}

at::Tensor randomTensor(at::ScalarType type, at::IntArrayRef shape, uint64_t seed)
{
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    if (type == at::kBool)
        return at::randint(0, 2, shape, gen, at::kLong).to(at::kBool);
    if (at::isIntegralType(type, false))
        return at::randint(-100, 100, shape, gen, at::kLong).to(type);
    return at::randn(shape, gen, at::kDouble).to(type);
}

bool sameTensor(const at::Tensor &a, const at::Tensor &b)
{
    return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && at::equal(a, b);
}

// Names and values of two maps, with a readable reason when they differ.
QString compareMaps(const TensorMap &got, const TensorMap &want)
{
    for (const auto &[name, t] : want) {
        auto it = got.find(name);
        if (it == got.end())
            return QStringLiteral("missing '%1'").arg(QString::fromStdString(name));
        if (!sameTensor(it->second, t))
            return QStringLiteral("'%1' differs").arg(QString::fromStdString(name));
    }
    for (const auto &[name, t] : got)
        if (!want.count(name))
            return QStringLiteral("unexpected '%1'").arg(QString::fromStdString(name));
    return {};
}

// A zip archive in PyTorch's layout with exactly the given records (the writer adds `version`).
void writeArchive(const std::string &path, const std::vector<std::pair<std::string, std::string>> &records)
{
    caffe2::serialize::PyTorchStreamWriter writer(path);
    for (const auto &[name, data] : records)
        writer.writeRecord(name, data.data(), data.size());
    writer.writeEndOfFile();
}

// The records of an archive, read with LibTorch's reader (names without the top-level folder).
std::map<std::string, std::string> archiveRecords(const std::string &bytes)
{
    std::istringstream in(bytes);
    caffe2::serialize::PyTorchStreamReader reader(&in);
    std::map<std::string, std::string> out;
    for (const auto &name : reader.getAllRecords()) {
        auto [ptr, size] = reader.getRecord(name);
        out[name] = std::string(static_cast<const char *>(ptr.get()), size);
    }
    return out;
}

// Pickle opcodes spelled out, so tests can write exactly what Python's pickler writes.
class Pickle {
public:
    Pickle &op(unsigned char c) { m_b.push_back(char(c)); return *this; }
    Pickle &raw(const std::string &s) { m_b += s; return *this; }
    Pickle &le(uint64_t v, int n)
    {
        for (int i = 0; i < n; ++i)
            m_b.push_back(char((v >> (8 * i)) & 0xff));
        return *this;
    }
    Pickle &proto(int v) { return op(0x80).op(uint8_t(v)); }
    Pickle &mark() { return op('('); }
    Pickle &global(const std::string &module, const std::string &name) { return op('c').raw(module + "\n" + name + "\n"); }
    Pickle &str(const std::string &s) { return op('X').le(s.size(), 4).raw(s); }          // BINUNICODE
    Pickle &shortStr(const std::string &s) { return op(0x8c).le(s.size(), 1).raw(s); }    // SHORT_BINUNICODE
    Pickle &int1(int v) { return op('K').le(uint64_t(v), 1); }
    Pickle &put(int i) { return op('q').le(uint64_t(i), 1); }
    Pickle &get(int i) { return op('h').le(uint64_t(i), 1); }
    Pickle &stop() { return op('.'); }
    // A ('storage', torch.<type>, key, 'cpu', numel) persistent id as Python's torch.save writes it.
    Pickle &storage(const std::string &type, const std::string &key, int numel)
    {
        return mark().str("storage").global("torch", type).str(key).str("cpu").int1(numel).op('t').op('Q');
    }
    // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
    Pickle &tensor(const std::string &type, const std::string &key, int numel, int offset,
                   const std::vector<int> &size, const std::vector<int> &stride)
    {
        global("torch._utils", "_rebuild_tensor_v2").mark();
        storage(type, key, numel).int1(offset);
        mark();
        for (int s : size)
            int1(s);
        op('t').mark();
        for (int s : stride)
            int1(s);
        op('t').op(0x89).global("collections", "OrderedDict").op(')').op('R');
        return op('t').op('R');
    }
    const std::string &bytes() const { return m_b; }

private:
    std::string m_b;
};

const std::vector<at::ScalarType> kSafetensorsTypes = {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong,
                                                       at::kInt,    at::kShort, at::kChar, at::kByte,     at::kBool};

} // namespace

Q_DECLARE_METATYPE(at::ScalarType)

class TestTensorIo : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::string path(const QString &name) const { return m_dir.filePath(name).toStdString(); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    // ---- safetensors ---------------------------------------------------------------------------

    void safetensorsRoundTrip_data()
    {
        QTest::addColumn<at::ScalarType>("type");
        for (at::ScalarType t : kSafetensorsTypes)
            QTest::newRow(c10::toString(t)) << t;
    }

    void safetensorsRoundTrip()
    {
        QFETCH(at::ScalarType, type);
        TensorMap in = {
            {"weight", randomTensor(type, {3, 5}, 1)},
            {"a.bias", randomTensor(type, {7}, 2)},
            {"empty", at::empty({0, 4}, at::TensorOptions().dtype(type))},
            {"scalar", randomTensor(type, {}, 3)},
            // A non-contiguous view must be written as its values, not its storage.
            {"transposed", randomTensor(type, {4, 6}, 4).t()},
        };
        const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "caf\xc3\xa9 \"quoted\""}};
        const std::string file = path(QStringLiteral("rt_%1.safetensors").arg(QLatin1String(c10::toString(type))));
        sep::io::writeSafetensors(file, in, meta);

        std::map<std::string, std::string> metaBack;
        const TensorMap out = sep::io::readSafetensors(file, &metaBack);
        const QString diff = compareMaps(out, in);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        QCOMPARE(out.at("scalar").dim(), 0);
        QCOMPARE(out.at("empty").sizes().vec(), (std::vector<int64_t>{0, 4}));
        QVERIFY(metaBack == meta);
        QVERIFY(sep::io::looksLikeSafetensors(file));

        const auto header = sep::io::readSafetensorsHeader(file);
        QCOMPARE(header.tensors.size(), in.size());
        QCOMPARE(header.metadata.size(), meta.size());
        QCOMPARE(header.dataOffset % 8, uint64_t(0));
    }

    // Our own reading of the bytes, from the format description, not through the engine's parser.
    void safetensorsIndependentReader()
    {
        TensorMap in = {
            {"f32", at::tensor({1.5f, -2.0f, 0.25f})},
            {"f16", at::tensor({1.0f, -2.0f}).to(at::kHalf)},
            {"bf16", at::tensor({1.0f, 3.0f}).to(at::kBFloat16)},
            {"i64", at::tensor({int64_t(-2), int64_t(1) << 40})},
            {"u8", at::tensor({7, 200}, at::kByte)},
            {"flag", at::tensor({1, 0, 1}).to(at::kBool)},
        };
        const std::string file = path(QStringLiteral("independent.safetensors"));
        sep::io::writeSafetensors(file, in, {{"k", "v"}});
        const std::string bytes = readFile(file);

        QVERIFY(bytes.size() >= 8);
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i)
            n = (n << 8) | uint8_t(bytes[size_t(i)]);
        QVERIFY(8 + n <= bytes.size());
        QCOMPARE((8 + n) % 8, uint64_t(0));
        const std::string headerText = bytes.substr(8, n);
        QCOMPARE(headerText.front(), '{');
        // Padding, if any, is spaces after the JSON object.
        const size_t close = headerText.rfind('}');
        QVERIFY(headerText.find_first_not_of(' ', close + 1) == std::string::npos);

        QJsonParseError err;
        const QJsonObject header = QJsonDocument::fromJson(QByteArray::fromStdString(headerText), &err).object();
        QCOMPARE(err.error, QJsonParseError::NoError);
        QCOMPARE(header.value(QStringLiteral("__metadata__")).toObject().value(QStringLiteral("k")).toString(),
                 QStringLiteral("v"));

        const std::string data = bytes.substr(8 + n);
        // Entries, sorted by offset, tile the data section exactly; names are written in sorted order.
        std::vector<std::tuple<qint64, qint64, QString>> ranges;
        for (auto it = header.begin(); it != header.end(); ++it) {
            if (it.key() == QStringLiteral("__metadata__"))
                continue;
            const QJsonArray off = it.value().toObject().value(QStringLiteral("data_offsets")).toArray();
            QCOMPARE(off.size(), 2);
            ranges.emplace_back(off[0].toInteger(), off[1].toInteger(), it.key());
        }
        QCOMPARE(ranges.size(), in.size());
        std::sort(ranges.begin(), ranges.end());
        qint64 pos = 0;
        QStringList order;
        for (const auto &[b, e, name] : ranges) {
            QCOMPARE(b, pos);
            pos = e;
            order << name;
        }
        QCOMPARE(pos, qint64(data.size()));
        QStringList sorted = order;
        sorted.sort();
        QCOMPARE(order, sorted);

        auto entry = [&](const char *name) { return header.value(QLatin1String(name)).toObject(); };
        auto raw = [&](const char *name) {
            const qint64 b = entry(name).value(QStringLiteral("data_offsets")).toArray()[0].toInteger();
            const qint64 e = entry(name).value(QStringLiteral("data_offsets")).toArray()[1].toInteger();
            return QByteArray::fromStdString(data.substr(size_t(b), size_t(e - b))).toHex();
        };
        QCOMPARE(entry("f32").value(QStringLiteral("dtype")).toString(), QStringLiteral("F32"));
        QCOMPARE(entry("f32").value(QStringLiteral("shape")).toArray(), QJsonArray({3}));
        QCOMPARE(raw("f32"), QByteArray("0000c03f000000c00000803e"));   // 1.5, -2, 0.25 little-endian
        QCOMPARE(entry("f16").value(QStringLiteral("dtype")).toString(), QStringLiteral("F16"));
        QCOMPARE(raw("f16"), QByteArray("003c00c0"));                   // 0x3c00, 0xc000
        QCOMPARE(entry("bf16").value(QStringLiteral("dtype")).toString(), QStringLiteral("BF16"));
        QCOMPARE(raw("bf16"), QByteArray("803f4040"));                  // 0x3f80, 0x4040
        QCOMPARE(entry("i64").value(QStringLiteral("dtype")).toString(), QStringLiteral("I64"));
        QCOMPARE(raw("i64"), QByteArray("feffffffffffffff0000000000010000"));
        QCOMPARE(entry("u8").value(QStringLiteral("dtype")).toString(), QStringLiteral("U8"));
        QCOMPARE(raw("u8"), QByteArray("07c8"));
        QCOMPARE(entry("flag").value(QStringLiteral("dtype")).toString(), QStringLiteral("BOOL"));
        QCOMPARE(raw("flag"), QByteArray("010001"));
    }

    // A file written elsewhere (hand-made here: unsorted entries, unpadded header, offsets in
    // another order than names) reads as well as our own.
    void safetensorsForeignLayout()
    {
        const std::string json =
            R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"I16","shape":[1,2],"data_offsets":[8,12]},"__metadata__":{"x":"y"}})";
        std::string data;
        const float b[2] = {3.0f, -1.0f};
        const int16_t a[2] = {-5, 300};
        data.append(reinterpret_cast<const char *>(b), 8).append(reinterpret_cast<const char *>(a), 4);
        const std::string file = path(QStringLiteral("foreign.safetensors"));
        writeFile(file, safetensorsBytes(json, data));
        const TensorMap t = sep::io::readSafetensors(file);
        QVERIFY(sameTensor(t.at("b"), at::tensor({3.0f, -1.0f})));
        QVERIFY(sameTensor(t.at("a"), at::tensor({int16_t(-5), int16_t(300)}, at::kShort).reshape({1, 2})));
        QCOMPARE(sep::io::readSafetensorsHeader(file).dataOffset, 8 + json.size());
    }

    void badSafetensors_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");   // besides the file name

        auto row = [](const char *name, const std::string &bytes, const char *expected) {
            QTest::newRow(name) << QByteArray::fromStdString(bytes) << QString::fromUtf8(expected);
        };
        const std::string f8(8, '\0');
        row("zero bytes", "", "0 bytes");
        row("five bytes", "abcde", "5 bytes");
        row("length past end", le64(1000) + "{}", "exceeds the file size");
        row("absurd length", le64(uint64_t(1) << 62) + "{}", "exceeds the file size");
        row("not json", safetensorsBytes("{not json", ""), "not valid JSON");
        row("json array", safetensorsBytes("[1,2]", ""), "not an object");
        row("entry not object", safetensorsBytes(R"({"w":5})", ""), "'w'");
        row("no dtype", safetensorsBytes(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", f8), "'w'");
        row("unknown dtype", safetensorsBytes(R"({"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", f8),
            "F8_E4M3");
        row("negative shape", safetensorsBytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f8),
            "'w'");
        row("float shape", safetensorsBytes(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", f8),
            "'w'");
        row("bad offsets", safetensorsBytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", f8), "'w'");
        row("reversed offsets", safetensorsBytes(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", f8),
            "'w'");
        row("offsets past end", safetensorsBytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", f8),
            "'w'");
        row("size mismatch", safetensorsBytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f8),
            "'w'");
        row("overlap",
            safetensorsBytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f8),
            "overlap");
        row("gap",
            safetensorsBytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})", f8),
            "'b'");
        row("trailing bytes", safetensorsBytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f8),
            "no tensor");
        row("metadata not strings", safetensorsBytes(R"({"__metadata__":{"a":1}})", ""), "__metadata__");
        row("bool byte 2", safetensorsBytes(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", "\x01\x02"),
            "'m'");
    }

    void badSafetensors()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        const QString name = QStringLiteral("bad_%1.safetensors").arg(QString::fromLatin1(QTest::currentDataTag()).replace(QLatin1Char(' '), QLatin1Char('_')));
        const std::string file = path(name);
        writeFile(file, bytesOf(bytes));
        const QString msg = errorOf([&] { sep::io::readSafetensors(file); });
        QVERIFY2(msg.contains(name), qPrintable(msg));
        QVERIFY2(msg.contains(expected), qPrintable(msg));
    }

    void damagedSafetensors()
    {
        const std::string file = path(QStringLiteral("cut.safetensors"));
        sep::io::writeSafetensors(file, {{"first", at::ones({16})}, {"last", at::ones({16})}});
        const std::string whole = readFile(file);
        writeFile(file, whole.substr(0, whole.size() - 10));
        const QString msg = errorOf([&] { sep::io::readSafetensors(file); });
        QVERIFY2(msg.contains(QStringLiteral("cut.safetensors")) && msg.contains(QStringLiteral("'last'"))
                     && msg.contains(QStringLiteral("truncated")),
                 qPrintable(msg));
        // Every cut anywhere in the file fails cleanly.
        for (size_t len = 0; len < whole.size(); ++len) {
            writeFile(file, whole.substr(0, len));
            const QString m = errorOf([&] { sep::io::readSafetensors(file); });
            QVERIFY2(m.contains(QStringLiteral("cut.safetensors")), qPrintable(QString::number(len) + QStringLiteral(": ") + m));
        }
        // Random byte changes in the length field and header: a result or a sep::Error naming the file.
        std::mt19937 rng(99);
        writeFile(file, whole);
        const size_t dataOffset = sep::io::readSafetensorsHeader(file).dataOffset;
        for (int n = 0; n < 500; ++n) {
            std::string bad = whole;
            const int flips = 1 + int(rng() % 3);
            for (int k = 0; k < flips; ++k)
                bad[rng() % dataOffset] = char(rng() & 0xff);
            writeFile(file, bad);
            const QString m = errorOf([&] { sep::io::readSafetensors(file); });
            QVERIFY2(m == QStringLiteral("NO EXCEPTION") || m.contains(QStringLiteral("cut.safetensors")),
                     qPrintable(QStringLiteral("mutation %1: ").arg(n) + m));
        }
    }

    void safetensorsWriteIsAtomic()
    {
        const QString name = QStringLiteral("atomic.safetensors");
        const std::string file = path(name);
        sep::io::writeSafetensors(file, {{"x", at::zeros({4})}});
        sep::io::writeSafetensors(file, {{"x", at::ones({4})}, {"y", at::ones({2})}});
        QVERIFY(sameTensor(sep::io::readSafetensors(file).at("x"), at::ones({4})));
        const QStringList leftovers = QDir(m_dir.path()).entryList({name + QStringLiteral(".tmp*")});
        QVERIFY2(leftovers.isEmpty(), qPrintable(leftovers.join(QLatin1Char(' '))));

        // A failed write names the path and the reason, and leaves nothing behind.
        const std::string missingDir = path(QStringLiteral("no/such/dir/out.safetensors"));
        QString msg = errorOf([&] { sep::io::writeSafetensors(missingDir, {{"x", at::ones({1})}}); });
        QVERIFY2(msg.contains(QStringLiteral("out.safetensors")) && msg.contains(QStringLiteral("No such file")),
                 qPrintable(msg));

        msg = errorOf([&] { sep::io::writeSafetensors(path(QStringLiteral("complex.safetensors")),
                                                      {{"z", at::ones({2}, at::kComplexFloat)}}); });
        QVERIFY2(msg.contains(QStringLiteral("'z'")) && msg.contains(QStringLiteral("complex.safetensors")), qPrintable(msg));
        QVERIFY(!QFile::exists(QString::fromStdString(path(QStringLiteral("complex.safetensors")))));
    }

    void safetensorsWriteFailureCleansUp()
    {
        // The target is an existing directory: everything is written, then the rename fails.
        const QString name = QStringLiteral("occupied.safetensors");
        QVERIFY(QDir(m_dir.path()).mkpath(name + QStringLiteral("/inside")));
        const QString msg = errorOf([&] { sep::io::writeSafetensors(path(name), {{"x", at::ones({1000})}}); });
        QVERIFY2(msg.contains(name) && msg.contains(QStringLiteral("rename")), qPrintable(msg));
        const QStringList leftovers = QDir(m_dir.path()).entryList({name + QStringLiteral(".tmp*")});
        QVERIFY2(leftovers.isEmpty(), qPrintable(leftovers.join(QLatin1Char(' '))));

        // Reading a directory by mistake says so.
        const QString st = errorOf([&] { sep::io::readSafetensors(path(name)); });
        QVERIFY2(st.contains(name) && st.contains(QStringLiteral("directory")), qPrintable(st));
        const QString pt = errorOf([&] { sep::io::readTorchArchive(path(name)); });
        QVERIFY2(pt.contains(name) && pt.contains(QStringLiteral("directory")), qPrintable(pt));
    }

    void looksLike()
    {
        const std::string st = path(QStringLiteral("looks.safetensors"));
        sep::io::writeSafetensors(st, {{"x", at::ones({2})}});
        QVERIFY(sep::io::looksLikeSafetensors(st));
        QVERIFY(!sep::io::looksLikeTorchArchive(st));

        const std::string zip = path(QStringLiteral("looks.pt"));
        c10::Dict<std::string, at::Tensor> d;
        d.insert("x", at::ones({2}));
        const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(d));
        writeFile(zip, std::string(bytes.begin(), bytes.end()));
        QVERIFY(sep::io::looksLikeTorchArchive(zip));
        QVERIFY(!sep::io::looksLikeSafetensors(zip));
        QVERIFY(!sep::io::isTorchScriptArchive(zip));

        const std::string junk = path(QStringLiteral("looks.bin"));
        writeFile(junk, "PK\x03\x04 and then nothing useful at all");
        QVERIFY(!sep::io::looksLikeTorchArchive(junk));
        QVERIFY(!sep::io::looksLikeSafetensors(junk));
        QVERIFY(!sep::io::looksLikeSafetensors(path(QStringLiteral("does-not-exist"))));
        QVERIFY(!sep::io::looksLikeTorchArchive(path(QStringLiteral("does-not-exist"))));
        const QString msg = errorOf([&] { sep::io::isTorchScriptArchive(junk); });
        QVERIFY2(msg.contains(QStringLiteral("looks.bin")), qPrintable(msg));
    }

    // ---- torch archives made by LibTorch ------------------------------------------------------

    void pickleSaveDict()
    {
        const at::Tensor base = at::arange(24, at::kFloat).reshape({4, 6});
        c10::Dict<std::string, at::Tensor> d;
        d.insert("w32", randomTensor(at::kFloat, {4, 3}, 10));
        d.insert("w16", randomTensor(at::kHalf, {5}, 11));
        d.insert("bf16", randomTensor(at::kBFloat16, {2, 2}, 12));
        d.insert("f64", randomTensor(at::kDouble, {3}, 13));
        d.insert("i64", randomTensor(at::kLong, {3}, 14));
        d.insert("i8", randomTensor(at::kChar, {3}, 15));
        d.insert("mask", randomTensor(at::kBool, {6}, 16));
        d.insert("scalar", at::scalar_tensor(2.5));
        d.insert("empty", at::empty({0, 3}));
        // Views share the base's storage: one record, three tensors.
        d.insert("base", base);
        d.insert("slice", base.slice(1, 2, 5));
        d.insert("row", base[2]);
        d.insert("transposed", base.t());

        const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(d));
        const std::string file = path(QStringLiteral("dict.pt"));
        writeFile(file, std::string(bytes.begin(), bytes.end()));

        // The fixture really shares storage (checked with LibTorch's reader).
        size_t storages = 0;
        for (const auto &[name, data] : archiveRecords(std::string(bytes.begin(), bytes.end())))
            storages += name.rfind("data/", 0) == 0;
        QCOMPARE(storages, size_t(d.size()) - 3);

        const PickleValue root = sep::io::readTorchArchive(file);
        QCOMPARE(root.kind, PickleValue::Kind::Dict);
        const TensorMap got = sep::io::collectTensors(root);
        TensorMap want;
        for (const auto &e : d)
            want[e.key()] = e.value();
        const QString diff = compareMaps(got, want);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        QVERIFY(sameTensor(got.at("slice"), at::tensor({2.f, 3.f, 4.f, 8.f, 9.f, 10.f, 14.f, 15.f, 16.f, 20.f, 21.f, 22.f}).reshape({4, 3})));
        QVERIFY(got.at("slice").is_contiguous());
        QCOMPARE(got.at("w16").scalar_type(), at::kHalf);
        QCOMPARE(got.at("scalar").dim(), 0);
        // Each tensor owns its memory (a slice does not keep the whole storage alive).
        QCOMPARE(got.at("slice").storage().nbytes(), size_t(12 * 4));
        QVERIFY(got.at("slice").data_ptr() != got.at("base").data_ptr());

        QVERIFY(sep::io::collectTensors(root, "model").count("model.w32"));
    }

    void torchScriptModule()
    {
        namespace jit = torch::jit;
        jit::Module clip("CLIP");
        clip.register_parameter("logit_scale", at::tensor({4.6052f}), false);
        clip.register_parameter("positional_embedding", randomTensor(at::kFloat, {16, 8}, 20), false);
        clip.register_attribute("input_resolution", c10::IntType::get(), int64_t(32));
        clip.register_buffer("buffer_at_root", randomTensor(at::kLong, {3}, 21));

        jit::Module visual("VisionTransformer");
        jit::Module conv1("Conv2d");
        conv1.register_parameter("weight", randomTensor(at::kHalf, {8, 3, 4, 4}, 22), false);
        // Like nn.Conv2d(bias=False): a parameter slot holding None.
        conv1.register_attribute("bias", c10::OptionalType::create(c10::TensorType::get()), c10::IValue(), true);
        visual.register_module("conv1", conv1);
        visual.register_parameter("class_embedding", randomTensor(at::kHalf, {8}, 23), false);
        clip.register_module("visual", visual);

        jit::Module transformer("Transformer");
        jit::Module resblocks("Sequential");
        for (int i = 0; i < 2; ++i) {
            // Same class name twice: the saver mangles the second one's type name.
            jit::Module block("ResidualAttentionBlock");
            jit::Module attn("MultiheadAttention");
            attn.register_parameter("in_proj_weight", randomTensor(at::kHalf, {24, 8}, 30 + i), false);
            attn.register_parameter("in_proj_bias", randomTensor(at::kHalf, {24}, 40 + i), false);
            jit::Module outProj("Linear");
            outProj.register_parameter("weight", randomTensor(at::kFloat, {8, 8}, 50 + i), false);
            attn.register_module("out_proj", outProj);
            block.register_module("attn", attn);
            // OpenAI's blocks keep the causal mask as a plain tensor attribute: not in state_dict().
            block.register_attribute("attn_mask", c10::TensorType::get(), at::full({4, 4}, -1e9));
            block.register_buffer("counter", at::tensor({int64_t(i)}));
            resblocks.register_module(std::to_string(i), block);
        }
        transformer.register_module("resblocks", resblocks);
        clip.register_module("transformer", transformer);

        const std::string file = path(QStringLiteral("ViT-tiny.pt"));
        clip.save(file);

        TensorMap want;
        for (const auto &p : clip.named_parameters(true))
            want[p.name] = p.value;
        for (const auto &b : clip.named_buffers(true))
            want[b.name] = b.value;
        QVERIFY(want.count("visual.conv1.weight"));
        QVERIFY(want.count("transformer.resblocks.1.attn.in_proj_weight"));
        QVERIFY(!want.count("transformer.resblocks.0.attn_mask"));

        QVERIFY(sep::io::looksLikeTorchArchive(file));
        QVERIFY(sep::io::isTorchScriptArchive(file));
        const TensorMap got = sep::io::readTorchScriptTensors(file);
        const QString diff = compareMaps(got, want);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        QCOMPARE(got.at("visual.conv1.weight").scalar_type(), at::kHalf);

        // The generic reading sees the module tree as objects, every tensor attribute included.
        const PickleValue root = sep::io::readTorchArchive(file);
        QCOMPARE(root.kind, PickleValue::Kind::Object);
        QVERIFY2(QString::fromStdString(root.s).endsWith(QStringLiteral("CLIP")), root.s.c_str());
        QCOMPARE(root.get("input_resolution").i, int64_t(32));
        const TensorMap all = sep::io::collectTensors(root);
        QVERIFY(all.count("transformer.resblocks.0.attn_mask"));
        QVERIFY(sameTensor(all.at("transformer.resblocks.1.attn.out_proj.weight"), want.at("transformer.resblocks.1.attn.out_proj.weight")));
    }

    void trainingCheckpoint()
    {
        c10::Dict<std::string, at::Tensor> sd;
        sd.insert("ctx", randomTensor(at::kHalf, {6, 8}, 60));
        sd.insert("prompt_projections.0.scale1", at::tensor({0.75f}));

        c10::impl::GenericDict state(c10::IntType::get(), c10::AnyType::get());
        c10::impl::GenericDict slot(c10::StringType::get(), c10::AnyType::get());
        slot.insert("momentum_buffer", randomTensor(at::kFloat, {6, 8}, 61));
        state.insert(int64_t(0), slot);
        c10::impl::GenericDict group(c10::StringType::get(), c10::AnyType::get());
        group.insert("lr", 0.002);
        group.insert("params", c10::List<int64_t>({0, 1}));
        group.insert("betas", c10::ivalue::Tuple::create(std::vector<c10::IValue>{0.9, 0.999}));
        group.insert("nesterov", false);
        c10::impl::GenericList groups(c10::AnyType::get());
        groups.push_back(group);
        c10::impl::GenericDict optimizer(c10::StringType::get(), c10::AnyType::get());
        optimizer.insert("state", state);
        optimizer.insert("param_groups", groups);

        c10::impl::GenericDict ckpt(c10::StringType::get(), c10::AnyType::get());
        ckpt.insert("state_dict", sd);
        ckpt.insert("epoch", int64_t(5));
        ckpt.insert("optimizer", optimizer);
        ckpt.insert("val_result", 71.25);
        ckpt.insert("note", std::string("seed 1"));
        ckpt.insert("scheduler", c10::IValue());

        const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(ckpt));
        const std::string file = path(QStringLiteral("model.pth.tar-50"));
        writeFile(file, std::string(bytes.begin(), bytes.end()));

        const PickleValue root = sep::io::readTorchArchive(file);
        QCOMPARE(root.get("epoch").kind, PickleValue::Kind::Int);
        QCOMPARE(root.get("epoch").i, int64_t(5));
        QCOMPARE(root.get("val_result").f, 71.25);
        QCOMPARE(root.get("note").s, std::string("seed 1"));
        QCOMPARE(root.get("scheduler").kind, PickleValue::Kind::None);
        const PickleValue &groupsBack = root.get("optimizer").get("param_groups");
        QCOMPARE(groupsBack.kind, PickleValue::Kind::List);
        QCOMPARE(groupsBack.items.size(), size_t(1));
        const PickleValue &g = *groupsBack.items[0];
        QCOMPARE(g.get("lr").f, 0.002);
        QCOMPARE(g.get("nesterov").kind, PickleValue::Kind::Bool);
        QCOMPARE(g.get("params").items.size(), size_t(2));
        QCOMPARE(g.get("params").items[1]->i, int64_t(1));
        QCOMPARE(g.get("betas").kind, PickleValue::Kind::Tuple);
        QCOMPARE(g.get("betas").items[1]->f, 0.999);

        TensorMap want;
        for (const auto &e : sd)
            want[e.key()] = e.value();
        const QString diff = compareMaps(sep::io::collectTensors(root.get("state_dict")), want);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        // Int keys become names, as in optimizer state.
        QVERIFY(sep::io::collectTensors(root).count("optimizer.state.0.momentum_buffer"));

        const QString msg = errorOf([&] { root.get("model_state"); });
        QVERIFY2(msg.contains(QStringLiteral("model_state")) && msg.contains(QStringLiteral("'state_dict'")), qPrintable(msg));
        QVERIFY(root.find("model_state") == nullptr);
    }

    // ---- archives as Python writes them --------------------------------------------------------

    // torch.save(model.state_dict()) in Python: protocol 2, an OrderedDict with `_metadata`,
    // parameters through _rebuild_parameter, a persistent id per tensor even when storages repeat.
    void pythonStyleStateDict()
    {
        Pickle p;
        p.proto(2).global("collections", "OrderedDict").put(0).op(')').op('R').put(1).mark();
        p.str("w").global("torch._utils", "_rebuild_parameter");
        p.tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1}).op(0x88).get(0).op(')').op('R').op(0x87).op('R');
        p.str("v").tensor("FloatStorage", "0", 6, 3, {3}, {1});
        p.str("h").tensor("HalfStorage", "1", 4, 0, {2, 2}, {1, 2});
        p.op('u');
        p.op('}').str("_metadata").get(0).op(')').op('R').mark().str("").op('}').str("version").int1(1).op('s')
            .op('u').op('s').op('b').stop();

        const float f[6] = {1, 2, 3, 4, 5, 6};
        const at::Tensor h = at::tensor({1.f, 2.f, 3.f, 4.f}).to(at::kHalf);
        const std::string file = path(QStringLiteral("python_sd.pt"));
        writeArchive(file, {{"data.pkl", p.bytes()},
                            {"byteorder", "little"},
                            {"data/0", std::string(reinterpret_cast<const char *>(f), sizeof f)},
                            {"data/1", std::string(static_cast<const char *>(h.data_ptr()), 8)}});

        const PickleValue root = sep::io::readTorchArchive(file);
        QCOMPARE(root.kind, PickleValue::Kind::Dict);
        QCOMPARE(root.dict.size(), size_t(3));   // `_metadata` is an attribute, not an entry
        const TensorMap t = sep::io::collectTensors(root);
        QCOMPARE(t.size(), size_t(3));
        QVERIFY(sameTensor(t.at("w"), at::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}).reshape({2, 3})));
        QVERIFY(sameTensor(t.at("v"), at::tensor({4.f, 5.f, 6.f})));
        QVERIFY(sameTensor(t.at("h"), at::tensor({1.f, 3.f, 2.f, 4.f}).reshape({2, 2}).to(at::kHalf)));
        QVERIFY(!t.at("w").requires_grad());

        writeArchive(file, {{"data.pkl", p.bytes()}, {"byteorder", "big"}});
        const QString msg = errorOf([&] { sep::io::readTorchArchive(file); });
        QVERIFY2(msg.contains(QStringLiteral("python_sd.pt")) && msg.contains(QStringLiteral("big")), qPrintable(msg));
    }

    // torch.save(model) in Python pickles the nn.Module objects themselves (protocol 2: NEWOBJ, then
    // BUILD with the instance __dict__); names follow state_dict().
    void pythonPickledModule()
    {
        Pickle p;
        auto module = [&](const char *cls, const std::function<void()> &state) {
            p.global("__main__", cls).op(')').op(0x81);
            p.op('}').mark();
            state();
            p.op('u').op('b');
        };
        auto od = [&](const std::function<void()> &items) {
            p.global("collections", "OrderedDict").op(')').op('R').mark();
            items();
            p.op('u');
        };
        p.proto(2);
        module("Net", [&] {
            p.str("training").op(0x88);
            p.str("_parameters");
            od([&] { p.str("w").tensor("FloatStorage", "0", 4, 0, {2}, {1}).str("absent").op('N'); });
            p.str("_buffers");
            od([&] { p.str("b").tensor("FloatStorage", "0", 4, 2, {1}, {1}).str("tmp").tensor("FloatStorage", "0", 4, 3, {1}, {1}); });
            p.str("_non_persistent_buffers_set").global("builtins", "set").op(']').str("tmp").op('a').op(0x85).op('R');
            p.str("cache").tensor("FloatStorage", "0", 4, 0, {4}, {1});   // a plain attribute
            p.str("_modules");
            od([&] {
                p.str("fc");
                module("Linear", [&] {
                    p.str("_parameters");
                    od([&] { p.str("weight").tensor("FloatStorage", "0", 4, 1, {3}, {1}); });
                    p.str("_modules");
                    od([] {});
                });
                p.str("skipped").op('N');
            });
        });
        p.stop();
        const float f[4] = {1, 2, 3, 4};
        const std::string file = path(QStringLiteral("whole_model.pt"));
        writeArchive(file, {{"data.pkl", p.bytes()}, {"data/0", std::string(reinterpret_cast<const char *>(f), sizeof f)}});

        const PickleValue root = sep::io::readTorchArchive(file);
        QCOMPARE(root.kind, PickleValue::Kind::Object);
        QCOMPARE(root.s, std::string("__main__.Net"));
        const TensorMap t = sep::io::collectTensors(root);
        QStringList names;
        for (const auto &kv : t)
            names << QString::fromStdString(kv.first);
        QCOMPARE(names, QStringList({QStringLiteral("b"), QStringLiteral("fc.weight"), QStringLiteral("w")}));
        QVERIFY(sameTensor(t.at("fc.weight"), at::tensor({2.f, 3.f, 4.f})));
        QVERIFY(sameTensor(t.at("b"), at::tensor({3.f})));
    }

    // Opcodes of protocols 3–5 that LibTorch never writes but Python does.
    void pythonProtocol4Values()
    {
        Pickle body;
        int memo = 0;
        auto memoize = [&] { body.op(0x94); return memo++; };
        body.op('}');
        memoize();
        body.mark();
        body.shortStr("f").op('G').raw(bin("\x3f\xf8\0\0\0\0\0\0"));                 // 1.5
        body.shortStr("b");
        body.op('C').le(2, 1).raw("xy");
        const int bytesMemo = memoize();
        body.shortStr("big").op(0x8a).le(9, 1).raw(std::string(8, '\0') + "\x40");            // 2**70
        body.shortStr("neg").op(0x8a).le(2, 1).raw("\xd4\xfe");                                // -300
        body.shortStr("i40").op(0x8a).le(6, 1).le((uint64_t(1) << 40) + 5, 6);
        body.shortStr("n2").op('M').le(0x1234, 2);
        body.shortStr("n4").op('J').le(uint32_t(-7), 4);
        body.shortStr("set").op(0x8f).mark().int1(1).int1(2).op(0x90);
        body.shortStr("fs").mark().int1(3).op(0x91);
        body.shortStr("obj").shortStr("mymod").shortStr("Thing").op(0x93);
        memoize();
        body.op(')').op('}').op(0x92);
        memoize();
        body.op('}').shortStr("x").int1(7).op('s').op('}').shortStr("slot").op('N').op('s').op(0x86).op('b');
        body.shortStr("again").get(bytesMemo);
        body.shortStr("t").int1(1).int1(2).int1(3).op(0x87);
        body.shortStr("l").op(']').mark().op('N').op(0x88).op('e').op(0x89).op('a');
        body.shortStr("u8").op(0x8d).le(6, 8).raw("h\xc3\xa9llo");
        body.shortStr("dup").int1(11).op('2').op('0');
        body.shortStr("markpop").mark().int1(1).int1(2).op('1').int1(12);
        body.shortStr("blob").op('B').le(3, 4).raw("abc");
        body.shortStr("dev").global("torch", "device").shortStr("cpu").op(0x85).op('R');
        body.shortStr("dtype").global("torch", "float16");
        body.shortStr("bytes2").global("_codecs", "encode").str("\xc3\xbf\x01").str("latin1").op(0x86).op('R');
        body.op('u').op('.');

        Pickle p;
        p.proto(4).op(0x95).le(body.bytes().size(), 8).raw(body.bytes());
        const std::string file = path(QStringLiteral("proto4.pt"));
        writeArchive(file, {{"data.pkl", p.bytes()}});

        const PickleValue v = sep::io::readTorchArchive(file);
        QCOMPARE(v.get("f").f, 1.5);
        QCOMPARE(v.get("b").kind, PickleValue::Kind::Bytes);
        QCOMPARE(v.get("b").s, std::string("xy"));
        QCOMPARE(v.get("again").s, std::string("xy"));
        QCOMPARE(v.get("big").kind, PickleValue::Kind::Float);
        QCOMPARE(v.get("big").f, std::ldexp(1.0, 70));
        QCOMPARE(v.get("neg").i, int64_t(-300));
        QCOMPARE(v.get("i40").i, (int64_t(1) << 40) + 5);
        QCOMPARE(v.get("n2").i, int64_t(0x1234));
        QCOMPARE(v.get("n4").i, int64_t(-7));
        QCOMPARE(v.get("set").items.size(), size_t(2));
        QCOMPARE(v.get("fs").items.size(), size_t(1));
        const PickleValue &obj = v.get("obj");
        QCOMPARE(obj.kind, PickleValue::Kind::Object);
        QCOMPARE(obj.s, std::string("mymod.Thing"));
        QCOMPARE(obj.get("x").i, int64_t(7));
        QCOMPARE(obj.get("slot").kind, PickleValue::Kind::None);
        QCOMPARE(v.get("t").kind, PickleValue::Kind::Tuple);
        QCOMPARE(v.get("t").items[2]->i, int64_t(3));
        QCOMPARE(v.get("l").items.size(), size_t(3));
        QCOMPARE(v.get("l").items[1]->b, true);
        QCOMPARE(v.get("u8").s, std::string("h\xc3\xa9llo"));
        QCOMPARE(v.get("dup").i, int64_t(11));
        QCOMPARE(v.get("markpop").i, int64_t(12));
        QCOMPARE(v.get("blob").s, std::string("abc"));
        QCOMPARE(v.get("dev").s, std::string("cpu"));
        QCOMPARE(v.get("dtype").kind, PickleValue::Kind::Global);
        QCOMPARE(v.get("bytes2").s, std::string("\xff\x01"));
        QVERIFY(sep::io::collectTensors(v).empty());
    }

    // ---- broken archives -----------------------------------------------------------------------

    void badArchives_data()
    {
        QTest::addColumn<QByteArray>("pickle");    // data.pkl, or the whole file when no records
        QTest::addColumn<bool>("wholeFile");
        QTest::addColumn<QString>("expected");

        auto file = [](const char *name, const std::string &bytes, const char *expected) {
            QTest::newRow(name) << QByteArray::fromStdString(bytes) << true << QString::fromUtf8(expected);
        };
        auto pkl = [](const char *name, const std::string &bytes, const char *expected) {
            QTest::newRow(name) << QByteArray::fromStdString(bytes) << false << QString::fromUtf8(expected);
        };
        file("zero bytes", "", "empty");
        file("random bytes", bin("\x13\x77\xa0 random bytes that are not any archive \x01\x02"),
             "not a PyTorch zip archive");
        file("legacy pickle", bin("\x80\x02\x8a\x0a") + "then the rest of an old file.", "not load it in Python");
        std::string tar(1024, '\0');
        tar.replace(0, 8, "data.pkl");
        tar.replace(257, 5, "ustar");
        file("legacy tar", tar, "not load it in Python");

        pkl("garbage", "this is not a pickle at all", "corrupt");
        pkl("unknown opcode", bin("\x80\x02\xff"), "opcode 0xff at byte 2");
        pkl("truncated string", bin("\x80\x02" "X\x10\0\0\0" "abc"), "truncated");
        pkl("no stop", bin("\x80\x02" "K\x01"), "truncated");
        pkl("empty stop", bin("\x80\x02" "."), "empty stack");
        pkl("append to int", bin("\x80\x02" "K\x01" "K\x02" "a."), "APPEND");
        pkl("memo miss", bin("\x80\x02" "h\x05" "."), "memo");
        pkl("protocol 9", bin("\x80\x09" "N."), "protocol");
        pkl("cycle", bin("\x80\x02" "]q\x00" "h\x00" "a."), "cycle");
        pkl("deep nesting", bin("\x80\x02" ")") + std::string(200000, '\x85') + ".", "nested");
        pkl("stack underflow", bin("\x80\x02" "(R."), "underflow");
        pkl("missing storage record",
            Pickle().proto(2).tensor("FloatStorage", "7", 4, 0, {4}, {1}).stop().bytes(), "data/7");
        pkl("view past storage",
            Pickle().proto(2).tensor("FloatStorage", "0", 4, 0, {10}, {1}).stop().bytes(), "past its storage");
        pkl("storage too small",
            Pickle().proto(2).tensor("FloatStorage", "0", 40, 0, {4}, {1}).stop().bytes(), "only 16 bytes");
        pkl("unknown storage",
            Pickle().proto(2).tensor("QInt8Storage", "0", 4, 0, {4}, {1}).stop().bytes(), "QInt8Storage");
        pkl("quantized tensor",
            Pickle().proto(2).global("torch._utils", "_rebuild_qtensor").op(')').op('R').stop().bytes(), "_rebuild_qtensor");
        pkl("size stride mismatch",
            Pickle().proto(2).tensor("FloatStorage", "0", 4, 0, {2, 2}, {1}).stop().bytes(), "dimensions");
    }

    void badArchives()
    {
        QFETCH(QByteArray, pickle);
        QFETCH(bool, wholeFile);
        QFETCH(QString, expected);
        const QString name = QStringLiteral("bad_%1.pt").arg(QString::fromLatin1(QTest::currentDataTag()).replace(QLatin1Char(' '), QLatin1Char('_')));
        const std::string file = path(name);
        if (wholeFile) {
            writeFile(file, bytesOf(pickle));
        } else {
            const float storage[4] = {1, 2, 3, 4};
            writeArchive(file, {{"data.pkl", bytesOf(pickle)}, {"data/0", std::string(reinterpret_cast<const char *>(storage), 16)}});
        }
        const QString msg = errorOf([&] { sep::io::readTorchArchive(file); });
        QVERIFY2(msg.contains(name), qPrintable(msg));
        QVERIFY2(msg.contains(expected), qPrintable(msg));
        // Never advise unpickling a file that may be hostile.
        QVERIFY2(!msg.contains(QStringLiteral("torch.load")), qPrintable(msg));
        if (!wholeFile) {
            const QString script = errorOf([&] { sep::io::readTorchScriptTensors(file); });
            QVERIFY2(script.contains(name), qPrintable(script));
        }
    }

    // LibTorch's reader allocates whatever an entry declares before reading it; a 1 kB file that
    // declares 4 GB must be refused first, naming the file and the entry.
    void declaredSizesBeyondTheFile_data()
    {
        QTest::addColumn<QString>("entry");
        QTest::addColumn<qint64>("declared");   // -1: one byte more than the whole file
        QTest::newRow("storage, 4 GB") << QStringLiteral("archive/data/0") << qint64(0xFFFFFFFF);
        QTest::newRow("storage, one byte too many") << QStringLiteral("archive/data/0") << qint64(-1);
        QTest::newRow("pickle, 4 GB") << QStringLiteral("archive/data.pkl") << qint64(0xFFFFFFFF);
        QTest::newRow("version, read as it opens") << QStringLiteral("archive/version") << qint64(0xFFFFFFFF);
    }

    void declaredSizesBeyondTheFile()
    {
        QFETCH(QString, entry);
        QFETCH(qint64, declared);
        c10::Dict<std::string, at::Tensor> d;
        d.insert("x", at::arange(10, at::kFloat));
        const std::vector<char> saved = torch::jit::pickle_save(c10::IValue(d));
        std::string bytes(saved.begin(), saved.end());
        const uint32_t size = declared < 0 ? uint32_t(bytes.size() + 1) : uint32_t(declared);
        QVERIFY2(sep::test::setDeclaredSize(bytes, entry.toStdString(), size), qPrintable(entry));
        const QString name = QStringLiteral("declares.pt");
        writeFile(path(name), bytes);
        const QString msg = errorOf([&] { sep::io::readTorchArchive(path(name)); });
        QVERIFY2(msg.contains(name) && msg.contains(entry) && msg.contains(QString::number(size))
                     && msg.contains(QStringLiteral("more than the whole file")),
                 qPrintable(msg));
        QVERIFY(!msg.contains(QStringLiteral("WRONG EXCEPTION")));
    }

    // The directory reader against a zip made by hand: zip64 sizes in the extra field are read
    // (and checked), and each broken structure is named.
    void zipDirectoryByHand()
    {
        const auto le = [](uint64_t v, int bytes) {
            std::string s;
            for (int k = 0; k < bytes; ++k)
                s += char((v >> (8 * k)) & 0xFF);
            return s;
        };
        // One stored entry "top/a.txt" whose directory entry gives its sizes as 0xFFFFFFFF plus a
        // zip64 extra field holding `zip64Size` for both.
        const auto make = [&](uint64_t zip64Size) {
            const std::string name = "top/a.txt", data = "hello";
            std::string z = "PK\x03\x04" + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4)
                + le(data.size(), 4) + le(data.size(), 4) + le(name.size(), 2) + le(0, 2) + name + data;
            const std::string extra = le(0x0001, 2) + le(16, 2) + le(zip64Size, 8) + le(zip64Size, 8);
            const size_t directoryAt = z.size();
            z += "PK\x01\x02" + le(45, 2) + le(45, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4)
                + le(0xFFFFFFFF, 4) + le(0xFFFFFFFF, 4) + le(name.size(), 2) + le(extra.size(), 2) + le(0, 2)
                + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4) + name + extra;
            const size_t directorySize = z.size() - directoryAt;
            z += "PK\x05\x06" + le(0, 2) + le(0, 2) + le(1, 2) + le(1, 2) + le(directorySize, 4)
                + le(directoryAt, 4) + le(0, 2);
            return z;
        };
        const std::string good = path(QStringLiteral("by-hand.zip"));
        writeFile(good, make(5));
        const sep::io::ZipDirectory dir(good);
        QCOMPARE(dir.entries().size(), size_t(1));
        QCOMPARE(dir.entries()[0].size, uint64_t(5));
        QCOMPARE(dir.entries()[0].storedSize, uint64_t(5));
        QVERIFY(dir.findRecord("a.txt") == &dir.entries()[0]);
        QVERIFY(dir.findRecord("b.txt") == nullptr);

        const QString huge = QStringLiteral("huge.zip");
        writeFile(path(huge), make(uint64_t(1) << 40));
        QString msg = errorOf([&] { sep::io::ZipDirectory x(path(huge)); });
        QVERIFY2(msg.contains(huge) && msg.contains(QStringLiteral("'top/a.txt'"))
                     && msg.contains(QString::number(qint64(1) << 40)),
                 qPrintable(msg));

        // The directory said to lie past the end of the file; no end record at all.
        std::string past = make(5);
        past.replace(past.size() - 6, 4, le(1u << 30, 4));
        writeFile(path(QStringLiteral("past.zip")), past);
        msg = errorOf([&] { sep::io::ZipDirectory x(path(QStringLiteral("past.zip"))); });
        QVERIFY2(msg.contains(QStringLiteral("past.zip")) && msg.contains(QStringLiteral("past the end")), qPrintable(msg));
        writeFile(path(QStringLiteral("noend.zip")), make(5).substr(0, 60));
        msg = errorOf([&] { sep::io::ZipDirectory x(path(QStringLiteral("noend.zip"))); });
        QVERIFY2(msg.contains(QStringLiteral("noend.zip")) && msg.contains(QStringLiteral("end-of-directory")), qPrintable(msg));
    }

    void archiveStructureErrors()
    {
        c10::Dict<std::string, at::Tensor> d;
        d.insert("x", at::arange(10, at::kFloat));
        d.insert("y", at::ones({3}, at::kHalf));
        const std::vector<char> saved = torch::jit::pickle_save(c10::IValue(d));
        const std::string whole(saved.begin(), saved.end());

        const QString halfName = QStringLiteral("half.pt");
        writeFile(path(halfName), whole.substr(0, whole.size() / 2));
        QString msg = errorOf([&] { sep::io::readTorchArchive(path(halfName)); });
        QVERIFY2(msg.contains(halfName) && msg.contains(QStringLiteral("corrupt/truncated")), qPrintable(msg));

        const QString noPkl = QStringLiteral("nopkl.pt");
        writeArchive(path(noPkl), {{"notes.txt", "hello"}});
        msg = errorOf([&] { sep::io::readTorchArchive(path(noPkl)); });
        QVERIFY2(msg.contains(noPkl) && msg.contains(QStringLiteral("data.pkl")), qPrintable(msg));
        QVERIFY(!sep::io::looksLikeTorchArchive(path(noPkl)));

        // A torch.save file is not a TorchScript module.
        writeFile(path(QStringLiteral("plain.pt")), whole);
        msg = errorOf([&] { sep::io::readTorchScriptTensors(path(QStringLiteral("plain.pt"))); });
        QVERIFY2(msg.contains(QStringLiteral("plain.pt")) && msg.contains(QStringLiteral("TorchScript")), qPrintable(msg));

        msg = errorOf([&] { sep::io::readTorchArchive(path(QStringLiteral("absent.pt"))); });
        QVERIFY2(msg.contains(QStringLiteral("absent.pt")), qPrintable(msg));
    }

    // Every truncation of a real data.pkl and many random corruptions of it: a sep::Error or a
    // result, never a crash or another exception type.
    void corruptedPickles()
    {
        const at::Tensor base = at::arange(12, at::kFloat).reshape({3, 4});
        c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
        d.insert("base", base);
        d.insert("view", base.slice(1, 1, 3));
        d.insert("half", at::ones({2}, at::kHalf));
        d.insert("epoch", int64_t(3));
        d.insert("lrs", c10::List<double>({0.1, 0.01}));
        d.insert("name", std::string("ctx"));
        const std::vector<char> saved = torch::jit::pickle_save(c10::IValue(d));
        auto records = archiveRecords(std::string(saved.begin(), saved.end()));
        const std::string pickle = records.at("data.pkl");
        records.erase("data.pkl");
        records.erase("version");
        std::vector<std::pair<std::string, std::string>> rest(records.begin(), records.end());

        const QString name = QStringLiteral("fuzz.pt");
        const std::string file = path(name);
        auto check = [&](const std::string &pkl, const QString &what, bool mustFail) {
            auto all = rest;
            all.emplace_back("data.pkl", pkl);
            writeArchive(file, all);
            const QString msg = errorOf([&] { sep::io::readTorchArchive(file); });
            if (msg == QStringLiteral("NO EXCEPTION"))
                return !mustFail;
            if (!msg.contains(name)) {
                qWarning("%s: %s", qPrintable(what), qPrintable(msg));
                return false;
            }
            return true;
        };
        QVERIFY(check(pickle, QStringLiteral("intact"), false));
        for (size_t len = 0; len < pickle.size(); ++len)
            QVERIFY(check(pickle.substr(0, len), QStringLiteral("cut at %1").arg(len), true));

        std::mt19937 rng(1234);
        for (int n = 0; n < 400; ++n) {
            std::string bad = pickle;
            const int flips = 1 + int(rng() % 3);
            for (int k = 0; k < flips; ++k)
                bad[rng() % bad.size()] = char(rng() & 0xff);
            QVERIFY(check(bad, QStringLiteral("mutation %1").arg(n), false));
        }
    }
};

QTEST_GUILESS_MAIN(TestTensorIo)
#include "test_tensorio.moc"
