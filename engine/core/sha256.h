#pragma once
// SHA-256 (FIPS 180-4), for checksums of backbone weights in exported bundles.
//
//   std::string hex = sep::sha256File("ViT-B-16.pt");    // 64 lower-case hex digits
//
// Torch-free; thread-safe.

#include <cstdint>
#include <string>

namespace sep {

class Sha256 {
public:
    Sha256();
    void update(const void *data, size_t size);
    std::string hexDigest();   // finishes the hash; the object is then spent

private:
    void block(const uint8_t *p);
    uint32_t m_h[8];
    uint8_t m_buffer[64];
    size_t m_used = 0;
    uint64_t m_bytes = 0;
};

std::string sha256(const std::string &data);
// Reads the file in chunks; sep::Error naming it when it cannot be read.
std::string sha256File(const std::string &path);

} // namespace sep
