// The model configuration: a Hugging Face-style config.json applied to a configuration, and the
// configuration read from weight shapes (which come from the headers of untrusted weight files).
//
// The input is the config.json. When it is a JSON object with a "shapes" member ({"name": [dims]}),
// those shapes are read first with Config::fromShapes; otherwise the configuration starts as ViT-B/16.

#include "engine/clip/config.h"
#include "tests/fuzz/fuzz_support.h"

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sep::fuzz::Scratch scratch;
    const std::string path = scratch.write("config.json", data, size);
    sep::fuzz::expectSepError([&] {
        sep::clip::Config config = sep::clip::Config::vitB16();
        const auto j = nlohmann::json::parse(data, data + size, nullptr, false);
        if (j.is_object() && j.contains("shapes") && j["shapes"].is_object()) {
            std::map<std::string, std::vector<int64_t>> shapes;
            for (const auto &[name, dims] : j["shapes"].items()) {
                auto &shape = shapes[name];
                if (dims.is_array())
                    for (const auto &d : dims)
                        if (d.is_number_integer())
                            shape.push_back(d.get<int64_t>());
            }
            config = sep::clip::Config::fromShapes(shapes, path);
        }
        sep::clip::applyJsonConfig(config, path);
        (void)config.describe();
        (void)config.parameterCount();
        (void)config.visionFlops();
        (void)config.textFlops(config.text.contextLength);
    });
    return 0;
}
