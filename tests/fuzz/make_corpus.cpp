// Writes the seed corpus of every fuzz target into <out>/<target>/: a few small valid inputs made
// with the engine's own writers (or the libraries the formats come from), and slightly broken
// variants of them (truncated, a field of the wrong type, a length that lies). Run by hand after a
// format changes, and commit the result:
//
//   build-fuzz/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus
//
// Inputs found by fuzzing are added to the corpus by hand (docs/FUZZING.md) and are not written here.

#include "engine/clip/tokenizer.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/export/manifest.h"
#include "engine/io/safetensors.h"
#include "engine/train/run.h"
#include "projects/project_store.h"
#include "projects/schema.h"
#include "projects/sqlite.h"

#include <caffe2/serialize/inline_container.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sqlite3.h>
#include <torch/script.h>
#include <torch/serialize.h>
#include <torch/torch.h>
#include <zlib.h>

#include <cstdio>
#include <functional>
#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path g_out;
fs::path g_work;

void put(const std::string &target, const std::string &name, const std::string &bytes)
{
    sep::makeDirectories((g_out / target).string());
    sep::writeFileAtomic((g_out / target / name).string(), bytes);
}

// A string literal with its embedded NUL bytes.
template <size_t N>
std::string lit(const char (&s)[N])
{
    return std::string(s, N - 1);
}

std::string cut(const std::string &s, size_t keep) { return s.substr(0, std::min(keep, s.size())); }

std::string replaced(std::string s, const std::string &from, const std::string &to)
{
    const auto at = s.find(from);
    if (at != std::string::npos)
        s.replace(at, from.size(), to);
    return s;
}

std::string le64(uint64_t v)
{
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i)
        s[size_t(i)] = char((v >> (8 * i)) & 0xff);
    return s;
}

// A safetensors file assembled by hand, so that headers the writer would never produce can be made.
std::string rawSafetensors(const std::string &header, const std::string &data)
{
    return le64(header.size()) + header + data;
}

void safetensorsSeeds()
{
    const std::string t = "fuzz_safetensors";
    sep::TensorMap tensors;
    tensors["a.weight"] = torch::arange(6, torch::kFloat).reshape({2, 3});
    tensors["b"] = torch::tensor({1, -2, 3}, torch::kLong);
    tensors["c.half"] = torch::tensor({0.5, 1.5}, torch::kHalf);
    tensors["d.bf16"] = torch::tensor({2.0}, torch::kBFloat16);
    tensors["e.empty"] = torch::zeros({0, 4}, torch::kByte);
    tensors["f.flag"] = torch::tensor({true, false}, torch::kBool);
    const std::string path = (g_work / "valid.safetensors").string();
    sep::io::writeSafetensors(path, tensors, {{"format", "pt"}, {"method", "sep"}});
    const std::string valid = sep::readFile(path);
    put(t, "valid.safetensors", valid);
    put(t, "truncated.safetensors", cut(valid, valid.size() - 3));
    put(t, "header-only.safetensors", cut(valid, 8 + 40));
    put(t, "length-too-big.safetensors", le64(1ull << 40) + valid.substr(8));

    const std::string f32x2 = lit("\0\0\x80?\0\0\0@");   // 1.0f, 2.0f
    put(t, "scalar.safetensors", rawSafetensors(R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})", f32x2.substr(0, 4)));
    put(t, "overlap.safetensors",
        rawSafetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32x2));
    put(t, "gap.safetensors",
        rawSafetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32x2));
    put(t, "shape-mismatch.safetensors",
        rawSafetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2));
    put(t, "huge-shape.safetensors",
        rawSafetensors(R"({"a":{"dtype":"F64","shape":[4611686018427387904,4,0],"data_offsets":[0,0]}})", ""));
    put(t, "bad-dtype.safetensors",
        rawSafetensors(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]},"__metadata__":{"k":1}})", f32x2));
    put(t, "not-json.safetensors", rawSafetensors("{\"a\":[", f32x2));
}

