#include "engine/export/bundle.h"

#include "engine/core/data_paths.h"
#include "engine/core/error.h"
#include "engine/core/text.h"
#include "engine/core/files.h"
#include "engine/core/log_file.h"
#include "engine/core/runtime.h"
#include "engine/core/sha256.h"
#include "engine/core/version.h"
#include "engine/io/safetensors.h"
#include "engine/io/zip_directory.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace sep::exporting {
namespace fs = std::filesystem;
namespace {

std::string activationName(clip::Activation a) { return a == clip::Activation::Gelu ? "gelu" : "quick_gelu"; }

template <typename T>
T field(const nlohmann::json &j, const char *key, const std::string &source)
{
    if (!j.contains(key))
        throw Error(source + ": manifest.json has no '" + key + "'; the bundle is incomplete. Export it again.");
    const auto wrongType = [&] {
        return Error(source + ": manifest.json's '" + key + "' has the wrong type; the bundle is damaged. Export it again.");
    };
    // get<integer>() would convert a float, and one out of range is undefined behaviour.
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        if (!j.at(key).is_number_integer())
            throw wrongType();
    }
    try {
        return j.at(key).get<T>();
    } catch (const nlohmann::json::exception &) {
        throw wrongType();
    }
}

// A member that may be left out: `fallback` then. Present with the wrong type, it is refused like a
// required one (json::value would throw nlohmann's own exception, which names neither file nor key).
template <typename T>
T optionalField(const nlohmann::json &j, const char *key, T fallback, const std::string &source)
{
    return j.contains(key) ? field<T>(j, key, source) : fallback;
}

// Every file below `dir`, as paths relative to it.
std::vector<std::string> filesBelow(const fs::path &dir)
{
    std::vector<std::string> out;
    for (const auto &e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file())
            out.push_back(fs::relative(e.path(), dir).generic_string());
    std::sort(out.begin(), out.end());
    return out;
}

void copyFile(const fs::path &from, const fs::path &to)
{
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec)
        throw Error(from.string() + ": cannot be copied into the bundle (" + ec.message() + ")");
}

// Unpacks a zipped bundle into a private cache folder keyed by its checksum (reused next time).
fs::path unpack(const std::string &path)
{
    requireRegularFile(path, "bundle (.sepmodel folder or zip)");
    const std::string key = sha256File(path).substr(0, 16);
    const char *cache = std::getenv("XDG_CACHE_HOME");
    const char *home = std::getenv("HOME");
    const fs::path root = cache && *cache ? fs::path(cache) : home && *home ? fs::path(home) / ".cache" : fs::temp_directory_path();
    const fs::path dir = root / "sep-studio" / "bundles" / key;
    std::error_code ec;
    if (fs::exists(dir / "manifest.json", ec))
        return dir;
    // Before anything is written: LibTorch's reader allocates whatever size an entry declares.
    const io::ZipDirectory directory(path);
    const fs::path tmp = dir.string() + ".tmp-" + std::to_string(::getpid());
    fs::remove_all(tmp, ec);
    makeDirectories(tmp.string());
    // Every way out of the loop but success removes the half-unpacked folder.
    struct RemoveOnFailure {
        fs::path dir;
        bool keep = false;
        ~RemoveOnFailure()
        {
            std::error_code ignored;
            if (!keep)
                fs::remove_all(dir, ignored);
        }
    } cleanup{tmp};
    try {
        caffe2::serialize::PyTorchStreamReader reader(path);
        for (const auto &name : reader.getAllRecords()) {
            // The folder is new and holds only what this loop wrote (files, no links), so a
            // lexically contained path cannot be redirected elsewhere.
            const fs::path target = entryPathInside(tmp, name, path);
            if (!directory.findRecord(name))
                throw Error(path + ": entry '" + shortened(name) + "' is not where the zip directory lists its "
                                   "entries; the bundle is damaged. Export it again.");
            auto [data, size] = reader.getRecord(name);
            makeDirectories(target.parent_path().string());
            writeFileAtomic(target.string(), std::string(static_cast<const char *>(data.get()), size));
        }
    } catch (const c10::Error &e) {
        throw Error(path + ": not a readable bundle archive (" + std::string(e.what_without_backtrace()).substr(0, 200)
                    + "); it may be truncated. Export it again.");
    } catch (const std::bad_alloc &) {
        throw Error(path + ": declares an entry larger than memory allows; the bundle is damaged. Export it again.");
    }
    fs::rename(tmp, dir, ec);
    cleanup.keep = !ec;
    if (ec) {
        if (!fs::exists(dir / "manifest.json"))
            throw Error(path + ": cannot unpack into " + dir.string());
    }
    return dir;
}

