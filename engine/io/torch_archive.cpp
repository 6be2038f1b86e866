#include "engine/io/torch_archive.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/io/zip_directory.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <unordered_map>

namespace sep::io {

namespace {

using ValuePtr = std::shared_ptr<PickleValue>;

// Real files nest a handful of levels (CLIP's module tree is about ten); anything deeper is a
// corrupt or hostile pickle, and bounding it keeps every recursive walk off the stack limit.
constexpr size_t kMaxNesting = 1000;

const char *kindName(PickleValue::Kind k)
{
    switch (k) {
    case PickleValue::Kind::None: return "None";
    case PickleValue::Kind::Bool: return "bool";
    case PickleValue::Kind::Int: return "int";
    case PickleValue::Kind::Float: return "float";
    case PickleValue::Kind::String: return "str";
    case PickleValue::Kind::Bytes: return "bytes";
    case PickleValue::Kind::List: return "list";
    case PickleValue::Kind::Tuple: return "tuple";
    case PickleValue::Kind::Dict: return "dict";
    case PickleValue::Kind::Tensor: return "tensor";
    case PickleValue::Kind::Object: return "object";
    case PickleValue::Kind::Global: return "global";
    }
    return "?";
}

ValuePtr makeValue(PickleValue::Kind kind)
{
    auto v = std::make_shared<PickleValue>();
    v->kind = kind;
    return v;
}

ValuePtr makeInt(int64_t i)
{
    auto v = makeValue(PickleValue::Kind::Int);
    v->i = i;
    return v;
}

ValuePtr makeString(PickleValue::Kind kind, std::string s)
{
    auto v = makeValue(kind);
    v->s = std::move(s);
    return v;
}

std::string formatFloat(double f)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", f);
    return buf;
}

// Python dict keys may be any hashable value; optimizer state uses ints. Names must be strings.
std::string keyString(const PickleValue &k, int depth = 0)
{
    switch (k.kind) {
    case PickleValue::Kind::String:
    case PickleValue::Kind::Bytes:
    case PickleValue::Kind::Global: return k.s;
    case PickleValue::Kind::Int: return std::to_string(k.i);
    case PickleValue::Kind::Bool: return k.b ? "True" : "False";
    case PickleValue::Kind::Float: return formatFloat(k.f);
    case PickleValue::Kind::None: return "None";
    case PickleValue::Kind::Tuple: {
        // Bounded: a crafted key could nest tuples a million deep.
        if (depth > 8)
            return "(...)";
        std::string s = "(";
        for (size_t n = 0; n < k.items.size(); ++n)
            s += (n ? ", " : "") + keyString(*k.items[n], depth + 1);
        return s + ")";
    }
    default: return std::string("<") + kindName(k.kind) + ">";
    }
}

std::string hexByte(unsigned v)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", v & 0xffu);
    return buf;
}

// Frees a value graph without recursion, breaking any reference cycles a hostile pickle built.
void dismantle(std::vector<ValuePtr> work)
{
    while (!work.empty()) {
        ValuePtr v = std::move(work.back());
        work.pop_back();
        if (!v)
            continue;
        for (auto &c : v->items)
            work.push_back(std::move(c));
        for (auto &c : v->dict)
            work.push_back(std::move(c.second));
        v->items.clear();
        v->dict.clear();
    }
}

struct StorageType {
    const char *name;
    at::ScalarType type;
};

const StorageType kStorageTypes[] = {
    {"torch.FloatStorage", at::kFloat},       {"torch.DoubleStorage", at::kDouble},
    {"torch.HalfStorage", at::kHalf},         {"torch.BFloat16Storage", at::kBFloat16},
    {"torch.LongStorage", at::kLong},         {"torch.IntStorage", at::kInt},
    {"torch.ShortStorage", at::kShort},       {"torch.CharStorage", at::kChar},
    {"torch.ByteStorage", at::kByte},         {"torch.BoolStorage", at::kBool},
    {"torch.ComplexFloatStorage", at::kComplexFloat}, {"torch.ComplexDoubleStorage", at::kComplexDouble},
    {"torch.UntypedStorage", at::kByte},
};

// The zip container, with every failure of the library turned into a message naming the file.
class Archive {
    // Defined first: its deduced return type must be known where it is used.
    template <class F>
    auto guarded(const std::string &what, F f)
    {
        try {
            return f();
        } catch (const Error &) {
            throw;
        } catch (const c10::Error &e) {
            throw Error(m_path + ": " + what + " failed; the archive is corrupt or truncated: "
                        + e.what_without_backtrace());
        } catch (const std::bad_alloc &) {
            throw Error(m_path + ": " + what + " failed: out of memory (a corrupt size field?)");
        } catch (const std::exception &e) {
            throw Error(m_path + ": " + what + " failed: " + e.what());
        }
    }

public:
    explicit Archive(const std::string &path) : m_path(path)
    {
        checkNotLegacy();
        // Before LibTorch's reader, which allocates whatever an entry declares (it reads `version`
        // as it opens): every declared size is checked against the file here.
        m_directory = std::make_unique<ZipDirectory>(path);
        try {
            m_reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
        } catch (const c10::Error &e) {
            const std::string why = e.what_without_backtrace();
            if (why.find("maximum supported version") != std::string::npos)
                throw Error(path + ": written by a newer PyTorch than this program's LibTorch can read: " + why);
            throw Error(path + ": not a PyTorch zip archive or it is corrupt/truncated: " + why);
        } catch (const std::exception &e) {
            throw Error(path + ": not a PyTorch zip archive or it is corrupt/truncated: " + e.what());
        }
    }

