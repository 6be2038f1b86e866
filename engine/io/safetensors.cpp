#include "engine/io/safetensors.h"

#include "engine/core/error.h"
#include "engine/core/files.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sep::io {

namespace {

// A header larger than this is not a tensor index but a corrupt length field; refusing it keeps a
// garbled file from making us allocate gigabytes before we find out.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

struct DtypeInfo {
    const char *name;
    at::ScalarType type;
    uint64_t itemSize;
};

const DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8},  {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},  {"BF16", at::kBFloat16, 2},
    {"I64", at::kLong, 8},    {"I32", at::kInt, 4},   {"I16", at::kShort, 2}, {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},     {"BOOL", at::kBool, 1},
};

const DtypeInfo *dtypeByName(const std::string &name)
{
    for (const auto &d : kDtypes)
        if (name == d.name)
            return &d;
    return nullptr;
}

const DtypeInfo *dtypeByType(at::ScalarType type)
{
    for (const auto &d : kDtypes)
        if (type == d.type)
            return &d;
    return nullptr;
}

std::string supportedDtypeList()
{
    std::string s;
    for (const auto &d : kDtypes)
        s += (s.empty() ? "" : ", ") + std::string(d.name);
    return s;
}

std::string rangeText(uint64_t begin, uint64_t end)
{
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

uint64_t readLe64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

uint64_t fileSizeOf(std::ifstream &in)
{
    in.seekg(0, std::ios::end);
    const auto end = in.tellg();
    in.seekg(0, std::ios::beg);
    return end < 0 ? 0 : static_cast<uint64_t>(end);
}

// numel × itemSize, or nullopt-like false when it does not fit in 64 bits (a hostile shape).
bool byteCount(const std::vector<int64_t> &shape, uint64_t itemSize, uint64_t &out)
{
    uint64_t n = itemSize;
    for (int64_t dim : shape) {
        const auto d = static_cast<uint64_t>(dim);
        if (d != 0 && n > std::numeric_limits<uint64_t>::max() / d)
            return false;
        n *= d;
    }
    out = n;
    return true;
}

struct ParsedFile {
    SafetensorsHeader header;
    uint64_t fileSize = 0;
};

SafetensorsHeaderEntry parseEntry(const std::string &path, const std::string &name, const nlohmann::json &j)
{
    const std::string where = path + ": tensor '" + name + "'";
    if (!j.is_object())
        throw Error(where + ": header entry is not a JSON object");

    SafetensorsHeaderEntry e;
    const auto dt = j.find("dtype");
    if (dt == j.end() || !dt->is_string())
        throw Error(where + ": header entry has no \"dtype\" string");
    e.dtype = dt->get<std::string>();
    if (!dtypeByName(e.dtype))
        throw Error(where + ": dtype '" + e.dtype + "' is not supported (supported: " + supportedDtypeList() + ")");

    const auto sh = j.find("shape");
    if (sh == j.end() || !sh->is_array())
        throw Error(where + ": header entry has no \"shape\" array");
    for (const auto &d : *sh) {
        if (!d.is_number_integer() || (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0))
            throw Error(where + ": shape " + sh->dump() + " must hold non-negative integers");
        if (d.is_number_unsigned() && d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            throw Error(where + ": shape " + sh->dump() + " has an impossibly large dimension");
        e.shape.push_back(d.get<int64_t>());
    }

    const auto off = j.find("data_offsets");
    if (off == j.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned()
        || !(*off)[1].is_number_unsigned())
        throw Error(where + ": \"data_offsets\" must be two non-negative integers [begin, end]");
    e.begin = (*off)[0].get<uint64_t>();
    e.end = (*off)[1].get<uint64_t>();
    if (e.begin > e.end)
        throw Error(where + ": data_offsets " + rangeText(e.begin, e.end) + " end before they begin");
    return e;
}

// Everything about the file except the tensor bytes themselves, validated.
ParsedFile parseFile(const std::string &path, std::ifstream &in)
{
    ParsedFile pf;
    pf.fileSize = fileSizeOf(in);
    if (pf.fileSize < 8)
        throw Error(path + ": not a safetensors file: it is " + std::to_string(pf.fileSize)
                    + " bytes long, shorter than the 8-byte header length");

    unsigned char lenBytes[8];
    if (!in.read(reinterpret_cast<char *>(lenBytes), 8))
        throw Error(path + ": cannot read the header length");
    const uint64_t n = readLe64(lenBytes);
    if (n > pf.fileSize - 8)
        throw Error(path + ": header length " + std::to_string(n) + " exceeds the file size ("
                    + std::to_string(pf.fileSize) + " bytes); the file is truncated or not safetensors");
    if (n > kMaxHeaderBytes)
        throw Error(path + ": header length " + std::to_string(n)
                    + " bytes is implausibly large (limit 100 MB); the file is corrupt or not safetensors");

    std::string text(n, '\0');
    if (n > 0 && !in.read(text.data(), static_cast<std::streamsize>(n)))
        throw Error(path + ": cannot read the " + std::to_string(n) + "-byte header");

    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception &e) {
        throw Error(path + ": the header (bytes 8.." + std::to_string(8 + n) + ") is not valid JSON: " + e.what());
    }
    if (!j.is_object())
        throw Error(path + ": the header is JSON but not an object of tensor entries");

    SafetensorsHeader &h = pf.header;
    h.dataOffset = 8 + n;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it->is_object())
                throw Error(path + ": \"__metadata__\" must be a JSON object of strings");
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string())
                    throw Error(path + ": \"__metadata__\" entry '" + m.key() + "' is not a string");
                h.metadata[m.key()] = m->get<std::string>();
            }
            continue;
        }
        h.tensors[it.key()] = parseEntry(path, it.key(), *it);
    }

    const uint64_t dataSize = pf.fileSize - h.dataOffset;
    for (const auto &[name, e] : h.tensors) {
        const DtypeInfo *dt = dtypeByName(e.dtype);
        uint64_t bytes = 0;
        if (!byteCount(e.shape, dt->itemSize, bytes) || bytes != e.end - e.begin)
            throw Error(path + ": tensor '" + name + "' has dtype " + e.dtype + " and shape "
                        + nlohmann::json(e.shape).dump() + ", which does not match its byte range "
                        + rangeText(e.begin, e.end) + " of " + std::to_string(e.end - e.begin) + " bytes");
        if (e.end > dataSize)
            throw Error(path + ": tensor '" + name + "' byte range " + rangeText(e.begin, e.end)
                        + " lies past the end of the data section (" + std::to_string(dataSize)
                        + " bytes); the file is truncated or corrupt");
    }

    // The format lays tensors end to end; a gap or an overlap means the index and the data disagree.
    std::vector<std::pair<const std::string *, const SafetensorsHeaderEntry *>> order;
    for (const auto &[name, e] : h.tensors)
        order.emplace_back(&name, &e);
    std::sort(order.begin(), order.end(), [](const auto &a, const auto &b) {
        return a.second->begin != b.second->begin ? a.second->begin < b.second->begin : a.second->end < b.second->end;
    });
    uint64_t covered = 0;
    const std::string *prev = nullptr;
    for (const auto &[name, e] : order) {
        if (e->begin < covered)
            throw Error(path + ": tensors '" + *prev + "' and '" + *name + "' overlap (byte range "
                        + rangeText(e->begin, e->end) + " starts before " + std::to_string(covered) + ")");
        if (e->begin > covered)
            throw Error(path + ": data bytes " + rangeText(covered, e->begin) + " belong to no tensor (gap before '"
                        + *name + "'); the header does not describe the data");
        covered = e->end;
        prev = name;
    }
    if (covered != dataSize)
        throw Error(path + ": data bytes " + rangeText(covered, dataSize)
                    + " belong to no tensor (trailing bytes after the last tensor)");
    return pf;
}