// The first of `names` that `among` lacks, or nullptr.
const std::string *firstNotAmong(const std::vector<std::string> &names, const std::vector<std::string> &among)
{
    const std::set<std::string> known(among.begin(), among.end());
    for (const auto &n : names)
        if (!known.count(n))
            return &n;
    return nullptr;
}

} // namespace

std::vector<std::string> Manifest::addedClasses() const
{
    const std::set<std::string> trained(trainedClasses.begin(), trainedClasses.end());
    std::vector<std::string> out;
    for (const auto &c : classNames)
        if (!trained.count(c))
            out.push_back(c);
    return out;
}

void requireValidClassList(const std::vector<std::string> &names, const std::string &source)
{
    if (names.empty())
        throw Error(source + ": holds no class names (one per line)");
    std::set<std::string> seen;
    for (size_t i = 0; i < names.size(); ++i) {
        const auto &n = names[i];
        const std::string where = source + ": class " + std::to_string(i + 1);
        if (n.find_first_not_of(" \t\r\n") == std::string::npos)
            throw Error(where + " has an empty name; give every class a name");
        if (!isValidUtf8(n))
            throw Error(where + " (" + shortened(asUtf8(n), 60) + ") is not valid UTF-8; save the list as UTF-8");
        if (!seen.insert(n).second)
            throw Error(where + " ('" + shortened(n, 60) + "') appears twice; each class needs its own name");
    }
}

std::vector<std::string> withExtraClasses(std::vector<std::string> list, const std::vector<std::string> &extra)
{
    std::set<std::string> seen(list.begin(), list.end());
    for (const auto &name : extra)
        if (seen.insert(name).second)
            list.push_back(name);
    return list;
}

std::vector<std::string> readClassNames(const std::string &path)
{
    std::istringstream in(readFile(path));
    std::vector<std::string> names;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.pop_back();
        const auto start = line.find_first_not_of(" \t");
        if (start != std::string::npos)
            names.push_back(line.substr(start));
    }
    requireValidClassList(names, path);
    return names;
}

nlohmann::json Manifest::toJson() const
{
    return {{"format_version", formatVersion},
            {"method", method},
            {"options", options},
            {"class_names", classNames},
            {"trained_classes", trainedClasses},
            {"template", templ},
            {"fusion", fusion},
            {"backbone",
             {{"description", backbone.description},
              {"sha256", backbone.sha256},
              {"file_name", backbone.fileName},
              {"parameters", backbone.parameters},
              {"heads", backbone.heads}}},
            {"backbone_included", backboneIncluded},
            {"metrics", metrics},
            {"created", created},
            {"producer", producer},
            {"files", fileSha256}};
}