std::string archiveBytes(const c10::IValue &value) { const auto b = torch::pickle_save(value); return {b.begin(), b.end()}; }

// A zip written the way torch.save lays it out, with records given as bytes.
std::string handmadeArchive(const std::vector<std::pair<std::string, std::string>> &records)
{
    const std::string path = (g_work / "handmade.zip").string();
    {
        caffe2::serialize::PyTorchStreamWriter writer(path);
        for (const auto &[name, bytes] : records)
            writer.writeRecord(name, bytes.data(), bytes.size());
        writer.writeEndOfFile();
    }
    return sep::readFile(path);
}

void torchArchiveSeeds()
{
    const std::string t = "fuzz_torch_archive";
    c10::Dict<std::string, at::Tensor> sd;
    sd.insert("visual.proj", torch::arange(4, torch::kFloat).reshape({2, 2}));
    sd.insert("module.ln.bias", torch::tensor({0.25}, torch::kHalf));
    sd.insert("positions", torch::arange(6, torch::kLong).reshape({2, 3}).t());   // not contiguous
    const std::string stateDict = archiveBytes(sd);
    put(t, "state-dict.pt", stateDict);

    c10::impl::GenericDict checkpoint(c10::StringType::get(), c10::AnyType::get());
    checkpoint.insert("state_dict", sd);
    checkpoint.insert("epoch", 7);
    checkpoint.insert("lr", 0.0025);
    checkpoint.insert("name", std::string("coop"));
    checkpoint.insert("flags", c10::List<bool>({true, false}));
    checkpoint.insert("shape", c10::ivalue::Tuple::create({c10::IValue(int64_t(3)), c10::IValue(), c10::IValue(-1.5)}));
    const std::string nested = archiveBytes(checkpoint);
    put(t, "checkpoint.pt", nested);
    put(t, "truncated.pt", cut(nested, nested.size() / 2));

    // A TorchScript module with parameters, a buffer and a sub-module, as torch.jit.save writes one.
    torch::jit::Module root("__torch__.Tiny");
    torch::jit::Module child("__torch__.Tiny.Block");
    child.register_parameter("weight", torch::ones({2, 2}), false);
    child.register_buffer("mask", torch::zeros({2}));
    root.register_module("block", child);
    root.register_parameter("scale", torch::tensor({4.6f}), false);
    root.register_attribute("context_length", c10::IntType::get(), int64_t(7));
    const std::string scriptPath = (g_work / "script.pt").string();
    root.save(scriptPath);
    put(t, "torchscript.pt", sep::readFile(scriptPath));

    // Pickles written by hand (protocol 2): the unpickler's refusals and odd but legal streams.
    const std::string version = "3\n";
    put(t, "bad-opcode.pt", handmadeArchive({{"data.pkl", lit("\x80\x02}q\x00\xff.")}, {"version", version}}));
    put(t, "empty-stack.pt", handmadeArchive({{"data.pkl", lit("\x80\x02s.")}, {"version", version}}));
    put(t, "memo-get-missing.pt", handmadeArchive({{"data.pkl", lit("\x80\x02h\x05.")}, {"version", version}}));
    // {"w": a float tensor of 4 elements} whose storage record "data/0" is missing.
    const std::string rebuild = lit("\x80\x02}q\x00X\x01\x00\x00\x00" "w"
                                    "ctorch._utils\n_rebuild_tensor_v2\n(("
                                    "X\x07\x00\x00\x00" "storage" "ctorch\nFloatStorage\n"
                                    "X\x01\x00\x00\x00" "0" "X\x03\x00\x00\x00" "cpu" "K\x04tQ"
                                    "K\x00K\x04\x85K\x01\x85\x89" "ccollections\nOrderedDict\n)RtRs.");
    put(t, "missing-storage.pt", handmadeArchive({{"data.pkl", rebuild}, {"version", version}}));
    // The same pickle with its storage: a valid archive made without torch.save.
    put(t, "handmade-tensor.pt", handmadeArchive({{"data.pkl", rebuild}, {"data/0", std::string(16, '\x01')}, {"version", version}}));
    // The legacy (pre-1.6) format starts with a pickled magic number instead of a zip header.
    put(t, "legacy.pt", lit("\x80\x02\x8a\x0a" "l\xfc\x9c" "F\xf9 j\xa8" "P\x19."));
    put(t, "zip-no-pickle.pt", handmadeArchive({{"data/0", std::string(16, '\0')}, {"version", version}}));
}

