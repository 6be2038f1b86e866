#include "engine/clip/weights.h"

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/runtime.h"
#include "engine/io/safetensors.h"
#include "engine/io/torch_archive.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

namespace sep::clip {
namespace fs = std::filesystem;
namespace {

std::string shapeText(at::IntArrayRef shape)
{
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

bool startsWith(const std::string &s, const std::string &prefix) { return s.rfind(prefix, 0) == 0; }

// Hugging Face CLIPModel names → OpenAI names. q/k/v projections are gathered and packed by the caller.
std::string hfBlockPart(const std::string &rest)
{
    static const std::vector<std::pair<std::string, std::string>> parts = {
        {"self_attn.out_proj.", "attn.out_proj."}, {"layer_norm1.", "ln_1."}, {"layer_norm2.", "ln_2."},
        {"mlp.fc1.", "mlp.c_fc."},                {"mlp.fc2.", "mlp.c_proj."},
    };
    for (const auto &[from, to] : parts)
        if (startsWith(rest, from))
            return to + rest.substr(from.size());
    return {};
}

TensorMap fromHuggingFace(const TensorMap &hf, const std::string &source, std::vector<std::string> &notes)
{
    static const std::map<std::string, std::string> direct = {
        {"vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight"},
        {"vision_model.embeddings.class_embedding", "visual.class_embedding"},
        {"vision_model.embeddings.position_embedding.weight", "visual.positional_embedding"},
        {"vision_model.pre_layrnorm.weight", "visual.ln_pre.weight"},
        {"vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"},
        {"vision_model.pre_layernorm.weight", "visual.ln_pre.weight"},
        {"vision_model.pre_layernorm.bias", "visual.ln_pre.bias"},
        {"vision_model.post_layernorm.weight", "visual.ln_post.weight"},
        {"vision_model.post_layernorm.bias", "visual.ln_post.bias"},
        {"text_model.embeddings.token_embedding.weight", "token_embedding.weight"},
        {"text_model.embeddings.position_embedding.weight", "positional_embedding"},
        {"text_model.final_layer_norm.weight", "ln_final.weight"},
        {"text_model.final_layer_norm.bias", "ln_final.bias"},
        {"logit_scale", "logit_scale"},
    };
    static const std::regex block(R"(^(vision_model|text_model)\.encoder\.layers\.(\d+)\.(.*)$)");

    TensorMap out;
    // (OpenAI block prefix) → q, k, v tensors for weight and bias
    std::map<std::string, std::array<at::Tensor, 3>> qkvWeight, qkvBias;
    std::set<std::string> ignored;
    for (const auto &[key, t] : hf) {
        if (auto it = direct.find(key); it != direct.end()) {
            out[it->second] = t;
            continue;
        }
        if (key == "visual_projection.weight") {
            out["visual.proj"] = t.t().contiguous();
            continue;
        }
        if (key == "text_projection.weight") {
            out["text_projection"] = t.t().contiguous();
            continue;
        }
        std::smatch m;
        if (std::regex_match(key, m, block)) {
            const std::string prefix = (m[1] == "vision_model" ? "visual.transformer.resblocks." : "transformer.resblocks.")
                                       + m[2].str() + ".";
            const std::string rest = m[3];
            static const std::regex qkv(R"(^self_attn\.([qkv])_proj\.(weight|bias)$)");
            std::smatch q;
            if (std::regex_match(rest, q, qkv)) {
                const int slot = q[1] == "q" ? 0 : q[1] == "k" ? 1 : 2;
                (q[2] == "weight" ? qkvWeight : qkvBias)[prefix][slot] = t;
                continue;
            }
            if (auto part = hfBlockPart(rest); !part.empty()) {
                out[prefix + part] = t;
                continue;
            }
        }
        ignored.insert(key);
    }
    auto pack = [&](auto &groups, const char *name) {
        for (auto &[prefix, parts] : groups) {
            for (int i = 0; i < 3; ++i)
                if (!parts[i].defined())
                    throw Error(source + ": '" + prefix + "' has no " + "qkv"[i] + "_proj." + name
                                + " (Hugging Face layout needs q_proj, k_proj and v_proj)");
            out[prefix + "attn.in_proj_" + name] = torch::cat({parts[0], parts[1], parts[2]}, 0);
        }
    };
    pack(qkvWeight, "weight");
    pack(qkvBias, "bias");
    for (const auto &key : ignored)
        if (key.find("position_ids") == std::string::npos)
            notes.push_back("ignored '" + key + "' (not part of CLIP's image and text towers)");
    return out;
}

std::string describeBytes(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    char buf[8] = {};
    in.read(buf, sizeof buf);
    std::string hex;
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
        char b[4];
        std::snprintf(b, sizeof b, "%02x ", static_cast<unsigned char>(buf[i]));
        hex += b;
    }
    return hex.empty() ? "" : " (first bytes: " + hex.substr(0, hex.size() - 1) + ")";
}

// The keys of OpenAI's TorchScript release that are not weights.
bool isOpenAiNonWeight(const std::string &key)
{
    return key == "input_resolution" || key == "context_length" || key == "vocab_size";
}

} // namespace

std::string modelNameToOpenAi(const std::string &name)
{
    return startsWith(name, "text.") ? name.substr(5) : name;
}

std::string openAiNameToModel(const std::string &key)
{
    return startsWith(key, "visual.") || key == "logit_scale" ? key : "text." + key;
}

TensorMap readClipWeights(const std::string &path, std::string *format, std::vector<std::string> *notesOut)
{
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw Error(path + ": weights file not found");
    if (fs::is_directory(path, ec))
        throw Error(path + ": is a directory; give the weights file itself (.pt, .bin or .safetensors)");
    requireRegularFile(path, "weights file");
    const auto size = fs::file_size(path, ec);
    if (ec)
        throw Error(path + ": cannot read the weights file (" + ec.message() + ")");
    if (size == 0)
        throw Error(path + ": the weights file is empty (0 bytes); it was probably cut off while downloading");

    std::vector<std::string> notes;
    TensorMap raw;
    std::string kind;
    if (io::looksLikeSafetensors(path)) {
        raw = io::readSafetensors(path);
        kind = "safetensors";
    } else if (io::looksLikeTorchArchive(path)) {
        if (io::isTorchScriptArchive(path)) {
            raw = io::readTorchScriptTensors(path);
            kind = "OpenAI TorchScript archive";
        } else {
            const io::PickleValue root = io::readTorchArchive(path);
            const io::PickleValue *dict = &root;
            for (const char *wrapper : {"state_dict", "model", "model_state_dict"})
                if (const auto *inner = root.find(wrapper); inner && inner->kind == io::PickleValue::Kind::Dict) {
                    dict = inner;
                    notes.push_back(std::string("weights taken from the checkpoint's '") + wrapper + "' entry");
                    break;
                }
            raw = io::collectTensors(*dict);
            kind = "torch.save state dict";
        }
    } else {
        // Reuse the archive reader for its precise message about legacy pickles and corrupt zips.
        unsigned char head[4] = {};
        std::ifstream in(path, std::ios::binary);
        in.read(reinterpret_cast<char *>(head), 4);
        if (head[0] == 0x80 || (head[0] == 'P' && head[1] == 'K'))
            io::readTorchArchive(path);
        throw Error(path + ": not a CLIP weights file" + describeBytes(path)
                    + ". Expected an OpenAI release file (.pt), a torch.save state dict, or a Hugging Face "
                      "model.safetensors");
    }
    if (raw.empty())
        throw Error(path + ": the " + kind + " holds no tensors");

    // Strip DataParallel's "module." prefix.
    TensorMap stripped;
    for (auto &[key, t] : raw)
        stripped[startsWith(key, "module.") ? key.substr(7) : key] = t;
    raw.swap(stripped);

    const bool huggingFace = std::any_of(raw.begin(), raw.end(),
                                         [](const auto &kv) { return startsWith(kv.first, "vision_model."); });
    TensorMap weights;
    if (huggingFace) {
        weights = fromHuggingFace(raw, path, notes);
        kind += " (Hugging Face names)";
    } else {
        for (auto &[key, t] : raw) {
            if (isOpenAiNonWeight(key))
                continue;
            weights[key] = t;
        }
    }

    std::set<std::string> dtypes;
    for (auto &[key, t] : weights) {
        if (!t.is_floating_point())
            throw Error(path + ": weight '" + key + "' holds " + std::string(c10::toString(t.scalar_type()))
                        + " values, expected floating point");
        dtypes.insert(c10::toString(t.scalar_type()));
        if (t.scalar_type() != torch::kFloat)
            t = t.to(torch::kFloat);
    }
    if (!dtypes.count("Float") || dtypes.size() > 1) {
        std::string list;
        for (const auto &d : dtypes)
            list += (list.empty() ? "" : ", ") + d;
        notes.push_back("stored as " + list + "; converted to float32");
        kind += dtypes.count("Half") ? " (fp16)" : "";
    }
    if (format)
        *format = kind;
    if (notesOut)
        notesOut->insert(notesOut->end(), notes.begin(), notes.end());
    return weights;
}

Config configFromWeights(const TensorMap &weights, const std::string &source, const std::string &configPath)
{
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const auto &[key, t] : weights)
        shapes[key] = t.sizes().vec();
    Config config = Config::fromShapes(shapes, source);
    if (!configPath.empty())
        applyJsonConfig(config, configPath);
    // Shapes come from the file's index, which may declare more than its bytes hold (an empty tensor
    // of shape [10^9, 0] still reads as width 10^9). Every parameter of the model is copied from a
    // weight, so a model larger than all the weights together is refused before it is allocated.
    double elements = 0;
    for (const auto &[key, t] : weights)
        elements += static_cast<double>(t.numel());
    const double needed = config.parameterCountEstimate();
    if (needed > elements)
        throw Error(source + ": the tensor shapes describe a model of " + std::to_string(static_cast<long long>(needed))
                    + " parameters but the file holds " + std::to_string(static_cast<long long>(elements))
                    + " values; the file is damaged or not a CLIP model");
    return config;
}