    const std::string &path() const { return m_path; }

    bool hasRecord(const std::string &name)
    {
        return guarded("looking up record '" + name + "'", [&] { return m_reader->hasRecord(name); });
    }

    std::vector<std::string> records()
    {
        return guarded("listing records", [&] { return m_reader->getAllRecords(); });
    }

    std::pair<at::DataPtr, size_t> record(const std::string &name)
    {
        if (!hasRecord(name))
            throw Error(m_path + ": the archive has no record '" + name + "'");
        if (!m_directory->findRecord(name))
            throw Error(m_path + ": record '" + name + "' is not where the zip directory lists its entries; "
                                 "the archive is corrupt");
        return guarded("reading record '" + name + "'", [&] {
            auto [ptr, size] = m_reader->getRecord(name);
            return std::make_pair(std::move(ptr), size);
        });
    }

    std::string recordText(const std::string &name)
    {
        auto [ptr, size] = record(name);
        return std::string(static_cast<const char *>(ptr.get()), size);
    }

private:
    // The pre-1.6 format is a bare pickle stream (or, older still, a tar); reading it needs Python's
    // own classes, so the honest answer is to say how to convert it.
    void checkNotLegacy()
    {
        std::error_code ec;
        if (std::filesystem::is_directory(m_path, ec))
            throw Error(m_path + ": is a directory, not a PyTorch archive");
        std::ifstream in = openRegularFile(m_path, "PyTorch archive");
        char head[512] = {};
        in.read(head, sizeof head);
        const auto got = static_cast<size_t>(in.gcount());
        if (got == 0)
            throw Error(m_path + ": the file is empty (0 bytes); it is not a PyTorch archive");
        const bool pickle = got >= 2 && static_cast<unsigned char>(head[0]) == 0x80 && head[1] == 2;
        const bool tar = got >= 262 && std::memcmp(head + 257, "ustar", 5) == 0;
        if (pickle || tar)
            throw Error(m_path + ": this is the legacy (PyTorch < 1.6) torch.save format, which is not supported. "
                                 "Ask its source for a safetensors file or one saved by PyTorch 1.6 or later. Do not "
                                 "load it in Python to convert it unless you trust its source: unpickling runs any "
                                 "code the file holds.");
        if (got < 4 || std::memcmp(head, "PK\x03\x04", 4) != 0)
            throw Error(m_path + ": not a PyTorch zip archive (it does not begin with a zip header); "
                                 "it is another kind of file or it is corrupt/truncated");
    }

    std::string m_path;
    std::unique_ptr<ZipDirectory> m_directory;
    std::unique_ptr<caffe2::serialize::PyTorchStreamReader> m_reader;
};

// Storages as 1-D tensors over the record's bytes; several tensors (views) share one storage.
class StorageCache {
public:
    explicit StorageCache(Archive &archive) : m_archive(archive) {}

    at::Tensor get(const std::string &key, at::ScalarType type, int64_t numel, const std::string &where)
    {
        auto raw = m_raw.find(key);
        if (raw == m_raw.end()) {
            auto rec = m_archive.record("data/" + key);
            auto owner = std::make_shared<at::DataPtr>(std::move(rec.first));
            raw = m_raw.emplace(key, std::make_pair(owner, rec.second)).first;
        }
        const auto &[owner, size] = raw->second;
        const auto item = static_cast<uint64_t>(c10::elementSize(type));
        if (numel < 0 || static_cast<uint64_t>(numel) > size / item)
            throw Error(where + ": storage '" + key + "' should hold " + std::to_string(numel) + " "
                        + c10::toString(type) + " elements but record 'data/" + key + "' has only "
                        + std::to_string(size) + " bytes");
        if (numel == 0)
            return at::empty({0}, at::TensorOptions().dtype(type));
        // The record buffer comes from c10's allocator (64-byte aligned), so any dtype may view it.
        auto keepAlive = owner;
        return at::from_blob(owner->get(), {numel}, [keepAlive](void *) {}, at::TensorOptions().dtype(type));
    }

private:
    Archive &m_archive;
    std::unordered_map<std::string, std::pair<std::shared_ptr<at::DataPtr>, uint64_t>> m_raw;
};

class Unpickler {
public:
    Unpickler(std::string where, const char *data, size_t size, StorageCache *storages)
        : m_where(std::move(where)), m_data(reinterpret_cast<const unsigned char *>(data)), m_size(size),
          m_storages(storages)
    {
    }

    ~Unpickler()
    {
        if (!m_succeeded) {
            std::vector<ValuePtr> all = std::move(m_stack);
            for (auto &[k, v] : m_memo)
                all.push_back(std::move(v));
            all.push_back(std::move(m_result));
            for (auto &[k, v] : m_storageValues)
                all.push_back(std::move(v));
            dismantle(std::move(all));
        }
    }

    ValuePtr run()
    {
        for (;;) {
            m_opOffset = m_pos;
            const unsigned op = readU8("an opcode");
            if (op == '.') {
                if (stackTop() == 0)
                    fail("STOP with an empty stack");
                m_result = m_stack.back();
                checkStructure(m_result);
                m_succeeded = true;
                return m_result;
            }
            step(op);
        }
    }

private:
    [[noreturn]] void fail(const std::string &what) const
    {
        throw Error(m_where + ": " + what + " at byte " + std::to_string(m_opOffset)
                    + "; the pickle is corrupt or was not written by PyTorch");
    }

    // For well-formed content this reader deliberately does not handle.
    [[noreturn]] void unsupported(const std::string &what) const
    {
        throw Error(m_where + ": " + what + " (at byte " + std::to_string(m_opOffset) + ")");
    }

