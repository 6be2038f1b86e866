#include "engine/io/zip_directory.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/text.h"

#include <algorithm>
#include <fstream>

namespace sep::io {

namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50;
constexpr uint16_t kZip64ExtraField = 0x0001;
constexpr size_t kEndOfDirectorySize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EndOfDirectorySize = 56;
constexpr size_t kDirectoryEntrySize = 46;
constexpr size_t kMaxCommentSize = 0xFFFF;
// Deflate cannot expand data by more than about 1032:1 (258-byte matches coded in 2 bits).
constexpr uint64_t kDeflateMaxRatio = 1032;

uint64_t readLE(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; --k)
        v = (v << 8) | p[k];
    return v;
}

class Reader {
public:
    explicit Reader(const std::string &path) : m_path(path), m_in(openRegularFile(path, "zip archive"))
    {
        m_in.seekg(0, std::ios::end);
        const auto end = m_in.tellg();
        if (end < 0)
            throw Error(path + ": cannot find the file's size");
        m_size = static_cast<uint64_t>(end);
    }

    uint64_t size() const { return m_size; }

    // `count` bytes at `offset`, which the caller has checked lie inside the file.
    std::vector<unsigned char> bytes(uint64_t offset, uint64_t count)
    {
        std::vector<unsigned char> out(count);
        m_in.clear();
        m_in.seekg(static_cast<std::streamoff>(offset));
        m_in.read(reinterpret_cast<char *>(out.data()), static_cast<std::streamsize>(count));
        if (static_cast<uint64_t>(m_in.gcount()) != count)
            throw Error(m_path + ": could not read " + std::to_string(count) + " bytes at offset "
                        + std::to_string(offset) + "; the file changed or cannot be read");
        return out;
    }

private:
    std::string m_path;
    std::ifstream m_in;
    uint64_t m_size = 0;
};

bool fits(uint64_t offset, uint64_t count, uint64_t size)
{
    return offset <= size && count <= size - offset;
}

} // namespace