void tokenizerTextSeeds()
{
    const std::string t = "fuzz_tokenizer_text";
    const std::vector<std::pair<std::string, std::string>> texts = {
        {"template", "a photo of a golden retriever."},
        {"underscores", "great_white_shark"},
        {"html", "rock &amp;amp; roll &lt;3 &#233;t&eacute; &#x1F408;"},
        {"unicode", "İstanbul ǅemal STRASSE Straße ﬁre ΣΊΣΥΦΟΣ"},
        {"emoji", "🐈‍⬛ 👩🏽‍🚀 🇫🇷"},
        {"specials", "<|startoftext|>a cat<|endoftext|> <|endoftext"},
        {"contractions", "don't we'll THEY'RE it's I'M you've"},
        {"digits", "3.14159 2026-12-03 1,000,000"},
        {"mojibake", "cafÃ© naÃ¯ve â€œquotedâ€\x9d"},
        {"invalid-utf8", lit("ab\xff\xfe\xc3(\xe2\x82 \xf0\x9f\x90")},
        {"whitespace", "\t\n  a \r\n\x0b\x0c b\xc2\xa0\xe3\x80\x80 c  "},
        {"cjk", "猫の写真 고양이 사진 صورة قطة"},
        {"long", std::string(300, 'a') + " " + std::string(100, 'x') + std::string(40, ' ') + "end"},
        {"empty", ""},
    };
    for (const auto &[name, text] : texts)
        put(t, name + ".txt", text);
}

std::string gzipped(const std::string &text)
{
    const std::string path = (g_work / "vocab.txt.gz").string();
    gzFile f = gzopen(path.c_str(), "wb9");
    gzwrite(f, text.data(), unsigned(text.size()));
    gzclose(f);
    return sep::readFile(path);
}

void tokenizerVocabSeeds()
{
    const std::string t = "fuzz_tokenizer_vocab";
    // Byte 0: even = merges file, odd = Hugging Face pair; byte 1: vocabulary size 512 + 4 × byte.
    const std::string merges = "#version: 0.2\nh e\nl l\nhe ll\no</w> x\nc a\nca t</w>\n";
    put(t, "merges.bin", std::string("\x00\x01", 2) + merges);             // 516: uses 2 merges
    put(t, "merges-all.bin", std::string("\x00\x02", 2) + merges);         // 520: uses all 6
    put(t, "merges-too-few.bin", std::string("\x00\x09", 2) + merges);     // asks for 34
    put(t, "merges-too-small.bin", std::string("\x00\x00", 2) + merges);   // 512 < 514
    put(t, "merges-gzip.bin", std::string("\x02\x02", 2) + gzipped(merges));
    put(t, "merges-gzip-truncated.bin", std::string("\x02\x02", 2) + cut(gzipped(merges), 20));
    put(t, "merges-bad-line.bin", std::string("\x00\x02", 2) + replaced(merges, "l l\n", "lonely\n"));

    // vocab.json with every byte symbol (plain and with </w>), the specials and the merged symbols.
    json vocab = json::object();
    int id = 0;
    for (int b = 0; b < 256; ++b) {
        const std::string symbol = sep::clip::Tokenizer::initialSymbols(std::string(1, char(b))).front();
        vocab[symbol.substr(0, symbol.size() - 4)] = id++;
    }
    for (int b = 0; b < 256; ++b)
        vocab[sep::clip::Tokenizer::initialSymbols(std::string(1, char(b))).front()] = id++;
    for (const char *merged : {"he", "ll", "hell", "o</w>x", "ca", "cat</w>"})
        vocab[merged] = id++;
    vocab["<|startoftext|>"] = id++;
    vocab["<|endoftext|>"] = id++;
    const std::string pair = vocab.dump() + std::string(1, '\0') + merges;
    put(t, "huggingface.bin", std::string("\x01\x00", 2) + pair);
    put(t, "huggingface-unknown-symbol.bin", std::string("\x01\x00", 2) + replaced(pair, "ca t</w>", "ca tt</w>"));
    json sparse = vocab;
    sparse["<|endoftext|>"] = 16777000;
    put(t, "huggingface-sparse-ids.bin", std::string("\x01\x00", 2) + sparse.dump() + std::string(1, '\0') + merges);
    json noSpecial = vocab;
    noSpecial.erase("<|startoftext|>");
    put(t, "huggingface-no-sot.bin", std::string("\x01\x00", 2) + noSpecial.dump() + std::string(1, '\0'));
    put(t, "huggingface-not-object.bin", std::string("\x01\x00", 2) + "[1, 2, 3]" + std::string(1, '\0') + merges);
}