Manifest Manifest::fromJson(const nlohmann::json &j, const std::string &source)
{
    Manifest m;
    const auto version = field<nlohmann::json>(j, "format_version", source);
    if (!version.is_number_integer())
        throw Error(source + ": manifest.json's 'format_version' is " + shortened(version.dump(), 40)
                    + ", not a whole number; the bundle is damaged. Export it again.");
    if (version.get<int64_t>() > kBundleFormat)
        throw Error(source + ": written by a newer SEP Studio (bundle format " + version.dump()
                    + ", this one reads up to " + std::to_string(kBundleFormat) + "); update SEP Studio to run it");
    m.formatVersion = static_cast<int>(std::max<int64_t>(version.get<int64_t>(), 0));
    if (m.formatVersion > kBundleFormat)
        throw Error(source + ": written by a newer SEP Studio (bundle format " + std::to_string(m.formatVersion)
                    + ", this one reads up to " + std::to_string(kBundleFormat) + "); update SEP Studio to run it");
    if (m.formatVersion < 1)
        throw Error(source + ": bundle format " + std::to_string(m.formatVersion) + " is not a valid version");
    m.method = field<std::string>(j, "method", source);
    m.options = j.value("options", nlohmann::json::object());
    m.classNames = field<std::vector<std::string>>(j, "class_names", source);
    requireValidClassList(m.classNames, source + " (manifest.json)");
    if (j.contains("trained_classes")) {
        m.trainedClasses = field<std::vector<std::string>>(j, "trained_classes", source);
        if (const auto *stray = firstNotAmong(m.trainedClasses, m.classNames))
            throw Error(source + ": manifest.json's trained class '" + shortened(*stray, 60)
                        + "' is not among its class names; the bundle is damaged. Export it again.");
    } else {
        m.trainedClasses = m.classNames;   // written before trained classes were recorded
    }
    m.templ = optionalField<std::string>(j, "template", "", source);
    m.fusion = optionalField<std::string>(j, "fusion", "", source);
    const auto &b = j.contains("backbone") ? j["backbone"] : throw Error(source + ": manifest.json has no 'backbone'");
    m.backbone.description = field<std::string>(b, "description", source);
    m.backbone.sha256 = field<std::string>(b, "sha256", source);
    m.backbone.fileName = field<std::string>(b, "file_name", source);
    m.backbone.parameters = optionalField<int64_t>(b, "parameters", 0, source);
    m.backbone.heads = b.value("heads", nlohmann::json::object());
    m.backboneIncluded = optionalField<bool>(j, "backbone_included", false, source);
    m.metrics = j.value("metrics", nlohmann::json::object());
    m.created = optionalField<std::string>(j, "created", "", source);
    m.producer = optionalField<std::string>(j, "producer", "", source);
    if (j.contains("files")) {
        const auto &files = j["files"];
        if (!files.is_object())
            throw Error(source + ": manifest.json's 'files' has the wrong type; the bundle is damaged. Export it again.");
        for (auto it = files.begin(); it != files.end(); ++it) {
            if (!it->is_string() || it->get<std::string>().size() != 64)
                throw Error(source + ": manifest.json's checksum of '" + it.key() + "' is not a SHA-256; the bundle is "
                                     "damaged. Export it again.");
            m.fileSha256[it.key()] = it->get<std::string>();
        }
    }
    return m;
}