ZipDirectory::ZipDirectory(const std::string &path) : m_path(path)
{
    Reader file(path);
    m_fileSize = file.size();
    const auto damaged = [&](const std::string &what) {
        return Error(path + ": the zip archive is corrupt/truncated (" + what + "); get a fresh copy of the file");
    };

    // The end-of-directory record sits in the last 22 bytes plus at most a 64 kB comment.
    const uint64_t tailSize = std::min<uint64_t>(m_fileSize, kEndOfDirectorySize + kMaxCommentSize + kZip64LocatorSize);
    const uint64_t tailStart = m_fileSize - tailSize;
    const std::vector<unsigned char> tail = file.bytes(tailStart, tailSize);
    if (tail.size() < kEndOfDirectorySize)
        throw damaged("too short to hold a zip directory");
    size_t eocd = tail.size() - kEndOfDirectorySize + 1;
    do {
        --eocd;
    } while (eocd > 0 && readLE(&tail[eocd], 4) != kEndOfDirectory);
    if (readLE(&tail[eocd], 4) != kEndOfDirectory)
        throw damaged("no end-of-directory record");

    uint64_t count = readLE(&tail[eocd + 10], 2);
    uint64_t directorySize = readLE(&tail[eocd + 12], 4);
    uint64_t directoryOffset = readLE(&tail[eocd + 16], 4);
    if (eocd >= kZip64LocatorSize && readLE(&tail[eocd - kZip64LocatorSize], 4) == kZip64Locator) {
        const uint64_t at = readLE(&tail[eocd - kZip64LocatorSize + 8], 8);
        if (!fits(at, kZip64EndOfDirectorySize, m_fileSize))
            throw damaged("the zip64 end-of-directory record lies past the end of the file");
        const std::vector<unsigned char> z = file.bytes(at, kZip64EndOfDirectorySize);
        if (readLE(z.data(), 4) != kZip64EndOfDirectory)
            throw damaged("no zip64 end-of-directory record where its locator points");
        count = readLE(&z[32], 8);
        directorySize = readLE(&z[40], 8);
        directoryOffset = readLE(&z[48], 8);
    }
    if (!fits(directoryOffset, directorySize, m_fileSize))
        throw damaged("its directory declares " + std::to_string(directorySize) + " bytes at offset "
                      + std::to_string(directoryOffset) + ", past the end of the " + std::to_string(m_fileSize)
                      + "-byte file");
    if (count > directorySize / kDirectoryEntrySize)
        throw damaged("its directory declares " + std::to_string(count) + " entries in only "
                      + std::to_string(directorySize) + " bytes");

    const std::vector<unsigned char> dir = file.bytes(directoryOffset, directorySize);
    size_t at = 0;
    m_entries.reserve(count);
    for (uint64_t n = 0; n < count; ++n) {
        const std::string which = "directory entry " + std::to_string(n + 1);
        if (!fits(at, kDirectoryEntrySize, dir.size()) || readLE(&dir[at], 4) != kDirectoryEntry)
            throw damaged(which + " is missing or malformed");
        const unsigned char *e = &dir[at];
        const size_t nameLength = readLE(e + 28, 2), extraLength = readLE(e + 30, 2), commentLength = readLE(e + 32, 2);
        if (!fits(at + kDirectoryEntrySize, nameLength + extraLength + commentLength, dir.size()))
            throw damaged(which + " runs past the end of the directory");
        ZipEntry entry;
        entry.method = static_cast<uint16_t>(readLE(e + 10, 2));
        entry.storedSize = readLE(e + 20, 4);
        entry.size = readLE(e + 24, 4);
        entry.name.assign(reinterpret_cast<const char *>(e + kDirectoryEntrySize), nameLength);
        // Sizes of 0xFFFFFFFF are in the zip64 extra field, in this order, only those that overflowed.
        const unsigned char *extra = e + kDirectoryEntrySize + nameLength;
        for (size_t k = 0; k + 4 <= extraLength;) {
            const uint64_t id = readLE(extra + k, 2), length = readLE(extra + k + 2, 2);
            if (k + 4 + length > extraLength)
                break;
            if (id == kZip64ExtraField) {
                size_t field = k + 4;
                for (uint64_t *value : {&entry.size, &entry.storedSize}) {
                    if (*value != 0xFFFFFFFFu)
                        continue;
                    if (field + 8 > k + 4 + length)
                        throw damaged("entry '" + shortened(entry.name) + "' has a truncated zip64 size field");
                    *value = readLE(extra + field, 8);
                    field += 8;
                }
            }
            k += 4 + length;
        }
        at += kDirectoryEntrySize + nameLength + extraLength + commentLength;

        const std::string declares = path + ": zip entry '" + shortened(entry.name) + "' declares ";
        const std::string refusal = "; the file is damaged or was made to exhaust memory. Get a fresh copy from its source.";
        if (entry.storedSize > m_fileSize)
            throw Error(declares + std::to_string(entry.storedSize) + " stored bytes, more than the whole file ("
                        + std::to_string(m_fileSize) + " bytes)" + refusal);
        const uint64_t limit = entry.method == 8 ? entry.storedSize * kDeflateMaxRatio + 1024 : m_fileSize;
        if (entry.size > limit)
            throw Error(declares + std::to_string(entry.size) + " bytes, more than "
                        + (entry.method == 8 ? std::to_string(entry.storedSize) + " compressed bytes can hold"
                                             : "the whole file (" + std::to_string(m_fileSize) + " bytes)")
                        + refusal);
        const size_t slash = entry.name.find('/');
        if (slash != std::string::npos)
            m_byRecord.emplace(entry.name.substr(slash + 1), m_entries.size());
        m_entries.push_back(std::move(entry));
    }
}

const ZipEntry *ZipDirectory::findRecord(const std::string &record) const
{
    const auto it = m_byRecord.find(record);
    return it == m_byRecord.end() ? nullptr : &m_entries[it->second];
}

} // namespace sep::io