void configSeeds()
{
    const std::string t = "fuzz_config";
    put(t, "huggingface.json", R"({"architectures": ["CLIPModel"],
 "text_config": {"num_attention_heads": 8, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05},
 "vision_config": {"num_attention_heads": 12, "hidden_act": "gelu"}})");
    put(t, "empty-object.json", "{}");
    put(t, "heads-not-dividing.json", R"({"text_config": {"num_attention_heads": 7}})");
    put(t, "heads-negative.json", R"({"vision_config": {"num_attention_heads": -12}})");
    put(t, "heads-float.json", R"({"vision_config": {"num_attention_heads": 12.5}})");
    put(t, "bad-activation.json", R"({"text_config": {"hidden_act": ["gelu"]}})");
    put(t, "section-not-object.json", R"({"text_config": "big"})");
    put(t, "truncated.json", R"({"text_config": {"num_attention_he)");
    put(t, "array.json", "[1, 2]");
    // Shapes of a tiny ViT (width 8, patch 4, 2×2 grid; text width 8, context 7), then variants.
    const json shapes = {{"visual.conv1.weight", {8, 3, 4, 4}},
                         {"visual.positional_embedding", {5, 8}},
                         {"visual.transformer.resblocks.0.attn.in_proj_weight", {24, 8}},
                         {"visual.transformer.resblocks.0.mlp.c_fc.weight", {32, 8}},
                         {"visual.proj", {8, 4}},
                         {"token_embedding.weight", {520, 8}},
                         {"positional_embedding", {7, 8}},
                         {"transformer.resblocks.0.attn.in_proj_weight", {24, 8}},
                         {"transformer.resblocks.0.mlp.c_fc.weight", {32, 8}},
                         {"text_projection", {8, 4}}};
    put(t, "shapes-tiny.json", json{{"shapes", shapes}, {"text_config", {{"num_attention_heads", 2}}}}.dump());
    json huge = shapes;
    huge["visual.conv1.weight"] = {int64_t(1) << 40, 3, 1 << 20, 1 << 20};
    huge["visual.positional_embedding"] = {5, int64_t(1) << 40};
    put(t, "shapes-huge.json", json{{"shapes", huge}}.dump());
    json zero = shapes;
    zero["visual.conv1.weight"] = {0, 3, 0, 0};
    zero["visual.positional_embedding"] = {1, 0};
    put(t, "shapes-zero.json", json{{"shapes", zero}}.dump());
    json resnet = shapes;
    resnet["visual.layer1.0.conv1.weight"] = {64, 64, 1, 1};
    put(t, "shapes-resnet.json", json{{"shapes", resnet}}.dump());
}