std::ifstream openForReading(const std::string &path)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw Error(path + ": is a directory, not a safetensors file");
    requireRegularFile(path, "safetensors file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open for reading: " + std::strerror(errno));
    return in;
}

// Writes all of buf or throws; write(2) may write less than asked and may be interrupted.
void writeAll(int fd, const void *buf, size_t size, const std::string &what)
{
    const char *p = static_cast<const char *>(buf);
    while (size > 0) {
        const ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw Error(what + ": " + std::strerror(errno));
        }
        p += n;
        size -= static_cast<size_t>(n);
    }
}

std::string randomSuffix()
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device rd;
    std::string s;
    for (int i = 0; i < 6; ++i)
        s += chars[rd() % (sizeof(chars) - 1)];
    return s;
}

} // namespace

SafetensorsHeader readSafetensorsHeader(const std::string &path)
{
    std::ifstream in = openForReading(path);
    return parseFile(path, in).header;
}

TensorMap readSafetensors(const std::string &path, std::map<std::string, std::string> *metadata)
{
    std::ifstream in = openForReading(path);
    const ParsedFile pf = parseFile(path, in);

    TensorMap out;
    for (const auto &[name, e] : pf.header.tensors) {
        const DtypeInfo *dt = dtypeByName(e.dtype);
        at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(dt->type).device(at::kCPU));
        const uint64_t bytes = e.end - e.begin;
        if (bytes > 0) {
            in.seekg(static_cast<std::streamoff>(pf.header.dataOffset + e.begin));
            if (!in.read(static_cast<char *>(t.data_ptr()), static_cast<std::streamsize>(bytes)))
                throw Error(path + ": cannot read tensor '" + name + "' (data bytes " + rangeText(e.begin, e.end)
                            + "); the file may have changed while reading");
        }
        if (dt->type == at::kBool) {
            // Any byte other than 0 or 1 in a bool tensor is undefined behaviour in every consumer.
            const auto *p = static_cast<const unsigned char *>(t.data_ptr());
            for (uint64_t k = 0; k < bytes; ++k)
                if (p[k] > 1)
                    throw Error(path + ": BOOL tensor '" + name + "' holds byte value " + std::to_string(p[k])
                                + " at data offset " + std::to_string(e.begin + k) + " (only 0 and 1 are valid)");
        }
        out.emplace(name, std::move(t));
    }
    if (metadata)
        *metadata = pf.header.metadata;
    return out;
}

