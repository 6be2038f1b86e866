#pragma once
// Compact columns: vectors of numbers as little-endian int32 or float32 bytes, the same on every
// machine whatever its byte order. Used for confusion matrices, top-k lists and selections.
//
//   st.bindBlob(3, sep::projects::packInt32(selection.tokens));
//   std::vector<int64_t> tokens = sep::projects::unpackInt32(st.blob(3));

#include "engine/core/error.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sep::projects {

template <typename T>
std::vector<uint8_t> packInt32(const std::vector<T> &values)
{
    std::vector<uint8_t> out(values.size() * 4);
    for (size_t i = 0; i < values.size(); ++i) {
        const auto v = static_cast<int64_t>(values[i]);
        if (v < INT32_MIN || v > INT32_MAX)
            throw Error("value " + std::to_string(v) + " does not fit the project's 32-bit column");
        const auto u = static_cast<uint32_t>(static_cast<int32_t>(v));
        for (int b = 0; b < 4; ++b)
            out[i * 4 + b] = static_cast<uint8_t>(u >> (8 * b));
    }
    return out;
}

inline std::vector<uint8_t> packFloat32(const std::vector<float> &values)
{
    std::vector<uint8_t> out(values.size() * 4);
    for (size_t i = 0; i < values.size(); ++i) {
        uint32_t u;
        std::memcpy(&u, &values[i], 4);
        for (int b = 0; b < 4; ++b)
            out[i * 4 + b] = static_cast<uint8_t>(u >> (8 * b));
    }
    return out;
}

inline uint32_t readLe32(const uint8_t *p)
{
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16
           | static_cast<uint32_t>(p[3]) << 24;
}

// Bytes whose length is not a multiple of 4 are damaged: sep::Error.
inline std::vector<int64_t> unpackInt32(const std::vector<uint8_t> &bytes)
{
    if (bytes.size() % 4)
        throw Error("a stored list of numbers is damaged (" + std::to_string(bytes.size()) + " bytes)");
    std::vector<int64_t> out(bytes.size() / 4);
    for (size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<int32_t>(readLe32(bytes.data() + i * 4));
    return out;
}

inline std::vector<float> unpackFloat32(const std::vector<uint8_t> &bytes)
{
    if (bytes.size() % 4)
        throw Error("a stored list of numbers is damaged (" + std::to_string(bytes.size()) + " bytes)");
    std::vector<float> out(bytes.size() / 4);
    for (size_t i = 0; i < out.size(); ++i) {
        const uint32_t u = readLe32(bytes.data() + i * 4);
        std::memcpy(&out[i], &u, 4);
    }
    return out;
}

} // namespace sep::projects
