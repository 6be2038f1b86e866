#pragma once
// The safetensors format (https://github.com/huggingface/safetensors), read and written by our own
// code: an 8-byte little-endian header length N, N bytes of JSON, then the tensors' bytes.
//
//   sep::TensorMap t = sep::io::readSafetensors("model.safetensors");
//   sep::io::writeSafetensors("prompt.safetensors", t, {{"format", "pt"}});
//
// Reading validates everything before trusting it: the header length against the file size, the
// JSON, each dtype, that shape × dtype size equals the byte range, that ranges lie inside the data
// section, do not overlap, and leave no gap. Every failure throws sep::Error naming the file and the
// tensor or byte range at fault. Tensors come back on the CPU in their stored dtype (F16/BF16 are kept;
// callers cast). Writing follows the format exactly (header padded with spaces to a multiple of 8,
// tensors contiguous and little-endian), so Python's `safetensors` package reads our files, and is
// atomic (temporary file, then rename).

#include "engine/io/tensor_map.h"

#include <cstdint>
#include <map>
#include <string>

namespace sep::io {

struct SafetensorsHeaderEntry {
    std::string dtype;              // "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;    // byte offsets inside the data section
};

struct SafetensorsHeader {
    std::map<std::string, SafetensorsHeaderEntry> tensors;
    std::map<std::string, std::string> metadata;   // "__metadata__"
    uint64_t dataOffset = 0;                       // 8 + N
};

// Parses and validates the header only (cheap: does not read tensor data).
SafetensorsHeader readSafetensorsHeader(const std::string &path);

TensorMap readSafetensors(const std::string &path, std::map<std::string, std::string> *metadata = nullptr);

void writeSafetensors(const std::string &path, const TensorMap &tensors,
                      const std::map<std::string, std::string> &metadata = {});

// True when the file starts like a safetensors file (plausible header length and a '{'), even if
// it is truncated: reading it then says so.
bool looksLikeSafetensors(const std::string &path);

} // namespace sep::io