void requireFiniteWeights(const TensorMap &weights, const std::string &source)
{
    for (const auto &[key, t] : weights) {
        if (!t.is_floating_point() || t.numel() == 0)
            continue;
        const auto bad = t.numel() - torch::isfinite(t).sum().item<int64_t>();
        if (bad > 0)
            throw Error(source + ": weight '" + key + "' holds " + std::to_string(bad) + " NaN or infinite value(s) of "
                        + std::to_string(t.numel())
                        + "; a model with them gives meaningless predictions. The file is damaged, or it was saved "
                          "after training diverged: use another copy.");
    }
}

std::vector<std::string> copyWeightsInto(Model &model, const TensorMap &weights, const std::string &source)
{
    torch::NoGradGuard noGrad;
    std::set<std::string> used;
    for (auto &item : model->named_parameters()) {
        const std::string key = modelNameToOpenAi(item.key());
        auto it = weights.find(key);
        if (it == weights.end())
            throw Error(source + ": missing weight '" + key + "'");
        if (!it->second.sizes().equals(item.value().sizes()))
            throw Error(source + ": weight '" + key + "' has shape " + shapeText(it->second.sizes())
                        + ", the model needs " + shapeText(item.value().sizes()));
        item.value().copy_(it->second);
        used.insert(key);
    }
    std::vector<std::string> unused;
    for (const auto &kv : weights)
        if (!used.count(kv.first))
            unused.push_back(kv.first);
    return unused;
}