    const unsigned char *need(uint64_t n, const char *what)
    {
        if (n > m_size - m_pos)
            throw Error(m_where + ": the pickle ends at byte " + std::to_string(m_size) + " while reading " + what
                        + " (needs " + std::to_string(n) + " bytes at " + std::to_string(m_pos)
                        + "); the record is truncated or corrupt");
        const unsigned char *p = m_data + m_pos;
        m_pos += n;
        return p;
    }

    unsigned readU8(const char *what) { return *need(1, what); }

    uint64_t readLe(int bytes, const char *what)
    {
        const unsigned char *p = need(bytes, what);
        uint64_t v = 0;
        for (int k = bytes - 1; k >= 0; --k)
            v = (v << 8) | p[k];
        return v;
    }

    std::string readBytes(uint64_t n, const char *what)
    {
        const unsigned char *p = need(n, what);
        return std::string(reinterpret_cast<const char *>(p), n);
    }

    std::string readLine(const char *what)
    {
        const void *nl = std::memchr(m_data + m_pos, '\n', m_size - m_pos);
        if (!nl)
            need(m_size - m_pos + 1, what);   // throws the truncation message
        const size_t len = static_cast<const unsigned char *>(nl) - (m_data + m_pos);
        std::string s = readBytes(len, what);
        m_pos += 1;
        return s;
    }

    uint64_t readDecimalLine(const char *what)
    {
        const std::string s = readLine(what);
        if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
            fail(std::string("bad ") + what + " '" + s.substr(0, 40) + "'");
        return std::stoull(s);
    }

    // Values above the innermost MARK belong to it; popping into them means a garbled stream.
    size_t fence() const { return m_marks.empty() ? 0 : m_marks.back(); }
    size_t stackTop() const { return m_stack.size() - fence(); }

    ValuePtr pop()
    {
        if (stackTop() == 0)
            fail("stack underflow");
        ValuePtr v = std::move(m_stack.back());
        m_stack.pop_back();
        return v;
    }

    ValuePtr &top()
    {
        if (stackTop() == 0)
            fail("stack underflow");
        return m_stack.back();
    }

    std::vector<ValuePtr> popMark()
    {
        if (m_marks.empty())
            fail("no MARK to pop to");
        const size_t at = m_marks.back();
        m_marks.pop_back();
        std::vector<ValuePtr> items(std::make_move_iterator(m_stack.begin() + at),
                                    std::make_move_iterator(m_stack.end()));
        m_stack.resize(at);
        return items;
    }

    void push(ValuePtr v) { m_stack.push_back(std::move(v)); }

    void memoPut(uint64_t key)
    {
        m_memo[key] = top();
    }

    void memoGet(uint64_t key)
    {
        auto it = m_memo.find(key);
        if (it == m_memo.end())
            fail("memo entry " + std::to_string(key) + " was never stored");
        push(it->second);
    }

    ValuePtr makeTuple(std::vector<ValuePtr> items)
    {
        auto v = makeValue(PickleValue::Kind::Tuple);
        v->items = std::move(items);
        return v;
    }

    void appendTo(const ValuePtr &target, std::vector<ValuePtr> items)
    {
        if (target->kind != PickleValue::Kind::List && target->kind != PickleValue::Kind::Object)
            fail(std::string("APPEND to a ") + kindName(target->kind));
        for (auto &i : items)
            target->items.push_back(std::move(i));
    }

    void setItems(const ValuePtr &target, std::vector<ValuePtr> kv)
    {
        if (target->kind != PickleValue::Kind::Dict && target->kind != PickleValue::Kind::Object)
            fail(std::string("SETITEM on a ") + kindName(target->kind));
        if (kv.size() % 2)
            fail("SETITEMS with an odd number of values");
        for (size_t n = 0; n < kv.size(); n += 2)
            target->dict.emplace_back(keyString(*kv[n]), std::move(kv[n + 1]));
    }

    static int64_t asInt(const PickleValue &v, bool &ok)
    {
        ok = v.kind == PickleValue::Kind::Int || v.kind == PickleValue::Kind::Bool;
        return v.kind == PickleValue::Kind::Bool ? v.b : v.i;
    }

    std::vector<int64_t> intSequence(const ValuePtr &v, const char *what)
    {
        if (v->kind != PickleValue::Kind::Tuple && v->kind != PickleValue::Kind::List)
            fail(std::string("tensor ") + what + " is a " + kindName(v->kind) + ", not a tuple of ints");
        if (v->items.size() > 64)
            fail(std::string("tensor ") + what + " has " + std::to_string(v->items.size()) + " dimensions");
        std::vector<int64_t> out;
        for (const auto &i : v->items) {
            bool ok = false;
            out.push_back(asInt(*i, ok));
            if (!ok || out.back() < 0)
                fail(std::string("tensor ") + what + " holds a " + kindName(i->kind)
                     + (ok ? " that is negative" : "") + ", expected non-negative ints");
        }
        return out;
    }