void writeBundle(const std::string &out, prompt::Method &method, clip::LoadedClip &clip, const nlohmann::json &metrics,
                 const ExportOptions &options)
{
    std::error_code ec;
    if (fs::exists(out, ec))
        throw Error(out + ": already exists; remove it or choose another name (nothing was overwritten)");
    if (method.classes().empty())
        throw Error("export: the method has no class list");
    const auto &config = clip.config();

    Manifest m;
    m.method = method.name();
    m.options = method.options();
    m.classNames = method.classes();
    requireValidClassList(m.classNames, "export");
    m.trainedClasses = options.trainedClasses ? *options.trainedClasses
                                              : (method.trainable() ? m.classNames : std::vector<std::string>{});
    if (const auto *stray = firstNotAmong(m.trainedClasses, m.classNames))
        throw Error("export: trained class '" + shortened(*stray, 60) + "' is missing from the bundle's class list");
    m.templ = m.options.value("template", "");
    m.fusion = m.options.value("fusion", "");
    m.backbone.description = config.describe();
    m.backbone.sha256 = sha256File(clip.weightsPath);
    m.backbone.fileName = fs::path(clip.weightsPath).filename().string();
    m.backbone.parameters = config.parameterCount();
    m.backbone.heads = {{"text", config.text.heads}, {"vision", config.vision.heads}, {"activation", activationName(config.activation)}};
    m.backboneIncluded = options.includeBackbone;
    m.metrics = metrics;
    m.created = timestamp();
    m.producer = programName();

    const fs::path staging = out + ".tmp-" + std::to_string(::getpid());
    fs::remove_all(staging, ec);
    try {
        makeDirectories(staging.string());
        io::writeSafetensors((staging / "prompt.safetensors").string(), method.state(),
                             {{"format", "pt"}, {"method", m.method}});
        m.fileSha256["prompt.safetensors"] = sha256File((staging / "prompt.safetensors").string());
        writeFileAtomic((staging / "manifest.json").string(), m.toJson().dump(2) + "\n");
        if (options.includeBackbone) {
            const fs::path backbone = staging / "backbone";
            makeDirectories(backbone.string());
            copyFile(clip.weightsPath, backbone / m.backbone.fileName);
            if (!clip.vocabPath.empty()) {
                // Under a name Tokenizer::findBeside recognises: gzip merges files keep theirs, the
                // Hugging Face pair stays a pair, a plain merges file becomes merges.txt.
                const fs::path vocab(clip.vocabPath);
                const std::string name = vocab.filename().string();
                const bool gz = name.size() > 7 && name.compare(name.size() - 7, 7, ".txt.gz") == 0;
                if (name == "vocab.json") {
                    copyFile(vocab, backbone / "vocab.json");
                    copyFile(vocab.parent_path() / "merges.txt", backbone / "merges.txt");
                } else {
                    copyFile(vocab, backbone / (gz ? name : std::string("merges.txt")));
                }
            }
            const nlohmann::json cfg = {
                {"text_config", {{"num_attention_heads", config.text.heads}, {"hidden_act", activationName(config.activation)}}},
                {"vision_config", {{"num_attention_heads", config.vision.heads}, {"hidden_act", activationName(config.activation)}}}};
            writeFileAtomic((backbone / "config.json").string(), cfg.dump(2) + "\n");
        }
        if (options.zip) {
            const std::string tmpZip = temporaryPathFor(out);
            {
                const std::string stem = fs::path(out).stem().string();
                caffe2::serialize::PyTorchStreamWriter writer(tmpZip);
                for (const auto &name : filesBelow(staging)) {
                    const std::string bytes = readFile((staging / name).string());
                    writer.writeRecord(name, bytes.data(), bytes.size());
                }
                writer.writeEndOfFile();
            }
            fs::remove_all(staging, ec);
            commitTemporary(tmpZip, out);
        } else {
            fs::rename(staging, out, ec);
            if (ec)
                throw Error(out + ": cannot be written (" + ec.message() + ")");
        }
    } catch (...) {
        fs::remove_all(staging, ec);
        throw;
    }
}

Bundle readBundle(const std::string &path)
{
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw Error(path + ": bundle not found");
    Bundle b;
    b.path = path;
    if (fs::is_directory(path, ec)) {
        b.directory = path;
    } else {
        if (fs::file_size(path, ec) == 0)
            throw Error(path + ": the bundle file is empty (0 bytes); export it again");
        b.directory = unpack(path).string();
        b.zipped = true;
    }
    const fs::path manifestPath = fs::path(b.directory) / "manifest.json";
    if (!fs::exists(manifestPath, ec))
        throw Error(path + ": has no manifest.json; this is not a SEP Studio bundle, or it is incomplete");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(readFile(manifestPath.string()));
    } catch (const nlohmann::json::exception &e) {
        throw Error(path + ": manifest.json is not valid JSON (" + std::string(e.what()) + "); the bundle is damaged");
    }
    b.manifest = Manifest::fromJson(j, path);
    const fs::path promptPath = fs::path(b.directory) / "prompt.safetensors";
    if (!fs::exists(promptPath, ec))
        throw Error(path + ": has no prompt.safetensors; the bundle is incomplete. Export it again.");
    for (const auto &[name, sum] : b.manifest.fileSha256) {
        const fs::path file = entryPathInside(b.directory, name, path + " (manifest.json)");
        if (!fs::exists(file, ec))
            throw Error(path + ": " + name + " is listed in manifest.json but missing; the bundle is incomplete. Export it again.");
        if (sha256File(file.string()) != sum)
            throw Error(path + ": " + name + " does not match its checksum in manifest.json; it was changed or swapped in "
                               "from another bundle. Export the bundle again.");
    }
    b.prompt = io::readSafetensors(promptPath.string());
    return b;
}

