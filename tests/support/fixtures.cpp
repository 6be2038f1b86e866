#include "tests/support/fixtures.h"

#include "engine/io/safetensors.h"

#include <opencv2/imgcodecs.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include <QDir>
#include <QFile>

#include <random>

#include <fstream>
#include <nlohmann/json.hpp>

namespace sep::test {
namespace {

std::map<std::string, at::Tensor> openAiStateDict(clip::Model &model)
{
    std::map<std::string, at::Tensor> out;
    for (auto &p : model->named_parameters()) {
        std::string name = p.key();
        if (name.rfind("text.", 0) == 0)
            name = name.substr(5);
        out[name] = p.value().detach().clone();
    }
    return out;
}

std::vector<std::string> split(const std::string &s, char sep)
{
    std::vector<std::string> parts;
    size_t start = 0, pos;
    while ((pos = s.find(sep, start)) != std::string::npos) {
        parts.push_back(s.substr(start, pos - start));
        start = pos + 1;
    }
    parts.push_back(s.substr(start));
    return parts;
}

} // namespace

clip::Config tinyConfig(int64_t vocabSize)
{
    clip::Config c;
    c.vision.width = 64;
    c.vision.layers = 2;
    c.vision.heads = 2;
    c.vision.mlpWidth = 256;
    c.vision.patchSize = 8;
    c.vision.imageSize = 32;
    c.text.width = 32;
    c.text.layers = 2;
    c.text.heads = 2;
    c.text.mlpWidth = 128;
    c.text.contextLength = 16;
    c.text.vocabSize = vocabSize;
    c.embedDim = 24;
    return c;
}

clip::Model makeTinyModel(const clip::Config &config, uint64_t seed)
{
    torch::manual_seed(seed);
    clip::Model model(config);
    torch::NoGradGuard noGrad;
    for (auto &p : model->named_parameters()) {
        const auto &name = p.key();
        if (name.find("ln_") != std::string::npos) {
            // LayerNorm weights near 1, biases near 0, but not exactly, so a mix-up shows.
            if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0)
                p.value().uniform_(0.8, 1.2);
            else
                p.value().uniform_(-0.1, 0.1);
        } else if (name.find("bias") != std::string::npos) {
            p.value().uniform_(-0.05, 0.05);
        }
    }
    model->logit_scale.fill_(std::log(50.0));
    return model;
}

void writeOpenAiArchive(clip::Model &model, const std::string &path, bool half)
{
    torch::jit::Module root("__torch__.model.CLIP");
    std::map<std::string, torch::jit::Module> modules;   // dotted path → module
    auto moduleAt = [&](const std::string &dotted) -> torch::jit::Module & {
        std::string current;
        torch::jit::Module *parent = &root;
        for (const auto &part : split(dotted, '.')) {
            current = current.empty() ? part : current + "." + part;
            auto it = modules.find(current);
            if (it == modules.end()) {
                torch::jit::Module child("__torch__.model." + part);
                parent->register_module(part, child);
                // register_module stores a handle to the same object, so later edits show in the parent.
                it = modules.emplace(current, parent->attr(part).toModule()).first;
            }
            parent = &it->second;
        }
        return *parent;
    };
    for (auto &[name, tensor] : openAiStateDict(model)) {
        auto value = half ? tensor.to(torch::kHalf) : tensor;
        const auto dot = name.rfind('.');
        if (dot == std::string::npos)
            root.register_parameter(name, value, false);
        else
            moduleAt(name.substr(0, dot)).register_parameter(name.substr(dot + 1), value, false);
    }
    const auto &c = model->config();
    root.register_attribute("input_resolution", c10::IntType::get(), c.vision.imageSize);
    root.register_attribute("context_length", c10::IntType::get(), c.text.contextLength);
    root.register_attribute("vocab_size", c10::IntType::get(), c.text.vocabSize);
    root.save(path);
}

