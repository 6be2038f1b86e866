#pragma once
// The exported model: a `*.sepmodel` directory (or one zip file of it) that runs without the
// training code.
//   manifest.json       format version, method and all its options, class names, template, fusion,
//                       backbone (description, SHA-256, parameter count), metrics at export
//   prompt.safetensors  every learned tensor, named as the engine names them
//   backbone/           optional: the backbone weights, their vocabulary and config.json, so the
//                       bundle runs alone
// Without backbone/, the backbone is found beside the bundle by checksum, or given explicitly (and
// then checked against the recorded checksum).
//
//   sep::exporting::ExportOptions o;  o.includeBackbone = true;
//   sep::exporting::writeBundle("pets.sepmodel", method, clip, metrics, o);
//   auto bundle = sep::exporting::readBundle("pets.sepmodel");       // strict validation
//
// Writing is atomic (a temporary directory or file, then a rename). Every refusal names the bundle and
// says what is wrong and what to do. The safetensors files follow the public format, so Python's
// `safetensors` package reads them.

#include "engine/clip/weights.h"
#include "engine/export/manifest.h"
#include "engine/io/tensor_map.h"
#include "engine/prompt/method.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sep::exporting {

struct ExportOptions {
    bool includeBackbone = false;
    bool zip = false;          // one file instead of a directory
    // The classes the method's learned state was tuned on (Manifest::trainedClasses); the method's
    // class list may hold more. Unset: all of them when the method trains, none otherwise.
    std::optional<std::vector<std::string>> trainedClasses;
};

// A class list a bundle can carry: not empty, no empty or duplicate names, UTF-8. sep::Error names
// `source` and the offending name.
void requireValidClassList(const std::vector<std::string> &names, const std::string &source);

// `list` followed by the names of `extra` it does not hold yet, in their order.
std::vector<std::string> withExtraClasses(std::vector<std::string> list, const std::vector<std::string> &extra);

// One class name per line (blank lines skipped, surrounding spaces trimmed), checked as above.
std::vector<std::string> readClassNames(const std::string &path);

// Writes the bundle of a method (with its class list set and its learned state) on a loaded backbone.
void writeBundle(const std::string &out, prompt::Method &method, clip::LoadedClip &clip, const nlohmann::json &metrics,
                 const ExportOptions &options);

struct Bundle {
    std::string path;
    Manifest manifest;
    TensorMap prompt;
    std::string directory;     // where the bundle's files are (a zip is unpacked to a private folder)
    bool zipped = false;
};

// Reads and validates a bundle: format version, manifest fields, tensors present with the shapes the
// method needs are checked when the method is built (loadBundleMethod).
Bundle readBundle(const std::string &path);

// The backbone for a bundle: the one inside it, else `weightsOverride` (checked by checksum unless
// `trustWeights`), else a file beside the bundle whose checksum matches. sep::Error says what to give.
std::string resolveBackbone(const Bundle &bundle, const std::string &weightsOverride, bool trustWeights = false);

// Loads backbone and method, with the learned tensors and the class list, ready to score.
struct LoadedBundle {
    // Held by pointer: the method keeps a reference to the model, which must not move with the struct.
    std::unique_ptr<clip::LoadedClip> clip;
    std::unique_ptr<prompt::Method> method;
    Manifest manifest;
};
LoadedBundle loadBundle(const std::string &path, const std::string &weightsOverride = {}, const std::string &vocabOverride = {},
                        const std::string &device = "auto", const std::string &fusionOverride = {}, bool trustWeights = false);

// Text-only methods: the class text embeddings [classes × dim] as classifier.safetensors +
// classes.txt in `dir`, usable with any image encoder of the same CLIP.
void writeClassifier(const std::string &dir, prompt::Method &method);

} // namespace sep::exporting