void writeSafetensors(const std::string &path, const TensorMap &tensors,
                      const std::map<std::string, std::string> &metadata)
{
    std::vector<at::Tensor> data;
    data.reserve(tensors.size());
    nlohmann::json header = nlohmann::json::object();
    uint64_t offset = 0;
    for (const auto &[name, tensor] : tensors) {
        if (name == "__metadata__")
            throw Error(path + ": a tensor cannot be named \"__metadata__\" (the name is reserved by the format)");
        if (!tensor.defined())
            throw Error(path + ": tensor '" + name + "' is undefined (empty) and cannot be written");
        const DtypeInfo *dt = dtypeByType(tensor.scalar_type());
        if (!dt)
            throw Error(path + ": tensor '" + name + "' has dtype " + std::string(c10::toString(tensor.scalar_type()))
                        + ", which safetensors files here cannot hold (supported: " + supportedDtypeList() + ")");
        at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
        const uint64_t bytes = t.nbytes();
        header[name] = {{"dtype", dt->name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        data.push_back(std::move(t));
    }
    if (!metadata.empty())
        header["__metadata__"] = metadata;

    std::string text;
    try {
        text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
    } catch (const nlohmann::json::exception &e) {
        throw Error(path + ": a tensor name or metadata string is not valid UTF-8: " + e.what());
    }
    // Readers may map the file and view tensors in place; the format pads the header so that the
    // data section starts 8-aligned.
    text.append((8 - text.size() % 8) % 8, ' ');
    unsigned char lenBytes[8];
    for (int i = 0; i < 8; ++i)
        lenBytes[i] = static_cast<unsigned char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);

    // A crash or a full disk must never leave a half-written file under the real name.
    std::string tmp;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        tmp = path + ".tmp-" + randomSuffix();
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            throw Error(path + ": cannot create a temporary file next to it: " + std::strerror(errno));
    }
    if (fd < 0)
        throw Error(path + ": cannot create a temporary file next to it (names kept colliding)");

    try {
        const std::string what = path + ": cannot write (temporary file " + tmp + ")";
        writeAll(fd, lenBytes, 8, what);
        writeAll(fd, text.data(), text.size(), what);
        auto it = tensors.begin();
        for (const at::Tensor &t : data) {
            writeAll(fd, t.data_ptr(), t.nbytes(), what + " while writing tensor '" + it->first + "'");
            ++it;
        }
        if (::fsync(fd) != 0)
            throw Error(what + ": fsync failed: " + std::strerror(errno));
        const int rc = ::close(fd);
        fd = -1;
        if (rc != 0)
            throw Error(what + ": close failed: " + std::strerror(errno));
        if (::rename(tmp.c_str(), path.c_str()) != 0)
            throw Error(path + ": cannot rename the temporary file " + tmp + " into place: " + std::strerror(errno));
    } catch (...) {
        if (fd >= 0)
            ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }

    // Make the rename itself durable; failing here loses nothing already written, so it is best-effort.
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

bool looksLikeSafetensors(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    const uint64_t size = fileSizeOf(in);
    if (size < 10)
        return false;
    unsigned char buf[9];
    if (!in.read(reinterpret_cast<char *>(buf), 9))
        return false;
    const uint64_t n = readLe64(buf);
    // No check against the file size here: a truncated download still starts like safetensors, and
    // readSafetensors then says it is truncated instead of "not a weights file".
    return n >= 2 && n <= kMaxHeaderBytes && buf[8] == '{';
}

} // namespace sep::io