    ValuePtr rebuildTensor(const std::vector<ValuePtr> &args, const std::string &fn)
    {
        if (args.size() < 4)
            fail(fn + " called with " + std::to_string(args.size()) + " arguments, expected at least 4");
        const PickleValue &storage = *args[0];
        if (storage.kind != PickleValue::Kind::Object || !storage.tensor.defined() || storage.items.size() != 1)
            fail(fn + " expects a storage as its first argument, got a " + std::string(kindName(storage.kind)));
        bool ok = false;
        const int64_t offset = asInt(*args[1], ok);
        if (!ok || offset < 0)
            fail(fn + ": storage offset is not a non-negative int");
        const auto sizes = intSequence(args[2], "size");
        const auto strides = intSequence(args[3], "stride");
        if (sizes.size() != strides.size())
            fail(fn + ": size has " + std::to_string(sizes.size()) + " dimensions but stride has "
                 + std::to_string(strides.size()));

        const int64_t numel = storage.tensor.numel();
        bool empty = false;
        __int128 last = offset;
        for (size_t d = 0; d < sizes.size(); ++d) {
            empty = empty || sizes[d] == 0;
            // Capped at numel: every term is non-negative, and 64 huge terms could overflow.
            if (sizes[d] > 0 && last < numel)
                last += static_cast<__int128>(sizes[d] - 1) * strides[d];
        }
        if (!empty && last >= numel)
            fail(fn + ": a tensor with offset " + std::to_string(offset) + ", size "
                 + keyString(*args[2]) + " and stride " + keyString(*args[3]) + " reaches past its storage '"
                 + storage.items[0]->s + "' of " + std::to_string(numel) + " elements");
        if (empty && offset > numel)
            fail(fn + ": storage offset " + std::to_string(offset) + " lies past the storage's "
                 + std::to_string(numel) + " elements");
        // Zero strides (expanded views) could describe a huge tensor over a tiny storage; copying one
        // out would exhaust memory, and no weight file holds such a thing.
        __int128 viewNumel = 1;
        for (int64_t s : sizes)
            viewNumel = std::min<__int128>(viewNumel * s, static_cast<__int128>(1) << 62);
        if (viewNumel > numel && viewNumel > (int64_t(1) << 24))
            unsupported(fn + ": a view of size " + keyString(*args[2]) + " over a storage of only " + std::to_string(numel)
                 + " elements (overlapping strides " + keyString(*args[3]) + ") is not supported");

        auto v = makeValue(PickleValue::Kind::Tensor);
        // A copy with its own memory: views must not keep a whole shared storage alive, and callers
        // expect contiguous tensors.
        v->tensor = storage.tensor.as_strided(sizes, strides, offset).clone(at::MemoryFormat::Contiguous);
        return v;
    }

    ValuePtr persistentLoad(const ValuePtr &pid)
    {
        if (pid->kind != PickleValue::Kind::Tuple && pid->kind != PickleValue::Kind::List)
            fail(std::string("persistent id is a ") + kindName(pid->kind) + ", expected a tuple");
        const auto &it = pid->items;
        if (it.size() < 5 || it[0]->kind != PickleValue::Kind::String || it[0]->s != "storage")
            fail("persistent id is not a ('storage', type, key, location, size) tuple");
        if (it[1]->kind != PickleValue::Kind::Global)
            fail("storage type is a " + std::string(kindName(it[1]->kind)) + ", expected a torch.*Storage class");
        const StorageType *st = nullptr;
        for (const auto &s : kStorageTypes)
            if (it[1]->s == s.name)
                st = &s;
        if (!st)
            unsupported("storage type '" + it[1]->s + "' is not supported");
        const std::string key = keyString(*it[2]);
        bool ok = false;
        const int64_t numel = asInt(*it[4], ok);
        if (!ok || numel < 0)
            fail("storage '" + key + "' has no valid element count");
        if (!m_storages)
            fail("a tensor storage appears in a pickle that cannot hold any");

        const std::string cacheKey = key + '\n' + st->name;
        auto found = m_storageValues.find(cacheKey);
        if (found != m_storageValues.end())
            return found->second;
        // A storage is an object of its storage class whose one argument is the record key.
        auto v = makeValue(PickleValue::Kind::Object);
        v->s = st->name;
        v->items.push_back(makeString(PickleValue::Kind::String, key));
        v->tensor = m_storages->get(key, st->type, numel, m_where);
        m_storageValues.emplace(cacheKey, v);
        return v;
    }

