#pragma once
// Edits a zip archive's bytes the way a damaged or crafted file would differ from a good one.

#include <cstdint>
#include <string>

namespace sep::test {

// Sets the uncompressed size that the central directory declares for the entry `name` (the full
// stored name, e.g. "archive/data/0"). Returns false when no directory entry has that name.
inline bool setDeclaredSize(std::string &zip, const std::string &name, uint32_t size)
{
    const std::string signature("PK\x01\x02", 4);
    for (size_t at = zip.find(signature); at != std::string::npos; at = zip.find(signature, at + 4)) {
        if (at + 46 > zip.size())
            break;
        const auto u16 = [&](size_t k) { return size_t(uint8_t(zip[at + k])) | size_t(uint8_t(zip[at + k + 1])) << 8; };
        if (zip.compare(at + 46, u16(28), name) != 0 || u16(28) != name.size())
            continue;
        for (int k = 0; k < 4; ++k)
            zip[at + 24 + k] = char((size >> (8 * k)) & 0xFF);
        return true;
    }
    return false;
}

} // namespace sep::test