void writeStateDict(clip::Model &model, const std::string &path, bool nest, const std::string &keyPrefix)
{
    c10::Dict<std::string, at::Tensor> dict;
    for (auto &[name, tensor] : openAiStateDict(model))
        dict.insert(keyPrefix + name, tensor);
    c10::IValue value = dict;
    if (nest) {
        c10::impl::GenericDict outer(c10::StringType::get(), c10::AnyType::get());
        outer.insert("state_dict", dict);
        outer.insert("epoch", 7);
        value = outer;
    }
    const auto bytes = torch::pickle_save(value);
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void writeHuggingFace(clip::Model &model, const std::string &path, bool writeConfig)
{
    std::map<std::string, at::Tensor> hf;
    auto sd = openAiStateDict(model);
    const auto &c = model->config();
    auto tower = [&](const std::string &from, const std::string &to, int64_t layers) {
        for (int64_t i = 0; i < layers; ++i) {
            const std::string o = from + std::to_string(i) + ".", h = to + std::to_string(i) + ".";
            auto w = sd.at(o + "attn.in_proj_weight").chunk(3, 0);
            auto b = sd.at(o + "attn.in_proj_bias").chunk(3, 0);
            const char *qkv[] = {"q", "k", "v"};
            for (int j = 0; j < 3; ++j) {
                hf[h + "self_attn." + qkv[j] + "_proj.weight"] = w[j].contiguous();
                hf[h + "self_attn." + qkv[j] + "_proj.bias"] = b[j].contiguous();
            }
            for (const char *p : {"weight", "bias"}) {
                hf[h + "self_attn.out_proj." + p] = sd.at(o + "attn.out_proj." + p);
                hf[h + "layer_norm1." + p] = sd.at(o + "ln_1." + p);
                hf[h + "layer_norm2." + p] = sd.at(o + "ln_2." + p);
                hf[h + "mlp.fc1." + p] = sd.at(o + "mlp.c_fc." + p);
                hf[h + "mlp.fc2." + p] = sd.at(o + "mlp.c_proj." + p);
            }
        }
    };
    tower("visual.transformer.resblocks.", "vision_model.encoder.layers.", c.vision.layers);
    tower("transformer.resblocks.", "text_model.encoder.layers.", c.text.layers);
    hf["vision_model.embeddings.patch_embedding.weight"] = sd.at("visual.conv1.weight");
    hf["vision_model.embeddings.class_embedding"] = sd.at("visual.class_embedding");
    hf["vision_model.embeddings.position_embedding.weight"] = sd.at("visual.positional_embedding");
    hf["vision_model.embeddings.position_ids"] = torch::arange(c.vision.tokens()).unsqueeze(0);
    for (const char *p : {"weight", "bias"}) {
        hf[std::string("vision_model.pre_layrnorm.") + p] = sd.at(std::string("visual.ln_pre.") + p);
        hf[std::string("vision_model.post_layernorm.") + p] = sd.at(std::string("visual.ln_post.") + p);
        hf[std::string("text_model.final_layer_norm.") + p] = sd.at(std::string("ln_final.") + p);
    }
    hf["visual_projection.weight"] = sd.at("visual.proj").t().contiguous();
    hf["text_projection.weight"] = sd.at("text_projection").t().contiguous();
    hf["text_model.embeddings.token_embedding.weight"] = sd.at("token_embedding.weight");
    hf["text_model.embeddings.position_embedding.weight"] = sd.at("positional_embedding");
    hf["text_model.embeddings.position_ids"] = torch::arange(c.text.contextLength).unsqueeze(0);
    hf["logit_scale"] = sd.at("logit_scale");
    io::writeSafetensors(path, hf, {{"format", "pt"}});

    if (writeConfig) {
        nlohmann::json j;
        j["architectures"] = {"CLIPModel"};
        j["text_config"] = {{"num_attention_heads", c.text.heads}, {"hidden_act", "quick_gelu"}};
        j["vision_config"] = {{"num_attention_heads", c.vision.heads}, {"hidden_act", "quick_gelu"}};
        const auto dir = path.substr(0, path.find_last_of('/'));
        std::ofstream(dir + "/config.json") << j.dump(2);
    }
}

std::string writeTinyVocab(const std::string &dir)
{
    const std::string path = dir + "/tiny_vocab.txt";
    std::ofstream(path) << "#version: tiny byte-level vocabulary without merges\n";
    return path;
}

clip::LoadedClip tinyClip(const std::string &vocabDir, uint64_t seed)
{
    clip::LoadedClip clip;
    auto config = tinyConfig(514);
    config.text.contextLength = 32;   // byte-level tokens: one per letter
    clip.model = makeTinyModel(config, seed);
    for (auto &p : clip.model->parameters())
        p.set_requires_grad(false);
    clip.vocabPath = writeTinyVocab(vocabDir);
    clip.tokenizer = clip::Tokenizer::fromMergesFile(clip.vocabPath, 514);
    return clip;
}

ModelFiles writeTinyModelFiles(const std::string &dir, uint64_t seed)
{
    auto clip = tinyClip(dir, seed);
    ModelFiles f;
    f.weights = dir + "/tiny.safetensors";
    f.vocab = clip.vocabPath;
    f.config = dir + "/config.json";
    io::writeSafetensors(f.weights, clip::exportWeights(clip.model));
    const auto &c = clip.config();
    std::ofstream(f.config) << "{\"text_config\": {\"num_attention_heads\": " << c.text.heads
                            << "}, \"vision_config\": {\"num_attention_heads\": " << c.vision.heads << "}}";
    return f;
}

void writeColourFolder(const QString &root, const std::vector<std::string> &classes, int perClass, uint64_t seed)
{
    std::mt19937_64 rng(seed);
    for (size_t c = 0; c < classes.size(); ++c) {
        const QString dir = root + QLatin1Char('/') + QString::fromStdString(classes[c]);
        QDir().mkpath(dir);
        // Each class its own hue, each image its own noise.
        const int base[3] = {static_cast<int>((c * 97) % 256), static_cast<int>((c * 53 + 80) % 256),
                             static_cast<int>((c * 151 + 160) % 256)};
        for (int i = 0; i < perClass; ++i) {
            cv::Mat img(40, 40, CV_8UC3);
            for (int y = 0; y < 40; ++y)
                for (int x = 0; x < 40; ++x)
                    for (int ch = 0; ch < 3; ++ch)
                        img.at<cv::Vec3b>(y, x)[2 - ch] =
                            static_cast<uchar>(std::clamp(base[ch] + static_cast<int>(rng() % 61) - 30, 0, 255));
            cv::imwrite((dir + QStringLiteral("/%1.png").arg(i)).toStdString(), img);
        }
    }
}

at::Tensor randomImages(int64_t n, int64_t size, uint64_t seed)
{
    auto gen = at::detail::createCPUGenerator(seed);
    return at::randn({n, 3, size, size}, gen);
}

void writePng(const QString &path, int w, int h, int r, int g, int b)
{
    cv::Mat img(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((b + 3 * x) % 256), static_cast<uchar>((g + 5 * y) % 256),
                                                static_cast<uchar>(r));
    cv::imwrite(path.toStdString(), img);
}

QString vocabPath()
{
    const char *env = std::getenv("SEP_CLIP_VOCAB");
    const QString path = env && *env ? QString::fromUtf8(env) : QStringLiteral(SEP_TEST_VOCAB);
    return QFile::exists(path) ? path : QString();
}

bool hasVocab() { return !vocabPath().isEmpty(); }

} // namespace sep::test