    // What calling `callable(*args)` means for the handful of callables torch files use; any other
    // class becomes a generic object that keeps its name and arguments.
    ValuePtr construct(const ValuePtr &callable, const ValuePtr &argsValue, int depth = 0)
    {
        if (argsValue->kind != PickleValue::Kind::Tuple && argsValue->kind != PickleValue::Kind::List)
            fail(std::string("call arguments are a ") + kindName(argsValue->kind) + ", expected a tuple");
        const auto &args = argsValue->items;
        const std::string name = callable->kind == PickleValue::Kind::Global ? callable->s : std::string();

        if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor")
            return rebuildTensor(args, name);
        if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
            if (args.empty() || args[0]->kind != PickleValue::Kind::Tensor)
                fail(name + " without a tensor argument");
            return args[0];
        }
        if (name == "torch._tensor._rebuild_from_type_v2") {
            if (args.size() < 3 || depth > 8)
                fail(name + " called with too few arguments or nested in itself");
            return construct(args[0], args[2], depth + 1);
        }
        if (name.rfind("torch._utils._rebuild_", 0) == 0)
            unsupported("tensor kind '" + name + "' is not supported (only dense CPU-loadable tensors are: "
                 "sparse, quantized and other special tensors cannot be read)");
        if (name == "collections.OrderedDict" || name == "collections.defaultdict" || name == "builtins.dict") {
            auto d = makeValue(PickleValue::Kind::Dict);
            // OrderedDict([(k, v), ...]) is legal though torch writes the items with SETITEMS.
            if (name == "collections.OrderedDict" && !args.empty() && args[0]->kind == PickleValue::Kind::List)
                for (const auto &pair : args[0]->items)
                    if (pair->kind == PickleValue::Kind::Tuple && pair->items.size() == 2)
                        d->dict.emplace_back(keyString(*pair->items[0]), pair->items[1]);
            return d;
        }
        // TorchScript wraps typed containers in these; they return their first argument unchanged.
        if (name == "torch.jit._pickle.restore_type_tag" || name == "torch.jit._pickle.build_intlist"
            || name == "torch.jit._pickle.build_tensorlist" || name == "torch.jit._pickle.build_doublelist"
            || name == "torch.jit._pickle.build_boollist") {
            if (args.empty())
                fail(name + " without an argument");
            return args[0];
        }
        if (name == "torch.device") {
            std::string dev = args.empty() ? std::string() : keyString(*args[0]);
            if (args.size() > 1 && args[1]->kind == PickleValue::Kind::Int)
                dev += ":" + std::to_string(args[1]->i);
            return makeString(PickleValue::Kind::String, dev);
        }
        if (name == "torch.Size")
            return args.empty() ? makeTuple({}) : args[0];
        if (name == "builtins.set" || name == "builtins.frozenset" || name == "__builtin__.set") {
            auto l = makeValue(PickleValue::Kind::List);
            if (!args.empty())
                l->items = args[0]->items;
            return l;
        }
        // Python 3 writes bytes in protocol 2 as _codecs.encode(latin-1 text, 'latin1').
        if (name == "_codecs.encode" && !args.empty() && args[0]->kind == PickleValue::Kind::String) {
            std::string out;
            const std::string &in = args[0]->s;
            for (size_t k = 0; k < in.size(); ++k) {
                const auto c = static_cast<unsigned char>(in[k]);
                if (c < 0x80) {
                    out += static_cast<char>(c);
                } else if ((c == 0xc2 || c == 0xc3) && k + 1 < in.size()) {
                    out += static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(in[++k]) & 0x3f));
                } else {
                    out += static_cast<char>(c);
                }
            }
            return makeString(PickleValue::Kind::Bytes, out);
        }

        auto obj = makeValue(PickleValue::Kind::Object);
        obj->s = name.empty() ? std::string("<") + kindName(callable->kind) + ">" : name;
        obj->items = args;
        // Protocol-0/1 style objects name their class in the first argument.
        if ((name == "copyreg._reconstructor" || name == "copyreg.__newobj__") && !args.empty() && args[0]->kind == PickleValue::Kind::Global)
            obj->s = args[0]->s;
        return obj;
    }

    void build(const ValuePtr &target, const ValuePtr &state)
    {
        // Only generic objects keep state; a dict's state (state_dict's `_metadata`) and a tensor's
        // are Python attributes nobody here needs.
        if (target->kind != PickleValue::Kind::Object)
            return;
        auto take = [&](const ValuePtr &d) {
            if (d->kind == PickleValue::Kind::Dict)
                for (const auto &kv : d->dict)
                    target->dict.push_back(kv);
        };
        if (state->kind == PickleValue::Kind::Dict) {
            take(state);
        } else if (state->kind == PickleValue::Kind::Tuple && state->items.size() == 2) {
            take(state->items[0]);
            take(state->items[1]);
        }
    }

    ValuePtr integerFromBytes(const std::string &bytes)
    {
        const size_t n = bytes.size();
        if (n == 0)
            return makeInt(0);
        const bool negative = static_cast<unsigned char>(bytes[n - 1]) & 0x80;
        bool fits = true;
        for (size_t k = 8; k < n; ++k)
            fits = fits && static_cast<unsigned char>(bytes[k]) == (negative ? 0xff : 0x00);
        if (fits && n > 8)
            fits = (static_cast<unsigned char>(bytes[7]) & 0x80) == (negative ? 0x80 : 0);
        if (fits) {
            uint64_t v = negative ? ~uint64_t(0) : 0;
            for (size_t k = std::min<size_t>(n, 8); k-- > 0;)
                v = (v << 8) | static_cast<unsigned char>(bytes[k]);
            if (n < 8 && !negative)
                v &= (uint64_t(1) << (8 * n)) - 1;
            return makeInt(static_cast<int64_t>(v));
        }
        // Integers beyond 64 bits (random seeds, hashes) never describe tensors; keep an approximation.
        long double mag = 0;
        for (size_t k = n; k-- > 0;) {
            const auto b = static_cast<unsigned char>(bytes[k]);
            mag = mag * 256 + (negative ? static_cast<unsigned char>(~b) : b);
        }
        auto v = makeValue(PickleValue::Kind::Float);
        v->f = static_cast<double>(negative ? -(mag + 1) : mag);
        return v;
    }

    void step(unsigned op)
    {
        using K = PickleValue::Kind;
        switch (op) {
        case 0x80: {   // PROTO
            const unsigned proto = readU8("the protocol number");
            if (proto > 5)
                unsupported("pickle protocol " + std::to_string(proto) + " is newer than 5, the newest this reader knows");
            break;
        }
        case 0x95: readLe(8, "a frame length"); break;   // FRAME: the data is already all in memory
        case '(': m_marks.push_back(m_stack.size()); break;
        case '0':   // POP (Python also lets it drop an empty MARK)
            if (stackTop() == 0 && !m_marks.empty())
                m_marks.pop_back();
            else
                pop();
            break;
        case '1': popMark(); break;
        case '2': push(top()); break;
        case 'N': push(makeValue(K::None)); break;
        case 0x88:
        case 0x89: {
            auto v = makeValue(K::Bool);
            v->b = op == 0x88;
            push(v);
            break;
        }
        case 'J': push(makeInt(static_cast<int32_t>(readLe(4, "BININT")))); break;
        case 'K': push(makeInt(static_cast<int64_t>(readLe(1, "BININT1")))); break;
        case 'M': push(makeInt(static_cast<int64_t>(readLe(2, "BININT2")))); break;
        case 0x8a: push(integerFromBytes(readBytes(readLe(1, "LONG1 length"), "LONG1"))); break;
        case 0x8b: {
            const auto n = static_cast<int32_t>(readLe(4, "LONG4 length"));
            if (n < 0)
                fail("negative LONG4 length");
            push(integerFromBytes(readBytes(static_cast<uint64_t>(n), "LONG4")));
            break;
        }
        case 'G': {
            // The one big-endian field of the format.
            const unsigned char *p = need(8, "BINFLOAT");
            uint64_t bits = 0;
            for (int k = 0; k < 8; ++k)
                bits = (bits << 8) | p[k];
            auto v = makeValue(K::Float);
            std::memcpy(&v->f, &bits, 8);
            push(v);
            break;
        }
        case 0x8c: push(makeString(K::String, readBytes(readLe(1, "a string length"), "a string"))); break;
        case 'X': push(makeString(K::String, readBytes(readLe(4, "a string length"), "a string"))); break;
        case 0x8d: push(makeString(K::String, readBytes(readLe(8, "a string length"), "a string"))); break;
        case 'C': push(makeString(K::Bytes, readBytes(readLe(1, "a bytes length"), "bytes"))); break;
        case 'B': push(makeString(K::Bytes, readBytes(readLe(4, "a bytes length"), "bytes"))); break;
        case 0x8e: push(makeString(K::Bytes, readBytes(readLe(8, "a bytes length"), "bytes"))); break;
        case 'U': push(makeString(K::String, readBytes(readLe(1, "a string length"), "a string"))); break;
        case 'T': {
            const auto n = static_cast<int32_t>(readLe(4, "a string length"));
            if (n < 0)
                fail("negative BINSTRING length");
            push(makeString(K::String, readBytes(static_cast<uint64_t>(n), "a string")));
            break;
        }
        case ']': push(makeValue(K::List)); break;
        case 'a': {
            ValuePtr item = pop();
            appendTo(top(), {std::move(item)});
            break;
        }
        case 'e': {
            auto items = popMark();
            appendTo(top(), std::move(items));
            break;
        }
        case 'l': {
            auto l = makeValue(K::List);
            l->items = popMark();
            push(l);
            break;
        }
        case ')': push(makeTuple({})); break;
        case 't': push(makeTuple(popMark())); break;
        case 0x85:
        case 0x86:
        case 0x87: {
            std::vector<ValuePtr> items(op - 0x84);
            for (size_t k = items.size(); k-- > 0;)
                items[k] = pop();
            push(makeTuple(std::move(items)));
            break;
        }
        case '}': push(makeValue(K::Dict)); break;
        case 'd': {
            auto d = makeValue(K::Dict);
            auto kv = popMark();
            setItems(d, std::move(kv));
            push(d);
            break;
        }
        case 's': {
            ValuePtr v = pop();
            ValuePtr k = pop();
            setItems(top(), {std::move(k), std::move(v)});
            break;
        }
        case 'u': {
            auto kv = popMark();
            setItems(top(), std::move(kv));
            break;
        }
        case 0x8f: push(makeValue(K::List)); break;   // EMPTY_SET: a set is kept as a list
        case 0x90: {
            auto items = popMark();
            appendTo(top(), std::move(items));
            break;
        }
        case 0x91: {
            auto l = makeValue(K::List);
            l->items = popMark();
            push(l);
            break;
        }
        case 'c': {
            std::string module = readLine("a GLOBAL module name");
            std::string name = readLine("a GLOBAL name");
            push(makeString(K::Global, module + "." + name));
            break;
        }
        case 0x93: {
            ValuePtr name = pop();
            ValuePtr module = pop();
            if (name->kind != K::String || module->kind != K::String)
                fail("STACK_GLOBAL needs two strings");
            push(makeString(K::Global, module->s + "." + name->s));
            break;
        }
        case 'R': {
            ValuePtr args = pop();
            ValuePtr callable = pop();
            push(construct(callable, args));
            break;
        }
        case 0x81: {
            ValuePtr args = pop();
            ValuePtr cls = pop();
            push(construct(cls, args));
            break;
        }
        case 0x92: {
            pop();   // kwargs: no class we rebuild takes any
            ValuePtr args = pop();
            ValuePtr cls = pop();
            push(construct(cls, args));
            break;
        }
        case 'b': {
            ValuePtr state = pop();
            build(top(), state);
            break;
        }
        case 'Q': {
            ValuePtr pid = pop();
            push(persistentLoad(pid));
            break;
        }
        case 'p': memoPut(readDecimalLine("PUT index")); break;
        case 'q': memoPut(readLe(1, "BINPUT index")); break;
        case 'r': memoPut(readLe(4, "LONG_BINPUT index")); break;
        case 'g': memoGet(readDecimalLine("GET index")); break;
        case 'h': memoGet(readLe(1, "BINGET index")); break;
        case 'j': memoGet(readLe(4, "LONG_BINGET index")); break;
        case 0x94: memoPut(m_memo.size()); break;
        default:
            fail("unsupported pickle opcode " + hexByte(op)
                 + (op >= 0x20 && op < 0x7f ? std::string(" ('") + static_cast<char>(op) + "')" : std::string()));
        }
    }

    // Cycles and absurd nesting are only possible in a crafted file, but either would make every
    // later recursive walk (or destruction) overflow the stack, so they are refused here.
    void checkStructure(const ValuePtr &root)
    {
        std::unordered_map<const PickleValue *, bool> done;   // false: on the current path
        struct Frame {
            const PickleValue *v;
            size_t next;
        };
        std::vector<Frame> path{{root.get(), 0}};
        done[root.get()] = false;
        while (!path.empty()) {
            Frame &f = path.back();
            const size_t nItems = f.v->items.size();
            if (f.next >= nItems + f.v->dict.size()) {
                done[f.v] = true;
                path.pop_back();
                continue;
            }
            const PickleValue *child =
                f.next < nItems ? f.v->items[f.next].get() : f.v->dict[f.next - nItems].second.get();
            ++f.next;
            auto it = done.find(child);
            if (it != done.end()) {
                if (!it->second)
                    fail("the pickled data refers to itself (a reference cycle)");
                continue;
            }
            if (path.size() >= kMaxNesting)
                fail("values nested more than " + std::to_string(kMaxNesting) + " levels deep");
            done[child] = false;
            path.push_back({child, 0});
        }
    }

    std::string m_where;
    const unsigned char *m_data;
    size_t m_size;
    size_t m_pos = 0;
    size_t m_opOffset = 0;
    StorageCache *m_storages;
    std::vector<ValuePtr> m_stack;
    std::vector<size_t> m_marks;
    std::unordered_map<uint64_t, ValuePtr> m_memo;
    std::unordered_map<std::string, ValuePtr> m_storageValues;
    ValuePtr m_result;
    bool m_succeeded = false;
};