std::string resolveBackbone(const Bundle &bundle, const std::string &weightsOverride, bool trustWeights)
{
    const auto &info = bundle.manifest.backbone;
    auto check = [&](const std::string &file, bool mustMatch) {
        const std::string sum = sha256File(file);
        if (sum != info.sha256 && mustMatch)
            throw Error(file + ": its checksum (" + sum.substr(0, 12) + "…) differs from the backbone " + bundle.path
                        + " was tuned on (" + info.sha256.substr(0, 12) + "…, " + info.fileName + "). Give the right weights"
                        + (trustWeights ? "" : ", or --trust-weights to use these anyway"));
        return sum == info.sha256;
    };
    if (!weightsOverride.empty()) {
        check(weightsOverride, !trustWeights);
        return weightsOverride;
    }
    std::error_code ec;
    if (bundle.manifest.backboneIncluded) {
        const fs::path inside = fs::path(bundle.directory) / "backbone" / info.fileName;
        if (!fs::exists(inside, ec))
            throw Error(bundle.path + ": says it includes its backbone, but backbone/" + info.fileName
                        + " is missing; the bundle is incomplete. Export it again.");
        if (!check(inside.string(), false))
            throw Error(bundle.path + ": the included backbone's checksum does not match the manifest; the bundle is "
                                      "damaged. Export it again.");
        return inside.string();
    }
    // Beside the bundle: the same file name first, then any weights file with the same checksum.
    const fs::path beside = fs::absolute(bundle.path).parent_path();
    const fs::path named = beside / info.fileName;
    if (fs::exists(named, ec) && check(named.string(), false))
        return named.string();
    for (const auto &e : fs::directory_iterator(beside, ec)) {
        const std::string ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".pt" || ext == ".safetensors" || ext == ".bin") && e.path() != named
            && check(e.path().string(), false))
            return e.path().string();
    }
    // The built-in model, which every installation has: bundles tuned on it need nothing else.
    const std::string builtin = builtinModelWeights();
    if (!builtin.empty() && check(builtin, false))
        return builtin;
    throw Error(bundle.path + ": needs its backbone (" + info.fileName + ": " + info.description + ", SHA-256 "
                + info.sha256.substr(0, 12) + "…). Put that file beside the bundle, give it with --weights, or export "
                "with --include-backbone");
}

LoadedBundle loadBundle(const std::string &path, const std::string &weightsOverride, const std::string &vocabOverride,
                        const std::string &device, const std::string &fusionOverride, bool trustWeights)
{
    Bundle bundle = readBundle(path);
    LoadedBundle out;
    out.manifest = bundle.manifest;
    const std::string weights = resolveBackbone(bundle, weightsOverride, trustWeights);
    clip::LoadOptions load;
    load.vocabPath = vocabOverride;
    load.textHeads = bundle.manifest.backbone.heads.value("text", int64_t(0));
    load.visionHeads = bundle.manifest.backbone.heads.value("vision", int64_t(0));
    load.activation = bundle.manifest.backbone.heads.value("activation", "");
    if (vocabOverride.empty() && bundle.manifest.backboneIncluded) {
        // The vocabulary travels in backbone/ beside the weights.
        load.vocabPath = clip::Tokenizer::findBeside(weights);
    }
    out.clip = std::make_unique<clip::LoadedClip>(clip::loadClip(weights, load));
    out.clip->model->to(resolveDevice(device));
    nlohmann::json options = bundle.manifest.options;
    if (!fusionOverride.empty()) {
        if (bundle.manifest.method != "sep")
            throw Error("--fusion applies to SEP bundles; " + path + " holds a " + bundle.manifest.method + " model");
        options["fusion"] = fusionOverride;
    }
    out.method = prompt::makeMethod(bundle.manifest.method, *out.clip, options);
    out.method->setClasses(bundle.manifest.classNames);
    out.method->loadState(bundle.prompt, path + " (prompt.safetensors)");
    out.manifest.options = out.method->options();
    return out;
}

void writeClassifier(const std::string &dir, prompt::Method &method)
{
    const at::Tensor features = method.textClassifier();
    if (!features.defined())
        throw Error("the " + method.name() + " method has image-side prompts, so its class embeddings alone do not "
                    "classify; export the bundle instead");
    makeDirectories(dir);
    io::writeSafetensors(dir + "/classifier.safetensors", {{"classifier", features.detach().to(torch::kCPU).contiguous()}},
                         {{"format", "pt"}, {"method", method.name()}, {"normalized", "true"}});
    std::string names;
    for (const auto &c : method.classes())
        names += c + "\n";
    writeFileAtomic(dir + "/classes.txt", names);
}

} // namespace sep::exporting
