// Image decoding with the project's own checks in front of OpenCV (format sniffing, PNG/JPEG structure,
// BMP/PNM/WebP size limits), then the evaluation transform on what was decoded.

#include "engine/clip/image.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::vector<uint8_t> bytes(data, data + size);
    sep::fuzz::expectSepError([&] {
        const cv::Mat rgb = sep::clip::decodeImage(bytes, "input.img");
        // Small output: the point is the transforms on odd sizes (1 px wide, very thin), not the work.
        (void)sep::clip::preprocess(rgb, 8);
    });
    return 0;
}