ValuePtr unpickleData(Archive &archive)
{
    if (archive.hasRecord("byteorder")) {
        const std::string order = archive.recordText("byteorder");
        if (order != "little")
            throw Error(archive.path() + ": the archive stores tensors in '" + order
                        + "' byte order; only little-endian archives can be read");
    }
    if (!archive.hasRecord("data.pkl"))
        throw Error(archive.path() + ": the zip archive has no 'data.pkl' record, so it is not a file written by "
                                     "torch.save or torch.jit.save");
    auto [ptr, size] = archive.record("data.pkl");
    StorageCache storages(archive);
    const std::string where = archive.path() + ": record 'data.pkl'";
    Unpickler u(where, static_cast<const char *>(ptr.get()), size, &storages);
    try {
        return u.run();
    } catch (const c10::Error &e) {
        // Everything is validated before LibTorch sees it; this is a last line of defence.
        throw Error(where + ": " + e.what_without_backtrace());
    } catch (const std::bad_alloc &) {
        throw Error(where + ": out of memory while rebuilding the tensors");
    }
}

std::string joinName(const std::string &prefix, const std::string &name)
{
    return prefix.empty() ? name : prefix + "." + name;
}

// Which attributes of a TorchScript class are parameters or buffers, read from the class
// definition in `code/` (`__parameters__ = [...]`, `__buffers__ = [...]`). Plain tensor attributes
// (OpenAI's `attn_mask`, for one) are not, and state_dict() leaves them out.
class ScriptClasses {
public:
    explicit ScriptClasses(Archive &archive) : m_archive(archive) {}