TensorMap exportWeights(Model &model)
{
    TensorMap out;
    for (auto &item : model->named_parameters())
        out[modelNameToOpenAi(item.key())] = item.value().detach().to(torch::kCPU).contiguous();
    return out;
}

Tokenizer loadTokenizer(const std::string &weightsPath, const std::string &vocabPath, int64_t vocabSize,
                        std::string *foundPath)
{
    std::string path = vocabPath.empty() ? Tokenizer::findBeside(weightsPath) : vocabPath;
    if (path.empty())
        throw Error(weightsPath + ": no vocabulary found beside the weights. Give it with --vocab: CLIP's "
                                  "bpe_simple_vocab_16e6.txt.gz, or Hugging Face's vocab.json (with merges.txt beside it)");
    if (foundPath)
        *foundPath = path;
    return Tokenizer::fromFile(path, vocabSize);
}

LoadedClip loadClip(const std::string &weightsPath, const LoadOptions &options)
{
    ensureThreadsConfigured();
    LoadedClip clip;
    clip.weightsPath = weightsPath;
    TensorMap weights = readClipWeights(weightsPath, &clip.format, &clip.notes);
    std::string configPath = options.configPath;
    if (configPath.empty()) {
        configPath = findJsonConfigBeside(weightsPath);
        if (!configPath.empty())
            clip.notes.push_back("attention heads and activation from " + configPath);
    }
    Config config = configFromWeights(weights, weightsPath, configPath);
    requireFiniteWeights(weights, weightsPath);
    if (options.textHeads > 0)
        config.text.heads = options.textHeads;
    if (options.visionHeads > 0)
        config.vision.heads = options.visionHeads;
    if (!options.activation.empty())
        config.activation = options.activation == "gelu" ? Activation::Gelu : Activation::QuickGelu;
    asEntryPoint(weightsPath + ": building the model", [&] {
        clip.model = Model(config);
        for (const auto &key : copyWeightsInto(clip.model, weights, weightsPath))
            clip.notes.push_back("ignored '" + key + "' (no such weight in a CLIP ViT model)");
    });
    for (auto &p : clip.model->parameters())
        p.set_requires_grad(false);
    clip.model->eval();
    if (options.loadVocabulary)
        clip.tokenizer = loadTokenizer(weightsPath, options.vocabPath, config.text.vocabSize, &clip.vocabPath);
    return clip;
}

} // namespace sep::clip
