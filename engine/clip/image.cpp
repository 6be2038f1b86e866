#include "engine/clip/image.h"

#include "engine/core/error.h"

#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <system_error>

#include <cstdio>   // before jpeglib.h, which uses FILE without including it
#include <jpeglib.h>

namespace sep::clip {

const float kClipMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
const float kClipStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

namespace {

[[noreturn]] void fail(const std::string &name, const std::string &reason)
{
    throw Error(name + ": " + reason);
}

// ---------------------------------------------------------------------------------------------
// Format sniffing. Knowing the format from its magic bytes lets an error say "PNG data is
// truncated" instead of a generic "cannot decode", and tell a mislabelled text or HTML file from a
// damaged image.

struct Sniff {
    std::string format;    // "PNG", "JPEG", ...; empty when not a known image format
    std::string extension; // what OpenCV calls it, to ask whether this build has a codec for it
    std::string looksLike; // otherwise: what the data looks like, for the message
    bool surelyNotImage = false; // text, HTML, PDF, ...: no decoder needs to be tried
};

Sniff notAnImage(const std::string &looksLike)
{
    return {{}, {}, looksLike, true};
}

bool startsWith(const std::vector<uint8_t> &b, size_t offset, const char *magic, size_t length)
{
    return b.size() >= offset + length && std::memcmp(b.data() + offset, magic, length) == 0;
}

// Takes the literal's length from its type, so signatures may contain zero bytes.
template <size_t N>
bool startsWith(const std::vector<uint8_t> &b, const char (&magic)[N])
{
    return startsWith(b, 0, magic, N - 1);
}

bool looksLikeText(const std::vector<uint8_t> &b)
{
    // Printable ASCII, whitespace, and UTF-8 lead/continuation bytes; a stray control byte means binary.
    const size_t n = std::min<size_t>(b.size(), 1024);
    for (size_t i = 0; i < n; ++i) {
        const uint8_t c = b[i];
        if (c == '\n' || c == '\r' || c == '\t' || c == '\f' || (c >= 0x20 && c != 0x7f))
            continue;
        return false;
    }
    return true;
}

std::string lowerPrefix(const std::vector<uint8_t> &b, size_t n)
{
    // Skips a UTF-8 byte-order mark and leading whitespace, as a browser would.
    size_t i = startsWith(b, "\xEF\xBB\xBF") ? 3 : 0;
    while (i < b.size() && std::isspace(b[i]))
        ++i;
    std::string s;
    for (; i < b.size() && s.size() < n; ++i)
        s.push_back(static_cast<char>(std::tolower(b[i])));
    return s;
}

std::string hexPrefix(const std::vector<uint8_t> &b)
{
    static const char digits[] = "0123456789ABCDEF";
    std::string s;
    for (size_t i = 0; i < std::min<size_t>(b.size(), 8); ++i) {
        if (i)
            s.push_back(' ');
        s.push_back(digits[b[i] >> 4]);
        s.push_back(digits[b[i] & 15]);
    }
    return s;
}

Sniff sniff(const std::vector<uint8_t> &b)
{
    if (startsWith(b, "\x89PNG\r\n\x1A\n"))
        return {"PNG", ".png", {}};
    if (startsWith(b, "\xFF\xD8\xFF"))
        return {"JPEG", ".jpg", {}};
    if (startsWith(b, "GIF87a") || startsWith(b, "GIF89a"))
        return {"GIF", ".gif", {}};
    // "BM" and "P3" also begin ordinary text; a real BMP header has binary bytes right after.
    if (startsWith(b, "BM") && b.size() >= 26 && !looksLikeText(b))
        return {"BMP", ".bmp", {}};
    if (startsWith(b, "RIFF") && startsWith(b, 8, "WEBP", 4))
        return {"WebP", ".webp", {}};
    if (startsWith(b, "II*\0") || startsWith(b, "MM\0*") || startsWith(b, "II+\0") || startsWith(b, "MM\0+"))
        return {"TIFF", ".tif", {}};
    if (b.size() >= 3 && b[0] == 'P' && std::isspace(b[2])) {
        if (b[1] >= '1' && b[1] <= '6')
            return {"PNM (PBM/PGM/PPM)", ".ppm", {}};
        if (b[1] == '7')
            return {"PAM", ".pam", {}};
        if (b[1] == 'f' || b[1] == 'F')
            return {"PFM", ".pfm", {}};
    }
    if (startsWith(b, "\0\0\0\x0CjP  \r\n\x87\n") || startsWith(b, "\xFF\x4F\xFF\x51"))
        return {"JPEG 2000", ".jp2", {}};
    if (startsWith(b, "\x76\x2F\x31\x01"))
        return {"OpenEXR", ".exr", {}};
    if (startsWith(b, "#?RADIANCE") || startsWith(b, "#?RGBE"))
        return {"Radiance HDR", ".hdr", {}};
    if (startsWith(b, "\x59\xA6\x6A\x95"))
        return {"Sun raster", ".ras", {}};
    if (startsWith(b, 4, "ftyp", 4) && b.size() >= 12) {
        const std::string brand(reinterpret_cast<const char *>(b.data()) + 8, 4);
        if (brand == "avif" || brand == "avis")
            return {"AVIF", ".avif", {}};
        if (brand == "heic" || brand == "heix" || brand == "hevc" || brand == "heim" || brand == "mif1"
            || brand == "msf1")
            return {"HEIF/HEIC", ".heic", {}};
        return notAnImage("an MP4/QuickTime-style media file");
    }
    if (startsWith(b, "\0\0\0\x0CJXL \r\n\x87\n") || startsWith(b, "\xFF\x0A"))
        return {"JPEG XL", ".jxl", {}};
    if (startsWith(b, "8BPS"))
        return {"Photoshop (PSD)", ".psd", {}};

    if (startsWith(b, "%PDF"))
        return notAnImage("a PDF document");
    if (startsWith(b, "PK\x03\x04"))
        return notAnImage("a ZIP archive");
    if (startsWith(b, "\x1F\x8B"))
        return notAnImage("gzip-compressed data");
    if (startsWith(b, "RIFF"))
        return notAnImage("a RIFF container (audio or video)");
    const std::string head = lowerPrefix(b, 256);
    if (head.rfind("<!doctype html", 0) == 0 || head.rfind("<html", 0) == 0)
        return notAnImage("an HTML page (often an error page saved by a failed download)");
    if (head.rfind("<svg", 0) == 0 || (head.rfind("<?xml", 0) == 0 && head.find("<svg") != std::string::npos))
        return notAnImage("an SVG vector drawing (rasterise it to PNG first)");
    if (looksLikeText(b))
        return notAnImage("text");
    return {{}, {}, "binary data starting with bytes " + hexPrefix(b), false};
}

// ---------------------------------------------------------------------------------------------
// Structure checks. Decoders differ in how they treat a short file: libpng fails, but libjpeg only
// warns and fills the missing rows with grey. A silently half-grey training image is worse than an
// error, so the container structure is walked before decoding.

uint32_t readBigEndian32(const uint8_t *p)
{
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

uint32_t readLittleEndian32(const uint8_t *p)
{
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

// The CRC-32 of PNG chunks (ISO 3309 polynomial, reflected).
uint32_t crc32(const uint8_t *data, size_t size)
{
    static const auto table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t n = 0; n < 256; ++n) {
            uint32_t c = n;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; ++i)
        c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

void checkPngStructure(const std::vector<uint8_t> &b, const std::string &name)
{
    const size_t n = b.size();
    size_t pos = 8;
    for (;;) {
        if (pos + 8 > n)
            fail(name, "PNG data is corrupt or truncated (the file ends after " + std::to_string(n)
                           + " bytes without an IEND chunk). Re-download or re-export the image.");
        const uint32_t length = readBigEndian32(&b[pos]);
        const std::string type(reinterpret_cast<const char *>(&b[pos + 4]), 4);
        for (char c : type)
            if (!std::isalpha(static_cast<unsigned char>(c)))
                fail(name, "PNG data is corrupt (invalid chunk header at byte " + std::to_string(pos)
                               + "). Re-download or re-export the image.");
        if (length > 0x7FFFFFFFu || pos + 12 + length > n)
            fail(name, "PNG data is corrupt or truncated (the file ends inside the '" + type + "' chunk at byte "
                           + std::to_string(pos) + " of " + std::to_string(n)
                           + "; no IEND chunk). Re-download or re-export the image.");
        // libpng rejects a bad checksum only in critical chunks (upper-case first letter) and skips
        // ancillary ones; checking the same set here gives the reason instead of a libpng complaint.
        const bool critical = std::isupper(static_cast<unsigned char>(type[0]));
        if (critical && crc32(&b[pos + 4], 4 + length) != readBigEndian32(&b[pos + 8 + length]))
            fail(name, "PNG data is corrupt (checksum mismatch in the '" + type + "' chunk at byte "
                           + std::to_string(pos) + "). Re-download or re-export the image.");
        if (type == "IEND")
            return; // bytes after IEND are ignored by every reader
        pos += 12 + length;
    }
}

uint16_t readLittleEndian16(const uint8_t *p)
{
    return uint16_t(p[0] | (p[1] << 8));
}

[[noreturn]] void failShort(const std::string &name, const std::string &format, double needed, size_t size)
{
    // A damaged header can describe more bytes than 64 bits count, and converting such a double is undefined.
    const std::string described = needed < 1e19 ? std::to_string(uint64_t(needed)) : std::string("over 10^19");
    fail(name, format + " data is truncated or corrupt (its header describes " + described
                   + " bytes, the file has " + std::to_string(size) + "). Re-download or re-export the image.");
}

// Uncompressed BMP: the pixel array's size follows from the header. OpenCV's reader fails on short
// data anyway, but noisily and without saying why.
void checkBmpSize(const std::vector<uint8_t> &b, const std::string &name)
{
    const size_t n = b.size();
    const uint32_t dataOffset = readLittleEndian32(&b[10]);
    const uint32_t infoSize = readLittleEndian32(&b[14]);
    int64_t width = 0, height = 0;
    uint32_t bitsPerPixel = 0, compression = 0;
    if (infoSize == 12) { // OS/2 core header
        width = readLittleEndian16(&b[18]);
        height = readLittleEndian16(&b[20]);
        bitsPerPixel = readLittleEndian16(&b[24]);
    } else if (infoSize >= 40 && n >= 34) {
        width = int32_t(readLittleEndian32(&b[18]));
        height = int32_t(readLittleEndian32(&b[22]));
        bitsPerPixel = readLittleEndian16(&b[28]);
        compression = readLittleEndian32(&b[30]);
    } else {
        return; // unusual header: leave it to the decoder
    }
    if (compression != 0 && compression != 3) // RLE and embedded JPEG/PNG have no fixed size
        return;
    // In double: a corrupt header can describe sizes that overflow 64-bit integers.
    const double stride = std::floor((double(std::llabs(width)) * bitsPerPixel + 31) / 32) * 4;
    const double needed = double(dataOffset) + stride * double(std::llabs(height));
    if (needed > double(n))
        failShort(name, "BMP", needed, n);
}

// A frame size declared in an image's header.
struct Dimensions {
    uint64_t width = 0, height = 0;   // 0 × 0: not known from the header
};

// PNM: header tokens, then (binary P4, P5, P6) exactly width·height samples. Returns the declared
// size for every variant: 20 bytes of ASCII PGM may declare a billion pixels.
Dimensions checkPnmSize(const std::vector<uint8_t> &b, const std::string &name)
{
    const char kind = char(b[1]);
    if (kind < '1' || kind > '6')
        return {};
    size_t pos = 2;
    auto nextNumber = [&](uint64_t &value) {
        for (;;) { // whitespace and '#' comments may sit between tokens
            while (pos < b.size() && std::isspace(b[pos]))
                ++pos;
            if (pos < b.size() && b[pos] == '#') {
                while (pos < b.size() && b[pos] != '\n' && b[pos] != '\r')
                    ++pos;
                continue;
            }
            break;
        }
        if (pos >= b.size() || !std::isdigit(b[pos]))
            return false;
        value = 0;
        while (pos < b.size() && std::isdigit(b[pos]) && value < (uint64_t(1) << 40))
            value = value * 10 + (b[pos++] - '0');
        return true;
    };
    uint64_t width = 0, height = 0, maxValue = 1;
    const bool bitmap = kind == '1' || kind == '4';
    if (!nextNumber(width) || !nextNumber(height) || (!bitmap && !nextNumber(maxValue)))
        fail(name, "PNM data is truncated or corrupt (incomplete header). Re-download or re-export the image.");
    if (kind < '4')
        return {width, height};   // ASCII samples have no fixed size
    ++pos; // the single whitespace byte that ends the header
    const double bytesPerSample = maxValue > 255 ? 2 : 1;
    const double rowBytes = kind == '4' ? double((width + 7) / 8) : double(width) * (kind == '6' ? 3 : 1) * bytesPerSample;
    const double needed = double(pos) + rowBytes * double(height);
    if (needed > double(b.size()))
        failShort(name, "PNM", needed, b.size());
    return {width, height};
}

// A RIFF file records its own length; libwebp refuses one that is shorter.
void checkWebpSize(const std::vector<uint8_t> &b, const std::string &name)
{
    const double needed = double(readLittleEndian32(&b[4])) + 8;
    if (needed > double(b.size()))
        failShort(name, "WebP", needed, b.size());
}

// Walks every segment; returns the frame size of the first start-of-frame segment (SOF0..SOF15
// without DHT, JPG and DAC), which the size limits need before decoding.
Dimensions checkJpegStructure(const std::vector<uint8_t> &b, const std::string &name)
{
    Dimensions frame;
    const size_t n = b.size();
    auto truncated = [&](const std::string &where) {
        fail(name, "JPEG data is truncated (the file ends " + where + " after " + std::to_string(n)
                       + " bytes, with no end-of-image marker). Re-download or re-export the image.");
    };
    size_t pos = 2; // after SOI
    for (;;) {
        // Tolerate junk between segments as libjpeg does (it only warns): look for the next marker.
        while (pos < n && b[pos] != 0xFF)
            ++pos;
        while (pos < n && b[pos] == 0xFF) // fill bytes
            ++pos;
        if (pos >= n)
            truncated("between segments");
        const uint8_t marker = b[pos++];
        if (marker == 0xD9) // EOI; anything after it (camera trailers, padding) is ignored
            return frame;
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8))
            continue; // markers without a length field
        if (pos + 2 > n)
            truncated("inside a segment header");
        const size_t length = (size_t(b[pos]) << 8) | b[pos + 1];
        if (length < 2)
            fail(name, "JPEG data is corrupt (a segment at byte " + std::to_string(pos)
                           + " has an invalid length). Re-download or re-export the image.");
        if (pos + length > n)
            truncated("inside a segment");
        const bool startOfFrame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (startOfFrame && frame.width == 0 && frame.height == 0 && length >= 7)
            frame = {(size_t(b[pos + 5]) << 8) | b[pos + 6], (size_t(b[pos + 3]) << 8) | b[pos + 4]};
        pos += length;
        if (marker != 0xDA)
            continue;
        // Entropy-coded data after SOS runs until a marker other than a stuffed 0xFF00 or a restart.
        for (;;) {
            while (pos < n && b[pos] != 0xFF)
                ++pos;
            if (pos + 1 >= n)
                truncated("inside the compressed image data");
            const uint8_t next = b[pos + 1];
            if (next == 0x00 || (next >= 0xD0 && next <= 0xD7))
                pos += 2;
            else if (next == 0xFF)
                pos += 1;
            else
                break; // a real marker: back to the segment loop
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Size limits, checked from the header before any pixel is decoded: a few hundred bytes of PNG or
// JPEG may declare gigapixels.

// The frame size PNG, GIF and WebP declare (JPEG's comes from checkJpegStructure's walk). Uncompressed
// formats (BMP, PNM) are bounded by their file size, checked above; TIFF and the rest by the check
// after decoding.
Dimensions headerDimensions(const std::vector<uint8_t> &b, const std::string &format)
{
    const size_t n = b.size();
    if (format == "PNG" && n >= 24)   // IHDR is the first chunk (checked by checkPngStructure)
        return {readBigEndian32(&b[16]), readBigEndian32(&b[20])};
    if (format == "GIF" && n >= 10)
        return {readLittleEndian16(&b[6]), readLittleEndian16(&b[8])};
    if (format == "WebP" && n >= 30) {
        if (startsWith(b, 12, "VP8X", 4))
            return {1 + (b[24] | (b[25] << 8) | (uint32_t(b[26]) << 16)), 1 + (b[27] | (b[28] << 8) | (uint32_t(b[29]) << 16))};
        if (startsWith(b, 12, "VP8 ", 4))
            return {readLittleEndian16(&b[26]) & 0x3fffu, readLittleEndian16(&b[28]) & 0x3fffu};
        if (startsWith(b, 12, "VP8L", 4) && n >= 25) {
            const uint32_t bits = readLittleEndian32(&b[21]);
            return {1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff)};
        }
    }
    return {};
}

} // namespace

ImageLimits ImageLimits::fromEnvironment()
{
    ImageLimits limits;
    if (const char *v = std::getenv("SEP_MAX_IMAGE_PIXELS"); v && *v) {
        char *end = nullptr;
        const unsigned long long parsed = std::strtoull(v, &end, 10);
        if (end && *end == '\0' && parsed > 0)
            limits.maxPixels = parsed;
    }
    return limits;
}

namespace {

void checkLimits(uint64_t width, uint64_t height, const std::string &name, const std::string &format)
{
    static const ImageLimits limits = ImageLimits::fromEnvironment();
    const double pixels = double(width) * double(height);
    if (pixels > double(limits.maxPixels))
        fail(name, format + " image of " + std::to_string(width) + " × " + std::to_string(height) + " pixels is larger than "
                       "the limit of " + std::to_string(limits.maxPixels) + " pixels; not decoded. Shrink the image, or "
                       "raise the limit with the environment variable SEP_MAX_IMAGE_PIXELS.");
    const uint64_t shorter = std::min(width, height), longer = std::max(width, height);
    if (shorter > 0 && double(longer) / double(shorter) > limits.maxAspectRatio)
        fail(name, format + " image of " + std::to_string(width) + " × " + std::to_string(height)
                       + " pixels is a strip, not a picture (sides more than " + std::to_string(int(limits.maxAspectRatio))
                       + " : 1); resized for the model it would need gigabytes. Crop it to the part that shows the class.");
}

// ---------------------------------------------------------------------------------------------
// libjpeg recovers from some damage (a corrupt Huffman code, missing data in a segment, bytes
// between markers) with a warning and grey or repeated blocks; OpenCV decodes such a file without
// a word. A second pass through libjpeg at 1/8 scale, which still entropy-decodes every block but
// skips the inverse DCT of all but the DC terms, collects those warnings cheaply.

struct JpegProbe {
    jpeg_error_mgr manager;   // first, so libjpeg's pointer to it is a pointer to the probe
    std::jmp_buf failed;
    char firstWarning[JMSG_LENGTH_MAX];
    int warnings;
};

extern "C" void jpegProbeFatal(j_common_ptr cinfo)
{
    std::longjmp(reinterpret_cast<JpegProbe *>(cinfo->err)->failed, 1);
}

extern "C" void jpegProbeMessage(j_common_ptr cinfo, int level)
{
    if (level >= 0)
        return;   // trace output; -1 is a warning
    auto *probe = reinterpret_cast<JpegProbe *>(cinfo->err);
    if (probe->warnings++ == 0)
        (*cinfo->err->format_message)(cinfo, probe->firstWarning);
}

// The first libjpeg warning for this data (and how many followed), or "" when there is none. Fatal
// errors are left to the real decoder, which reports them with the file's name.
std::string jpegWarning(const std::vector<uint8_t> &bytes)
{
    jpeg_decompress_struct cinfo;
    JpegProbe probe{};
    std::vector<JSAMPLE> row;   // constructed before setjmp: a longjmp back skips no destructor
    cinfo.err = jpeg_std_error(&probe.manager);
    probe.manager.error_exit = jpegProbeFatal;
    probe.manager.emit_message = jpegProbeMessage;
    if (setjmp(probe.failed)) {
        jpeg_destroy_decompress(&cinfo);
        return {};
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, const_cast<unsigned char *>(bytes.data()), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
    cinfo.scale_num = 1;
    cinfo.scale_denom = 8;
    cinfo.dct_method = JDCT_IFAST;
    cinfo.do_fancy_upsampling = FALSE;
    jpeg_start_decompress(&cinfo);
    row.resize(size_t(cinfo.output_width) * size_t(cinfo.output_components));
    JSAMPROW rows[1] = {row.data()};
    while (cinfo.output_scanline < cinfo.output_height)
        jpeg_read_scanlines(&cinfo, rows, 1);
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (probe.warnings == 0)
        return {};
    std::string text = "JPEG data is damaged; the decoder filled in what was missing (libjpeg: ";
    text += probe.firstWarning;
    if (probe.warnings > 1)
        text += "; " + std::to_string(probe.warnings - 1) + " more warning(s)";
    return text + "). The image is used as decoded; re-export it or remove it if it looks wrong.";
}

// Quietens OpenCV's own logger once, unless the user chose a level with OPENCV_LOG_LEVEL. Messages
// that libpng/libjpeg and imdecode print directly still reach stderr; they are harmless, and every
// failure is reported through sep::Error anyway.
void quietOpenCv()
{
    static std::once_flag once;
    std::call_once(once, [] {
        if (!std::getenv("OPENCV_LOG_LEVEL")
            && cv::utils::logging::getLogLevel() > cv::utils::logging::LOG_LEVEL_ERROR)
            cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    });
}

// Any decoded matrix → 8-bit RGB. 16-bit data keeps its high byte, which is what PIL does when it
// opens a 16-bit RGB PNG, so both pipelines see the same pixels.
cv::Mat toRgb8(const cv::Mat &decoded, const std::string &name, const std::string &format)
{
    cv::Mat eightBit;
    switch (decoded.depth()) {
    case CV_8U:
        eightBit = decoded;
        break;
    case CV_16U: {
        eightBit.create(decoded.size(), CV_MAKETYPE(CV_8U, decoded.channels()));
        const int values = decoded.cols * decoded.channels();
        for (int y = 0; y < decoded.rows; ++y) {
            const uint16_t *src = decoded.ptr<uint16_t>(y);
            uint8_t *dst = eightBit.ptr<uint8_t>(y);
            for (int i = 0; i < values; ++i)
                dst[i] = static_cast<uint8_t>(src[i] >> 8);
        }
        break;
    }
    case CV_32F:
    case CV_64F:
        // Floating-point formats (HDR, EXR, float TIFF) are nominally 0..1.
        decoded.convertTo(eightBit, CV_8U, 255.0);
        break;
    default:
        decoded.convertTo(eightBit, CV_8U);
        break;
    }

    cv::Mat rgb;
    switch (eightBit.channels()) {
    case 1:
        cv::cvtColor(eightBit, rgb, cv::COLOR_GRAY2RGB);
        break;
    case 3:
        cv::cvtColor(eightBit, rgb, cv::COLOR_BGR2RGB);
        break;
    case 4:
        // Alpha is dropped, not composited, as PIL's convert("RGB") does.
        cv::cvtColor(eightBit, rgb, cv::COLOR_BGRA2RGB);
        break;
    default:
        fail(name, format + " image has " + std::to_string(eightBit.channels())
                       + " channels; only gray, RGB and RGBA images are supported. Convert it to PNG or JPEG.");
    }
    return rgb;
}

// ---------------------------------------------------------------------------------------------
// PIL's resampling, rebuilt from its documented behaviour.

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x)
{
    // Keys' cubic convolution with a = -0.5, as PIL's BICUBIC.
    constexpr double a = -0.5;
    x = std::fabs(x);
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

// Fixed-point weights of one axis, `taps` per output sample (unused tail entries are zero).
struct AxisWeights {
    int taps = 0;
    std::vector<int> first;
    std::vector<int> count;
    std::vector<int32_t> weights;
};

AxisWeights axisWeights(int inSize, int outSize)
{
    const double scale = double(inSize) / outSize;
    // Shrinking widens the kernel by the scale factor, which is what makes PIL's resize antialiased.
    const double filterScale = std::max(scale, 1.0);
    const double support = 2.0 * filterScale;
    const double invFilterScale = 1.0 / filterScale;

    AxisWeights w;
    w.taps = int(std::ceil(support)) * 2 + 1;
    w.first.resize(outSize);
    w.count.resize(outSize);
    w.weights.assign(size_t(outSize) * w.taps, 0);
    std::vector<double> k(w.taps);
    for (int i = 0; i < outSize; ++i) {
        const double center = (i + 0.5) * scale;
        // int() truncates toward zero like the C cast in the reference; negatives clamp to 0 anyway.
        const int lo = std::max(int(center - support + 0.5), 0);
        const int hi = std::min(int(center + support + 0.5), inSize);
        const int count = hi - lo;
        double sum = 0.0;
        for (int t = 0; t < count; ++t) {
            k[t] = bicubic((lo + t - center + 0.5) * invFilterScale);
            sum += k[t];
        }
        int32_t *dst = &w.weights[size_t(i) * w.taps];
        for (int t = 0; t < count; ++t) {
            const double normalized = sum != 0.0 ? k[t] / sum : k[t];
            const double fixed = normalized * double(1 << kPrecisionBits);
            // Half away from zero via trunc(x ± 0.5), as the reference rounds, so exact ties agree too.
            dst[t] = int32_t(fixed < 0.0 ? std::trunc(fixed - 0.5) : std::trunc(fixed + 0.5));
        }
        w.first[i] = lo;
        w.count[i] = count;
    }
    return w;
}

inline uint8_t clamp8(int32_t accumulated)
{
    // |weights| sum to at most ~1.3 · 2^22, so 255 · that fits in 32 bits with room to spare.
    if (accumulated < 0)
        return 0;
    const int32_t v = accumulated >> kPrecisionBits;
    return static_cast<uint8_t>(v > 255 ? 255 : v);
}

void horizontalPass(const cv::Mat &src, cv::Mat &dst, const AxisWeights &w)
{
    constexpr int Cn = 3;
    const int outWidth = dst.cols;
    for (int y = 0; y < src.rows; ++y) {
        const uint8_t *in = src.ptr<uint8_t>(y);
        uint8_t *out = dst.ptr<uint8_t>(y);
        for (int x = 0; x < outWidth; ++x) {
            const int32_t *k = &w.weights[size_t(x) * w.taps];
            const uint8_t *p = in + w.first[x] * Cn;
            int32_t acc[Cn];
            for (int c = 0; c < Cn; ++c)
                acc[c] = 1 << (kPrecisionBits - 1);
            for (int t = 0, n = w.count[x]; t < n; ++t)
                for (int c = 0; c < Cn; ++c)
                    acc[c] += int32_t(p[t * Cn + c]) * k[t];
            for (int c = 0; c < Cn; ++c)
                out[x * Cn + c] = clamp8(acc[c]);
        }
    }
}

void verticalPass(const cv::Mat &src, cv::Mat &dst, const AxisWeights &w)
{
    // Row-at-a-time accumulation keeps the inner loop contiguous, so the compiler can vectorise it.
    const int values = src.cols * src.channels();
    std::vector<int32_t> acc(values);
    for (int y = 0; y < dst.rows; ++y) {
        std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
        const int32_t *k = &w.weights[size_t(y) * w.taps];
        for (int t = 0, n = w.count[y]; t < n; ++t) {
            const uint8_t *in = src.ptr<uint8_t>(w.first[y] + t);
            const int32_t weight = k[t];
            int32_t *a = acc.data();
            for (int i = 0; i < values; ++i)
                a[i] += int32_t(in[i]) * weight;
        }
        uint8_t *out = dst.ptr<uint8_t>(y);
        for (int i = 0; i < values; ++i)
            out[i] = clamp8(acc[i]);
    }
}

void requireRgb8(const cv::Mat &rgb, const char *function)
{
    if (rgb.empty() || rgb.type() != CV_8UC3)
        throw Error(std::string(function) + ": expected a non-empty 8-bit RGB image (CV_8UC3), got type "
                    + std::to_string(rgb.type()) + " of " + std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows));
}

// Python's round() on an integer divided by two: ties go to the even neighbour.
int halfToEvenHalf(int n)
{
    const int q = n / 2; // n >= 0 here
    return (n % 2 == 0 || q % 2 == 0) ? q : q + 1;
}

// Python's round() for doubles: to nearest, ties to even.
double roundHalfEven(double x)
{
    const double f = std::floor(x);
    const double d = x - f;
    if (d < 0.5)
        return f;
    if (d > 0.5)
        return f + 1.0;
    return std::fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

} // namespace

// ---------------------------------------------------------------------------------------------

cv::Mat decodeImage(const std::string &path, std::string *warning)
{
    namespace fs = std::filesystem;
    if (path.empty())
        throw Error("decodeImage: the image path is empty; give the path of an image file.");
    const fs::path file = fs::u8path(path); // UTF-8 names must work on every platform

    std::error_code ec;
    const fs::file_status status = fs::status(file, ec);
    if (ec && ec != std::errc::no_such_file_or_directory)
        fail(path, "cannot access the file (" + ec.message() + "). Check the path and its folders' permissions.");
    if (!fs::exists(status))
        fail(path, "file not found. Check the path, and that the file was not moved or deleted.");
    if (fs::is_directory(status))
        fail(path, "is a directory, not an image file. Point to an image file inside it.");
    if (!fs::is_regular_file(status))
        fail(path, "is not a regular file (a device, pipe or socket). Point to an image file.");

    const uintmax_t size = fs::file_size(file, ec);
    if (ec)
        fail(path, "cannot read the file size (" + ec.message() + ").");
    if (size == 0)
        fail(path, "empty file (0 bytes). The download or copy probably failed; fetch the file again.");
    if (size > uintmax_t(INT_MAX))
        fail(path, "file is too large to be an image we can decode (" + std::to_string(size) + " bytes).");

    errno = 0;
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        const int error = errno;
        if (error == EACCES || error == EPERM)
            fail(path, "permission denied. Make the file readable by this user.");
        fail(path, std::string("cannot open the file for reading (")
                       + (error ? std::strerror(error) : "unknown reason") + ").");
    }
    std::vector<uint8_t> bytes(size);
    in.read(reinterpret_cast<char *>(bytes.data()), std::streamsize(size));
    if (in.gcount() != std::streamsize(size))
        fail(path, "read error: only " + std::to_string(in.gcount()) + " of " + std::to_string(size)
                       + " bytes could be read (the file may be changing or on a failing disk).");
    return decodeImage(bytes, path, warning);
}

cv::Mat decodeImage(const std::vector<uint8_t> &bytes, const std::string &name, std::string *warning)
{
    quietOpenCv();
    if (warning)
        warning->clear();
    if (bytes.empty())
        fail(name, "empty file (0 bytes). The download or copy probably failed; fetch the file again.");

    const Sniff kind = sniff(bytes);
    if (kind.surelyNotImage)
        fail(name, "not an image file (unrecognised format; looks like " + kind.looksLike
                       + "). Check that the path points to a PNG, JPEG, BMP, WebP, TIFF or PPM image.");
    Dimensions declared;
    if (kind.format == "PNG")
        checkPngStructure(bytes, name);
    else if (kind.format == "JPEG")
        declared = checkJpegStructure(bytes, name);
    else if (kind.format == "BMP")
        checkBmpSize(bytes, name);
    else if (kind.format == "PNM (PBM/PGM/PPM)")
        declared = checkPnmSize(bytes, name);
    else if (kind.format == "WebP")
        checkWebpSize(bytes, name);

    if (declared.width == 0 && declared.height == 0)
        declared = headerDimensions(bytes, kind.format);
    if (declared.width > 0 || declared.height > 0)
        checkLimits(declared.width, declared.height, name, kind.format);

    cv::Mat decoded;
    try {
        // EXIF orientation is ignored because the reference (PIL's Image.open) does not apply it.
        decoded = cv::imdecode(bytes, cv::IMREAD_COLOR | cv::IMREAD_ANYDEPTH | cv::IMREAD_IGNORE_ORIENTATION);
    } catch (const cv::Exception &) {
        decoded.release(); // reported below with what we know about the format
    }

    if (decoded.empty() || decoded.dims != 2) {
        if (kind.format.empty())
            fail(name, "not an image file (unrecognised format; " + kind.looksLike
                           + "). Check that the path points to a PNG, JPEG, BMP, WebP, TIFF or PPM image.");
        if (kind.format == "OpenEXR")
            fail(name, "OpenEXR images are not read: OpenCV reads them only when OPENCV_IO_ENABLE_OPENEXR=1 is set. "
                       "Convert the image to PNG or set that variable.");
        if (!cv::haveImageWriter("probe" + kind.extension))
            fail(name, kind.format + " images cannot be read by this build (its OpenCV has no " + kind.format
                           + " codec). Convert the image to PNG or JPEG.");
        fail(name, kind.format + " data is corrupt or truncated (the decoder rejected it). "
                                 "Re-download or re-export the image.");
    }
    if (warning && kind.format == "JPEG")
        *warning = jpegWarning(bytes);
    // Formats whose header is not read above are held to the same limits once decoded.
    checkLimits(uint64_t(decoded.cols), uint64_t(decoded.rows), name, kind.format.empty() ? std::string("the") : kind.format);
    return toRgb8(decoded, name, kind.format.empty() ? std::string("the") : kind.format);
}

cv::Mat resizeBicubicPil(const cv::Mat &rgb, int width, int height)
{
    requireRgb8(rgb, "resizeBicubicPil");
    if (width <= 0 || height <= 0)
        throw Error("resizeBicubicPil: target size " + std::to_string(width) + "x" + std::to_string(height)
                    + " must be positive");

    // Horizontal first, then vertical, each rounded to 8 bits; a pass is skipped when its size is kept.
    cv::Mat current = rgb;
    if (width != rgb.cols) {
        cv::Mat wide(rgb.rows, width, CV_8UC3);
        horizontalPass(current, wide, axisWeights(rgb.cols, width));
        current = wide;
    }
    if (height != rgb.rows) {
        cv::Mat tall(height, width, CV_8UC3);
        verticalPass(current, tall, axisWeights(rgb.rows, height));
        current = tall;
    }
    return current.data == rgb.data ? rgb.clone() : current;
}

cv::Mat resizeShorterSide(const cv::Mat &rgb, int size)
{
    requireRgb8(rgb, "resizeShorterSide");
    if (size <= 0)
        throw Error("resizeShorterSide: size " + std::to_string(size) + " must be positive");
    const int w = rgb.cols;
    const int h = rgb.rows;
    const int shorter = std::min(w, h);
    const int longer = std::max(w, h);
    // Python: int(size * long / short): exact integer product, one correctly rounded division, truncation.
    const int newLonger = int(double(int64_t(size) * longer) / double(shorter));
    if (w <= h)
        return resizeBicubicPil(rgb, size, newLonger);
    return resizeBicubicPil(rgb, newLonger, size);
}

cv::Mat centerCrop(const cv::Mat &rgb, int size)
{
    requireRgb8(rgb, "centerCrop");
    if (size <= 0)
        throw Error("centerCrop: size " + std::to_string(size) + " must be positive");

    // Pad first (left/top get the smaller half), then crop the axes that are still larger.
    cv::Mat padded = rgb;
    if (rgb.cols < size || rgb.rows < size) {
        const int padX = std::max(size - rgb.cols, 0);
        const int padY = std::max(size - rgb.rows, 0);
        cv::copyMakeBorder(rgb, padded, padY / 2, (padY + 1) / 2, padX / 2, (padX + 1) / 2, cv::BORDER_CONSTANT,
                           cv::Scalar::all(0));
    }
    const int left = halfToEvenHalf(padded.cols - size);
    const int top = halfToEvenHalf(padded.rows - size);
    return padded(cv::Rect(left, top, size, size)).clone();
}

std::vector<float> normalizeToChw(const cv::Mat &rgb)
{
    requireRgb8(rgb, "normalizeToChw");
    // A table per channel; the float arithmetic matches ToTensor (x / 255) then Normalize ((x − m) / s).
    float table[3][256];
    for (int c = 0; c < 3; ++c)
        for (int v = 0; v < 256; ++v)
            table[c][v] = (float(v) / 255.0f - kClipMean[c]) / kClipStd[c];

    const int w = rgb.cols;
    const int h = rgb.rows;
    const size_t plane = size_t(w) * h;
    std::vector<float> out(3 * plane);
    for (int y = 0; y < h; ++y) {
        const uint8_t *p = rgb.ptr<uint8_t>(y);
        float *r = out.data() + size_t(y) * w;
        float *g = r + plane;
        float *b = g + plane;
        for (int x = 0; x < w; ++x) {
            r[x] = table[0][p[3 * x]];
            g[x] = table[1][p[3 * x + 1]];
            b[x] = table[2][p[3 * x + 2]];
        }
    }
    return out;
}

std::vector<float> preprocess(const cv::Mat &rgb, int size)
{
    return normalizeToChw(centerCrop(resizeShorterSide(rgb, size), size));
}

cv::Rect randomResizedCropBox(int width, int height, std::mt19937_64 &rng, double scaleMin, double scaleMax,
                              double ratioMin, double ratioMax)
{
    if (width <= 0 || height <= 0)
        throw Error("randomResizedCropBox: image size " + std::to_string(width) + "x" + std::to_string(height)
                    + " must be positive");
    if (!(scaleMin > 0.0 && scaleMin <= scaleMax) || !(ratioMin > 0.0 && ratioMin <= ratioMax))
        throw Error("randomResizedCropBox: scale and ratio ranges must be positive and ordered (min <= max)");

    const double area = double(width) * height;
    const double logRatioMin = std::log(ratioMin);
    const double logRatioMax = std::log(ratioMax);
    std::uniform_real_distribution<double> scaleDist(scaleMin, scaleMax);
    std::uniform_real_distribution<double> logRatioDist(logRatioMin, logRatioMax);
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double targetArea = area * scaleDist(rng);
        const double aspect = std::exp(logRatioDist(rng));
        const double cwd = roundHalfEven(std::sqrt(targetArea * aspect));
        const double chd = roundHalfEven(std::sqrt(targetArea / aspect));
        if (cwd > 0 && cwd <= width && chd > 0 && chd <= height) {
            const int cw = int(cwd);
            const int ch = int(chd);
            const int top = std::uniform_int_distribution<int>(0, height - ch)(rng);
            const int left = std::uniform_int_distribution<int>(0, width - cw)(rng);
            return {left, top, cw, ch};
        }
    }

    // No luck in ten tries (extreme aspect ratios): the largest centered crop the ratio range allows.
    const double inRatio = double(width) / height;
    int cw = width;
    int ch = height;
    if (inRatio < ratioMin)
        ch = int(roundHalfEven(cw / ratioMin));
    else if (inRatio > ratioMax)
        cw = int(roundHalfEven(ch * ratioMax));
    cw = std::clamp(cw, 1, width);
    ch = std::clamp(ch, 1, height);
    return {(width - cw) / 2, (height - ch) / 2, cw, ch};
}

std::vector<float> augment(const cv::Mat &rgb, int size, std::mt19937_64 &rng)
{
    requireRgb8(rgb, "augment");
    if (size <= 0)
        throw Error("augment: size " + std::to_string(size) + " must be positive");
    const cv::Rect box = randomResizedCropBox(rgb.cols, rgb.rows, rng);
    cv::Mat crop = resizeBicubicPil(rgb(box), size, size);
    if (std::uniform_real_distribution<double>(0.0, 1.0)(rng) < 0.5)
        cv::flip(crop, crop, 1);
    return normalizeToChw(crop);
}

} // namespace sep::clip