    const std::set<std::string> *stateAttributes(const std::string &qualifiedName)
    {
        auto it = m_cache.find(qualifiedName);
        if (it == m_cache.end())
            it = m_cache.emplace(qualifiedName, lookup(qualifiedName)).first;
        return it->second ? &*it->second : nullptr;
    }

private:
    static std::vector<std::string> quotedNames(const std::string &text, size_t from)
    {
        std::vector<std::string> out;
        const size_t open = text.find('[', from);
        const size_t close = text.find(']', open);
        if (open == std::string::npos || close == std::string::npos)
            return out;
        for (size_t k = open; k < close; ++k) {
            if (text[k] != '"' && text[k] != '\'')
                continue;
            const size_t end = text.find(text[k], k + 1);
            if (end == std::string::npos || end > close)
                break;
            out.push_back(text.substr(k + 1, end - k - 1));
            k = end;
        }
        return out;
    }

    std::optional<std::set<std::string>> lookup(const std::string &qualifiedName)
    {
        const size_t dot = qualifiedName.rfind('.');
        if (dot == std::string::npos)
            return std::nullopt;
        std::string file = "code/" + qualifiedName.substr(0, dot) + ".py";
        std::replace(file.begin() + 5, file.end() - 3, '.', '/');
        if (!m_archive.hasRecord(file))
            return std::nullopt;
        const std::string src = m_archive.recordText(file);
        const std::string header = "class " + qualifiedName.substr(dot + 1) + "(";
        size_t start = 0;
        while ((start = src.find(header, start)) != std::string::npos && start != 0 && src[start - 1] != '\n')
            start += header.size();
        if (start == std::string::npos)
            return std::nullopt;
        // The class body runs until the next line that is not indented.
        size_t end = src.find('\n', start);
        while (end != std::string::npos && end + 1 < src.size()
               && (src[end + 1] == ' ' || src[end + 1] == '\t' || src[end + 1] == '\n'))
            end = src.find('\n', end + 1);
        const std::string body = src.substr(start, end == std::string::npos ? std::string::npos : end - start);
        const size_t params = body.find("__parameters__ = [");
        const size_t buffers = body.find("__buffers__ = [");
        // Without both lists we cannot tell buffers from other tensors; keep every tensor then.
        if (params == std::string::npos || buffers == std::string::npos)
            return std::nullopt;
        std::set<std::string> names;
        for (auto &n : quotedNames(body, params))
            names.insert(n);
        for (auto &n : quotedNames(body, buffers))
            names.insert(n);
        return names;
    }

