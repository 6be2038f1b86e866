#pragma once
// A zip archive's central directory, read without trusting it. PyTorch archives and zipped bundles
// are read through LibTorch's PyTorchStreamReader, which allocates whatever size an entry declares
// before it reads a byte: a 1 kB file that declares a 4 GB entry costs 4 GB. Reading the directory
// here first (zip64 included) lets every declared size be checked against the bytes that back it.
//
//   sep::io::ZipDirectory dir("model.pt");          // throws if any entry declares too much
//   if (const auto *e = dir.findRecord("data.pkl")) // "<top folder>/data.pkl" in the archive
//       use(e->size);
//
// Failures throw sep::Error naming the file and, where there is one, the entry.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sep::io {

struct ZipEntry {
    std::string name;          // as stored, e.g. "archive/data/0"
    uint64_t size = 0;         // uncompressed bytes
    uint64_t storedSize = 0;   // bytes in the file (compressed, or equal to size when stored)
    uint16_t method = 0;       // 0 stored, 8 deflate
};

class ZipDirectory {
public:
    // Reads the directory and refuses the archive when it is damaged or when any entry declares more
    // bytes than the file can hold (for deflate, more than deflate's largest ratio allows).
    explicit ZipDirectory(const std::string &path);

    const std::vector<ZipEntry> &entries() const { return m_entries; }
    uint64_t fileSize() const { return m_fileSize; }

    // The entry PyTorch's reader calls `record`: "<top folder>/<record>". nullptr when absent.
    const ZipEntry *findRecord(const std::string &record) const;

private:
    std::string m_path;
    uint64_t m_fileSize = 0;
    std::vector<ZipEntry> m_entries;
    std::map<std::string, size_t> m_byRecord;   // name after the top folder → index into m_entries
};

} // namespace sep::io