sep::exporting::Manifest sampleManifest()
{
    sep::exporting::Manifest m;
    m.method = "sep";
    m.options = {{"n_ctx", 6}, {"template", "a photo of a {}."}, {"fusion", "per-sample"}};
    m.classNames = {"cat", "dog", "golden retriever"};
    m.templ = "a photo of a {}.";
    m.fusion = "per-sample";
    m.backbone.description = "ViT image 8 px, patch 4, width 8 × 1 layers (2 heads)";
    m.backbone.sha256 = std::string(64, 'a');
    m.backbone.fileName = "tiny.safetensors";
    m.backbone.parameters = 12345;
    m.backbone.heads = {{"text", 2}, {"vision", 2}, {"activation", "quick_gelu"}};
    m.metrics = {{"accuracy", {{"base", 0.8}}}};
    m.created = "2026-12-03T12:00:00Z";
    m.producer = "SEP Studio";
    return m;
}

void manifestSeeds()
{
    const std::string t = "fuzz_manifest";
    const json valid = sampleManifest().toJson();
    put(t, "valid.json", valid.dump(2));
    auto variant = [&](const std::string &name, const std::function<void(json &)> &change) {
        json j = valid;
        change(j);
        put(t, name + ".json", j.dump());
    };
    variant("newer-format", [](json &j) { j["format_version"] = 2; });
    variant("format-zero", [](json &j) { j["format_version"] = 0; });
    variant("format-string", [](json &j) { j["format_version"] = "1"; });
    variant("no-classes", [](json &j) { j["class_names"] = json::array(); });
    variant("class-not-string", [](json &j) { j["class_names"] = {"cat", 3}; });
    variant("no-backbone", [](json &j) { j.erase("backbone"); });
    variant("backbone-string", [](json &j) { j["backbone"] = "tiny"; });
    variant("template-number", [](json &j) { j["template"] = 5; });
    variant("parameters-string", [](json &j) { j["backbone"]["parameters"] = "many"; });
    variant("included-string", [](json &j) { j["backbone_included"] = "yes"; });
    variant("no-method", [](json &j) { j.erase("method"); });
    put(t, "array.json", "[]");
}

void bundleZipSeeds()
{
    const std::string t = "fuzz_bundle_zip";
    sep::TensorMap prompt;
    prompt["ctx"] = torch::arange(8, torch::kFloat).reshape({2, 4});
    const std::string promptPath = (g_work / "prompt.safetensors").string();
    sep::io::writeSafetensors(promptPath, prompt, {{"format", "pt"}, {"method", "sep"}});
    const std::string promptBytes = sep::readFile(promptPath);
    const std::string manifest = sampleManifest().toJson().dump(2) + "\n";

    const std::string valid = handmadeArchive({{"manifest.json", manifest}, {"prompt.safetensors", promptBytes}});
    put(t, "valid.sepmodel", valid);
    put(t, "truncated.sepmodel", cut(valid, valid.size() - 30));
    put(t, "no-prompt.sepmodel", handmadeArchive({{"manifest.json", manifest}}));
    put(t, "bad-manifest.sepmodel", handmadeArchive({{"manifest.json", "{\"format_version\": 1,"}, {"prompt.safetensors", promptBytes}}));
    put(t, "dot-dot.sepmodel", handmadeArchive({{"../escape.txt", "x"}, {"manifest.json", manifest}}));
    put(t, "nested.sepmodel", handmadeArchive({{"manifest.json", manifest}, {"prompt.safetensors", promptBytes},
                                               {"backbone/config.json", "{}"}}));
    put(t, "not-zip.sepmodel", "PK\x03\x04 this is not really a zip file");
}

std::string encoded(const std::string &ext, const cv::Mat &img, const std::vector<int> &params = {})
{
    std::vector<uint8_t> out;
    cv::imencode(ext, img, out, params);
    return {out.begin(), out.end()};
}