    Archive &m_archive;
    std::map<std::string, std::optional<std::set<std::string>>> m_cache;
};

void walk(const PickleValue &v, const std::string &name, TensorMap &out, ScriptClasses *script, size_t depth);

// torch.save(model) pickles the nn.Module object itself; its state_dict() is `_parameters`, the
// persistent part of `_buffers`, then `_modules`, whatever else its __dict__ holds.
bool isPickledModule(const PickleValue &v)
{
    const PickleValue *params = v.find("_parameters");
    const PickleValue *modules = v.find("_modules");
    return params && modules && params->kind == PickleValue::Kind::Dict && modules->kind == PickleValue::Kind::Dict;
}

void walkPickledModule(const PickleValue &v, const std::string &name, TensorMap &out, size_t depth)
{
    std::set<std::string> nonPersistent;
    if (const PickleValue *np = v.find("_non_persistent_buffers_set"))
        for (const auto &item : np->items)
            nonPersistent.insert(item->s);
    for (const auto &[key, child] : v.get("_parameters").dict)
        if (child->kind == PickleValue::Kind::Tensor)
            out[joinName(name, key)] = child->tensor;
    if (const PickleValue *buffers = v.find("_buffers"))
        for (const auto &[key, child] : buffers->dict)
            if (child->kind == PickleValue::Kind::Tensor && !nonPersistent.count(key))
                out[joinName(name, key)] = child->tensor;
    for (const auto &[key, child] : v.get("_modules").dict)
        walk(*child, joinName(name, key), out, nullptr, depth + 1);
}

void walk(const PickleValue &v, const std::string &name, TensorMap &out, ScriptClasses *script, size_t depth)
{
    using K = PickleValue::Kind;
    if (depth > kMaxNesting)
        throw Error("collectTensors: values nested more than " + std::to_string(kMaxNesting)
                    + " levels deep under '" + name + "' (a reference cycle?)");
    switch (v.kind) {
    case K::Tensor: out[name] = v.tensor; break;
    case K::Dict:
        for (const auto &[key, child] : v.dict)
            walk(*child, joinName(name, key), out, script, depth + 1);
        break;
    case K::List:
    case K::Tuple:
        for (size_t n = 0; n < v.items.size(); ++n)
            walk(*v.items[n], joinName(name, std::to_string(n)), out, script, depth + 1);
        break;
    case K::Object: {
        if (!script && isPickledModule(v)) {
            walkPickledModule(v, name, out, depth);
            break;
        }
        const std::set<std::string> *state = script ? script->stateAttributes(v.s) : nullptr;
        for (const auto &[key, child] : v.dict) {
            if (state) {
                // A module's state_dict() is its parameters and buffers, then its sub-modules'.
                if (child->kind == K::Tensor && state->count(key))
                    out[joinName(name, key)] = child->tensor;
                else if (child->kind == K::Object)
                    walk(*child, joinName(name, key), out, script, depth + 1);
                continue;
            }
            walk(*child, joinName(name, key), out, script, depth + 1);
        }
        break;
    }
    default: break;
    }
}

} // namespace

const PickleValue *PickleValue::find(const std::string &key) const
{
    if (kind != Kind::Dict && kind != Kind::Object)
        return nullptr;
    // Later entries win, as a later assignment does in Python.
    for (auto it = dict.rbegin(); it != dict.rend(); ++it)
        if (it->first == key)
            return it->second.get();
    return nullptr;
}

const PickleValue &PickleValue::get(const std::string &key) const
{
    if (const PickleValue *v = find(key))
        return *v;
    std::string msg = "no entry '" + key + "' in the pickled " + kindName(kind);
    if (kind == Kind::Object)
        msg += " '" + s + "'";
    if (kind == Kind::Dict || kind == Kind::Object) {
        msg += dict.empty() ? " (it is empty)" : " (entries:";
        for (size_t n = 0; n < dict.size() && n < 12; ++n)
            msg += " '" + dict[n].first + "'";
        if (dict.size() > 12)
            msg += " and " + std::to_string(dict.size() - 12) + " more";
        if (!dict.empty())
            msg += ")";
    }
    throw Error(msg);
}

PickleValue readTorchArchive(const std::string &path)
{
    Archive archive(path);
    ValuePtr root = unpickleData(archive);
    return *root;
}

TensorMap collectTensors(const PickleValue &root, const std::string &prefix)
{
    TensorMap out;
    walk(root, prefix, out, nullptr, 0);
    return out;
}

TensorMap readTorchScriptTensors(const std::string &path)
{
    Archive archive(path);
    ValuePtr root = unpickleData(archive);
    if (root->kind != PickleValue::Kind::Object)
        throw Error(path + ": data.pkl holds a " + std::string(kindName(root->kind))
                    + ", not a TorchScript module; is this a torch.save file rather than torch.jit.save?");
    ScriptClasses classes(archive);
    TensorMap out;
    walk(*root, {}, out, &classes, 0);
    return out;
}

bool looksLikeTorchArchive(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    if (!in.read(magic, 4) || std::memcmp(magic, "PK\x03\x04", 4) != 0)
        return false;
    try {
        Archive archive(path);
        return archive.hasRecord("data.pkl");
    } catch (const std::exception &) {
        return false;
    }
}

bool isTorchScriptArchive(const std::string &path)
{
    Archive archive(path);
    for (const std::string &r : archive.records())
        if (r == "constants.pkl" || r.rfind("code/", 0) == 0)
            return true;
    return false;
}

} // namespace sep::io