void imageSeeds()
{
    const std::string t = "fuzz_image";
    cv::Mat bgr(3, 5, CV_8UC3);
    for (int y = 0; y < bgr.rows; ++y)
        for (int x = 0; x < bgr.cols; ++x)
            bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(40 * x), uchar(80 * y), uchar(255 - 30 * x));
    cv::Mat gray, bgra, deep;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
    bgr.convertTo(deep, CV_16UC3, 257.0);

    const std::string png = encoded(".png", bgr);
    put(t, "rgb.png", png);
    put(t, "gray.png", encoded(".png", gray));
    put(t, "alpha.png", encoded(".png", bgra));
    put(t, "16bit.png", encoded(".png", deep));
    put(t, "truncated.png", cut(png, png.size() - 12));
    const std::string jpg = encoded(".jpg", bgr, {cv::IMWRITE_JPEG_QUALITY, 50});
    put(t, "rgb.jpg", jpg);
    put(t, "truncated.jpg", cut(jpg, jpg.size() / 2));
    put(t, "progressive.jpg", encoded(".jpg", bgr, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
    put(t, "rgb.bmp", encoded(".bmp", bgr));
    put(t, "rgb.ppm", encoded(".ppm", bgr));
    put(t, "gray.pgm", encoded(".pgm", gray));
    put(t, "ascii.pgm", "P2\n3 2\n255\n0 128 255\n255 128 0\n");
    put(t, "huge-header.ppm", "P6\n1000000 1000000\n255\n\x01\x02\x03");
    put(t, "rgb.tiff", encoded(".tiff", bgr));
    if (cv::haveImageWriter(".webp"))
        put(t, "rgb.webp", encoded(".webp", bgr, {cv::IMWRITE_WEBP_QUALITY, 50}));
    // A BMP whose header claims a very large image.
    std::string bmp = encoded(".bmp", bgr);
    bmp.replace(18, 8, std::string("\x00\x00\x01\x00\x00\x00\x01\x00", 8));
    put(t, "huge-header.bmp", bmp);
    put(t, "text.txt", "this is not an image\n");
}

// The file's bytes with 512-byte pages instead of 4096 (same content, an eighth of the size, so the
// fuzzer mutates what matters); `wal` keeps it in WAL mode, as projects are.
std::string compacted(const std::string &path, bool wal)
{
    {
        sep::projects::Database db(path, SQLITE_OPEN_READWRITE);
        db.exec("PRAGMA journal_mode = DELETE");
        db.exec("PRAGMA page_size = 512");
        db.exec("VACUUM");
        if (wal)
            db.exec("PRAGMA journal_mode = WAL");
    }
    return sep::readFile(path);
}

void projectSeeds()
{
    const std::string t = "fuzz_project";
    namespace pr = sep::projects;

    // A dataset of two classes of one image each, and a project that imported it and queued a run.
    const fs::path data = g_work / "data";
    for (const char *cls : {"cat", "dog"}) {
        fs::create_directories(data / cls);
        cv::imwrite((data / cls / "1.png").string(), cv::Mat(4, 4, CV_8UC3, cv::Scalar(cls[0], 60, 90)));
    }
    const std::string created = (g_work / "created.sepproj").string();
    pr::ProjectStore::create(created);
    put(t, "empty.sepproj", compacted(created, true));
    const std::string withData = (g_work / "data.sepproj").string();
    {
        auto store = pr::ProjectStore::create(withData);
        const auto report = store.importDataset(data.string());
        sep::train::RunSpec spec;
        spec.data = data.string();
        spec.method = "coop";
        spec.shots = 1;
        const int64_t run = store.createRun(spec, report.datasetId);
        store.runEnded(run, "failed", "the weights file was not found");
    }
    const std::string dataBytes = compacted(withData, false);
    put(t, "dataset-and-run.sepproj", dataBytes);
    put(t, "truncated.sepproj", cut(dataBytes, dataBytes.size() / 2));
    put(t, "header-only.sepproj", cut(dataBytes, 100));

    // Version 1 of the schema with an evaluation and a prediction: opening it upgrades it.
    const std::string v1 = (g_work / "v1.sepproj").string();
    {
        pr::Database db(v1, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        db.exec("PRAGMA page_size = 512");
        db.exec("PRAGMA application_id = " + std::to_string(pr::kApplicationId));
        db.exec(pr::schemaV1());
        db.exec(R"sql(
INSERT INTO meta VALUES ('application', 'SEP Studio project'), ('schema_version', '1'), ('created_at', '2025-06-01T10:00:00Z');
INSERT INTO datasets VALUES (1, '/nowhere/birds', 'flat', '2025-06-01T10:00:00Z', NULL);
INSERT INTO classes VALUES (1, 1, 'owl', 'owl', 0, 'base'), (2, 1, 'wren', 'wren', 1, 'new');
INSERT INTO images VALUES (1, 1, 1, 'all', 'owl/a.jpg', 10, 4, 4, 'ok', ''), (2, 1, 2, 'all', 'wren/a.jpg', 9, NULL, NULL, 'failed', 'truncated');
INSERT INTO runs VALUES (1, 1, 'sep', '{"method":"sep","shots":1,"seed":3}', 1, 3, 1, 'cpu', 'running', '', 'runs/0001-sep',
                         'tiny', '{}', '2025-06-01T11:00:00Z', '2025-06-01T11:00:01Z', NULL, '2025-06-01T11:00:02Z', 99999999, 'gone-host');
INSERT INTO checkpoints VALUES (1, 'runs/0001-sep/checkpoints/last.safetensors', 1, 10, '2025-06-01T11:00:02Z');
INSERT INTO epoch_metrics VALUES (1, 1, 0.002, 0.9, 0.5, 2.0, '{"ce":0.9}', '{"base":0.5}', '2025-06-01T11:00:02Z');
INSERT INTO evaluations VALUES (1, 1, 'base', '["owl"]', 1.0, 1, 1, '[1.0]', '[1]', X'01000000', '[]', 0.2, '2025-06-01T11:00:03Z');
INSERT INTO predictions VALUES (1, 0, 1, '/nowhere/birds/owl/a.jpg', 0, X'00000000', X'0000803F');
INSERT INTO exports VALUES (1, 1, 'exports/sep.sepmodel', '{}', '2025-06-01T11:00:04Z');
)sql");
    }
    const std::string v1Bytes = sep::readFile(v1);
    put(t, "schema-v1.sepproj", v1Bytes);
    // The same file claiming a version from the future, and one without the application id.
    {
        pr::Database db(v1, SQLITE_OPEN_READWRITE);
        db.exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    }
    put(t, "newer-version.sepproj", sep::readFile(v1));
    {
        pr::Database db(v1, SQLITE_OPEN_READWRITE);
        db.exec("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
        db.exec("PRAGMA application_id = 0");
    }
    put(t, "no-application-id.sepproj", sep::readFile(v1));

    // Another program's database.
    const std::string other = (g_work / "other.db").string();
    {
        pr::Database db(other, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        db.exec("PRAGMA page_size = 512");
        db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes VALUES (1, 'hello');");
    }
    put(t, "other-database.sepproj", sep::readFile(other));
    put(t, "image.sepproj", encoded(".png", cv::Mat(2, 2, CV_8UC3, cv::Scalar(1, 2, 3))));
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::cerr << "usage: fuzz_make_corpus <corpus folder, e.g. tests/fuzz/corpus>\n";
        return 2;
    }
    g_out = argv[1];
    g_work = fs::temp_directory_path() / ("sep-fuzz-corpus-" + std::to_string(::getpid()));
    fs::remove_all(g_work);
    fs::create_directories(g_work);
    try {
        safetensorsSeeds();
        torchArchiveSeeds();
        tokenizerTextSeeds();
        tokenizerVocabSeeds();
        configSeeds();
        manifestSeeds();
        bundleZipSeeds();
        imageSeeds();
        projectSeeds();
    } catch (const std::exception &e) {
        std::cerr << "fuzz_make_corpus: " << e.what() << "\n";
        fs::remove_all(g_work);
        return 1;
    }
    fs::remove_all(g_work);
    std::cout << "corpus written to " << g_out.string() << "\n";
    return 0;
}
