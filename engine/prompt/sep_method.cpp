#include "engine/prompt/sep_method.h"

#include "engine/core/error.h"

#include <torch/torch.h>

namespace sep::prompt {
namespace {

at::Tensor normalized(const at::Tensor &x) { return x / x.norm(2, -1, true); }

std::vector<float> toFloats(const at::Tensor &t)
{
    const auto c = t.to(torch::kCPU, torch::kFloat).contiguous();
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

std::vector<int64_t> toLongs(const at::Tensor &t)
{
    const auto c = t.to(torch::kCPU, torch::kLong).contiguous();
    return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// Copies module `from`'s values into `to` (fusion modules start identical, as in the paper).
void copyValues(torch::nn::Module &to, torch::nn::Module &from)
{
    torch::NoGradGuard noGrad;
    auto source = from.named_parameters();
    for (auto &p : to.named_parameters())
        p.value().copy_(source[p.key()]);
}

} // namespace

const OptionTable<SepOptions> &SepOptions::table()
{
    static const OptionTable<SepOptions> t{{
        intField(&SepOptions::nCtx, "n_ctx", "Text prompt tokens", "Learnable context vectors before the class name", 1, 64),
        intField(&SepOptions::nCtxVisual, "n_ctx_v", "Image prompt tokens", "Learnable tokens appended to the image tokens", 1,
                 64),
        intField(&SepOptions::firstLayer, "first_layer", "First fused block",
                 "Prompts are rebuilt before this block and every later one (block 0 never)", 1, 1000),
        intField(&SepOptions::kText, "k_text", "Selected text tokens",
                 "Pre-trained text tokens fused into the prompts: the class-name tokens after the context (≥ n_ctx)", 1, 64),
        intField(&SepOptions::kImage, "k_image", "Selected image tokens",
                 "Pre-trained image tokens with the largest mean squared activation (≥ n_ctx_v)", 1, 4096),
        intField(&SepOptions::fusionHidden, "fusion_hidden", "Fusion MLP width", "Hidden width of each fusion module's MLP",
                 1, 8192),
        realField(&SepOptions::wText, "w_text", "Text consistency weight (W)",
                  "Weight of 1 − cos(fused text feature, hand-crafted text feature)", 0, 1000),
        realField(&SepOptions::wImage, "w_image", "Image consistency weight (W_V)",
                  "Weight of 1 − cos(frozen image feature, fused image feature)", 0, 1000),
        realField(&SepOptions::wProto, "w_proto", "Prototype loss weight", "Weight of the prototype head's two cross-entropies",
                  0, 1000),
        realField(&SepOptions::protoScale, "proto_scale", "Prototype cosine scale", "Logit scale of the prototype head", 0,
                  1000),
        realField(&SepOptions::initStd, "init_std", "Initial spread", "Standard deviation of the prompt vectors' "
                                                                       "Gaussian initialisation", 0, 1),
        choiceField(&SepOptions::fusion, "fusion", "Fusion mode",
                    "per-sample: each image and class selects and attends on its own (batch-independent); reference: "
                    "as the released code (selection averaged over the batch, attention across it)",
                    {"per-sample", "reference"}),
        templateField(&SepOptions::templ, "template", "Hand-crafted template",
                  "Prompt for the frozen text features the loss keeps SEP close to; {} is the class name"),
    }};
    return t;
}

SepPromptsImpl::SepPromptsImpl(const clip::Config &config, const SepOptions &o)
{
    ctx = register_parameter("ctx", torch::randn({o.nCtx, config.text.width}) * o.initStd);
    ctx_visual = register_parameter("ctx_visual", torch::randn({o.nCtxVisual, config.vision.width}) * o.initStd);
    text_fusion = register_module("text_fusion", torch::nn::ModuleList());
    image_fusion = register_module("image_fusion", torch::nn::ModuleList());
    for (int64_t i = o.firstLayer; i < config.text.layers; ++i) {
        textFusions.emplace_back(config.text.width, o.fusionHidden);
        if (textFusions.size() > 1)
            copyValues(*textFusions.back(), *textFusions.front());
        text_fusion->push_back(textFusions.back());
    }
    for (int64_t i = o.firstLayer; i < config.vision.layers; ++i) {
        imageFusions.emplace_back(config.vision.width, o.fusionHidden);
        if (imageFusions.size() > 1)
            copyValues(*imageFusions.back(), *imageFusions.front());
        image_fusion->push_back(imageFusions.back());
    }
    // Sized by prepareTraining (or a checkpoint) once the training classes are known.
    prototypes = register_parameter("prototypes", torch::zeros({0, config.embedDim}));
}

SepMethod::SepMethod(clip::LoadedClip &clip, SepOptions options) : Method(clip), m_options(std::move(options))
{
    const auto &c = clip.config();
    const auto &o = m_options;
    if (o.kText < o.nCtx)
        throw Error("sep: k_text (" + std::to_string(o.kText) + ") must be at least n_ctx (" + std::to_string(o.nCtx)
                    + "): each prompt token is paired with a selected token");
    if (o.kImage < o.nCtxVisual)
        throw Error("sep: k_image (" + std::to_string(o.kImage) + ") must be at least n_ctx_v ("
                    + std::to_string(o.nCtxVisual) + ")");
    if (o.kImage > c.vision.tokens())
        throw Error("sep: k_image (" + std::to_string(o.kImage) + ") exceeds the image tower's "
                    + std::to_string(c.vision.tokens()) + " tokens");
    if (1 + o.nCtx + o.kText > c.text.contextLength)
        throw Error("sep: 1 + n_ctx + k_text = " + std::to_string(1 + o.nCtx + o.kText) + " exceeds the model's context of "
                    + std::to_string(c.text.contextLength) + " tokens");
    if (o.firstLayer >= std::max(c.text.layers, c.vision.layers))
        throw Error("sep: first_layer " + std::to_string(o.firstLayer) + " leaves no block to fuse before (the towers have "
                    + std::to_string(c.text.layers) + " and " + std::to_string(c.vision.layers) + " blocks)");
    setFusion(o.fusion);
    m_prompts = SepPrompts(c, m_options);
    m_prompts->to(device());
}

void SepMethod::setFusion(Fusion fusion)
{
    if (fusion == Fusion::Reference && (m_options.kText != m_options.nCtx || m_options.kImage != m_options.nCtxVisual))
        throw Error("sep: reference fusion needs k_text == n_ctx and k_image == n_ctx_v (its attention pairs them slot by slot)");
    m_options.fusion = fusion;
    invalidateCaches();
}

std::vector<std::pair<std::string, at::Tensor>> SepMethod::namedParameters()
{
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (auto &p : m_prompts->named_parameters())
        out.emplace_back(p.key(), p.value());
    return out;
}

void SepMethod::adoptShapes(const TensorMap &tensors)
{
    auto it = tensors.find("prototypes");
    if (it != tensors.end() && it->second.dim() == 2 && !it->second.sizes().equals(m_prompts->prototypes.sizes()))
        m_prompts->prototypes.set_data(torch::zeros(it->second.sizes(), m_prompts->prototypes.options()));
}

void SepMethod::setClasses(const std::vector<std::string> &classNames)
{
    m_classes = classNames;
    m_text = LearnablePrompts::build(*m_clip, classNames, m_options.nCtx, 1 + m_options.nCtx + m_options.kText);
    m_handCrafted = encodeTemplates(*m_clip, classNames, m_options.templ);
    invalidateCaches();
}

at::Tensor SepMethod::fuse(const at::Tensor &prompted, const at::Tensor &frozenNormalized)
{
    return normalized(normalized(prompted) + frozenNormalized);
}

at::Tensor SepMethod::encodeImage(const at::Tensor &pixels, std::vector<ImageSelection> *selections,
                                  std::vector<at::Tensor> *clsAttention)
{
    auto &tower = *m_clip->model->visual;
    const bool reference = m_options.fusion == Fusion::Reference;
    auto x = tower.embed(pixels.to(device()));
    const int64_t B = x.size(0), T = x.size(1), d = x.size(2), nv = m_options.nCtxVisual, K = m_options.kImage;
    // Prompts are appended after the positional embedding is added (they get none), before ln_pre.
    x = torch::cat({x, m_prompts->ctx_visual.unsqueeze(0).expand({B, nv, d})}, 1);
    x = tower.ln_pre->forward(x);
    if (selections)
        selections->assign(static_cast<size_t>(B), {});
    for (int64_t i = 0; i < tower.layers(); ++i) {
        if (i >= m_options.firstLayer) {
            auto candidates = x.slice(1, 0, T);                    // [CLS] + patches; prompts never selected
            auto score = candidates.pow(2).mean(-1);                // [B, T], on the raw residual stream
            at::Tensor values, index, selected;
            if (reference) {
                std::tie(values, index) = score.mean(0).topk(K);   // one index set for the whole batch
                selected = candidates.index_select(1, index);
                values = values.unsqueeze(0).expand({B, K});
                index = index.unsqueeze(0).expand({B, K});
            } else {
                std::tie(values, index) = score.topk(K, -1);
                selected = candidates.gather(1, index.unsqueeze(-1).expand({B, K, d}));
            }
            at::Tensor attention;
            auto fused = m_prompts->imageFusions[static_cast<size_t>(i - m_options.firstLayer)]->forward(
                x.slice(1, T, T + nv), selected, reference, selections && !reference ? &attention : nullptr);
            x = torch::cat({candidates, fused}, 1);
            if (selections) {
                const auto idx = index.to(torch::kCPU).contiguous();
                const auto val = values.detach().to(torch::kCPU).contiguous();
                const auto att = attention.defined() ? attention.to(torch::kCPU).contiguous() : attention;
                for (int64_t b = 0; b < B; ++b) {
                    ImageLayerSelection layer;
                    layer.block = i;
                    layer.tokens = toLongs(idx[b]);
                    layer.scores = toFloats(val[b]);
                    if (att.defined())
                        layer.attention = toFloats(att[b]);
                    (*selections)[static_cast<size_t>(b)].layers.push_back(std::move(layer));
                }
            }
        }
        at::Tensor probe;
        x = tower.block(i)->forward(x, {}, clsAttention ? &probe : nullptr);
        if (clsAttention)
            clsAttention->push_back(probe.detach());
    }
    return tower.head(x.select(1, 0));
}

at::Tensor SepMethod::encodeText(int64_t begin, int64_t end, std::vector<ClassSelection> *selections)
{
    auto &tower = *m_clip->model->text;
    const bool reference = m_options.fusion == Fusion::Reference;
    const auto p = m_text.rows(begin, end);
    const int64_t n = m_options.nCtx, K = m_options.kText;
    auto x = p.embed(*m_clip, m_prompts->ctx);
    const auto mask = tower.causalMask(p.length, x.device());
    if (selections) {
        selections->assign(static_cast<size_t>(end - begin), {});
        const auto ids = p.ids.to(torch::kCPU);
        for (int64_t c = 0; c < end - begin; ++c) {
            auto &s = (*selections)[static_cast<size_t>(c)];
            s.className = m_classes[static_cast<size_t>(begin + c)];
            for (int64_t k = 0; k < K; ++k) {
                const int64_t id = ids[c][1 + n + k].item<int64_t>();
                s.pieces.push_back(id == 0 ? std::string() : m_clip->tokenizer->decodePiece(id));
            }
        }
    }
    for (int64_t i = 0; i < tower.layers(); ++i) {
        if (i >= m_options.firstLayer) {
            // The K positions after the context: the class name, ".", EOT and padding.
            auto selected = x.slice(1, 1 + n, 1 + n + K);
            at::Tensor attention;
            auto fused = m_prompts->textFusions[static_cast<size_t>(i - m_options.firstLayer)]->forward(
                x.slice(1, 1, 1 + n), selected, reference, selections && !reference ? &attention : nullptr);
            x = torch::cat({x.slice(1, 0, 1), fused, x.slice(1, 1 + n)}, 1);
            if (selections) {
                const auto att = attention.defined() ? attention.to(torch::kCPU).contiguous() : attention;
                for (int64_t c = 0; c < end - begin; ++c) {
                    TextLayerSelection layer;
                    layer.block = i;
                    for (int64_t k = 0; k < K; ++k)
                        layer.positions.push_back(1 + n + k);
                    if (att.defined())
                        layer.attention = toFloats(att[c]);
                    (*selections)[static_cast<size_t>(c)].layers.push_back(std::move(layer));
                }
            }
        }
        x = tower.block(i)->forward(x, mask);
    }
    return tower.head(x, p.eot);
}

at::Tensor SepMethod::classFeatures()
{
    if (m_textCache.defined())
        return m_textCache;
    torch::NoGradGuard noGrad;
    const int64_t C = m_text.size();
    // Per-sample fusion keeps classes independent, so chunks bound memory without changing results.
    // Reference fusion attends across the classes encoded together: they must stay together.
    const int64_t chunk = m_options.fusion == Fusion::Reference ? std::max<int64_t>(C, 1) : 256;
    std::vector<at::Tensor> parts;
    for (int64_t b = 0; b < C; b += chunk)
        parts.push_back(encodeText(b, std::min(C, b + chunk)));
    m_textCache = fuse(torch::cat(parts, 0), m_handCrafted);
    return m_textCache;
}

std::vector<ClassSelection> SepMethod::classSelections()
{
    torch::NoGradGuard noGrad;
    std::vector<ClassSelection> out;
    const int64_t C = m_text.size();
    const int64_t chunk = m_options.fusion == Fusion::Reference ? std::max<int64_t>(C, 1) : 256;
    for (int64_t b = 0; b < C; b += chunk) {
        std::vector<ClassSelection> part;
        encodeText(b, std::min(C, b + chunk), &part);
        out.insert(out.end(), part.begin(), part.end());
    }
    return out;
}

void SepMethod::prepareTraining(const std::function<Batch(int64_t)> &draw, int64_t batches)
{
    torch::NoGradGuard noGrad;
    const int64_t C = static_cast<int64_t>(m_classes.size());
    if (C == 0)
        throw Error("sep: no class list set");
    auto sums = torch::zeros({C, m_clip->config().embedDim}, m_handCrafted.options());
    auto counts = torch::zeros({C}, m_handCrafted.options());
    for (int64_t b = 0; b < batches; ++b) {
        const Batch batch = draw(b);
        if (batch.pixels.size(0) == 0)
            continue;
        const auto features = m_frozen.get(*m_clip, batch);
        const auto labels = batch.labels.to(device());
        sums.index_add_(0, labels, features);
        counts.index_add_(0, labels, torch::ones({labels.size(0)}, counts.options()));
    }
    // Class prototypes: mean of normalized augmented features, normalized again. A class without a
    // training image starts from its hand-crafted text feature, which lives in the same space.
    auto prototypes = normalized(sums / counts.clamp_min(1).unsqueeze(1));
    const auto empty = (counts == 0).nonzero().flatten();
    if (empty.numel())
        prototypes.index_copy_(0, empty, m_handCrafted.index_select(0, empty));
    m_prompts->prototypes.set_data(prototypes);
}

LossTerms SepMethod::loss(const Batch &batch)
{
    if (m_text.size() == 0)
        throw Error("sep: no class list set");
    if (m_prompts->prototypes.size(0) != static_cast<int64_t>(m_classes.size()))
        throw Error("sep: the prototype head is not initialised for these classes (prepareTraining)");
    invalidateCaches();
    const auto frozen = m_frozen.get(*m_clip, batch);
    return lossFromFeatures(encodeImage(batch.pixels), frozen, encodeText(0, m_text.size()), m_handCrafted,
                            m_prompts->prototypes, batch.labels.to(device()), m_clip->model->logit_scale.exp(), m_options);
}

LossTerms SepMethod::lossFromFeatures(const at::Tensor &imagePrompted, const at::Tensor &imageFrozen,
                                      const at::Tensor &textPrompted, const at::Tensor &textHandCrafted,
                                      const at::Tensor &prototypes, const at::Tensor &labels, const at::Tensor &scale,
                                      const SepOptions &o)
{
    const auto image = fuse(imagePrompted, imageFrozen);
    const auto text = fuse(textPrompted, textHandCrafted);
    const auto logits = scale * torch::matmul(image, text.t());
    const auto ce = torch::cross_entropy_loss(logits, labels);
    const auto textTerm = 1 - (text * textHandCrafted).sum(-1).mean();
    const auto imageTerm = 1 - (imageFrozen * image).sum(-1).mean();
    const auto protos = normalized(prototypes);
    const auto protoTerm = torch::cross_entropy_loss(o.protoScale * torch::matmul(image, protos.t()), labels)
                           + torch::cross_entropy_loss(o.protoScale * torch::matmul(imageFrozen, protos.t()), labels);
    LossTerms terms;
    terms.total = ce + o.wText * textTerm + o.wImage * imageTerm + o.wProto * protoTerm;
    terms.parts = {{"cross_entropy", ce.item<double>()},
                   {"text_consistency", textTerm.item<double>()},
                   {"image_consistency", imageTerm.item<double>()},
                   {"prototype", protoTerm.item<double>()}};
    terms.logits = logits.detach();
    return terms;
}

ScoreOutput SepMethod::scoreBatch(const at::Tensor &pixels, const ScoreRequest &request)
{
    torch::NoGradGuard noGrad;
    if (m_text.size() == 0)
        throw Error("sep: no class list set");
    const auto text = classFeatures();
    const auto input = pixels.to(device());
    const auto frozen = m_frozen.get(*m_clip, Batch{input, {}, {}, true});
    ScoreOutput out;
    std::vector<at::Tensor> attention;
    const auto image = fuse(encodeImage(input, request.selections ? &out.images : nullptr,
                                        request.clsAttention ? &attention : nullptr),
                            frozen);
    out.logits = m_clip->model->logit_scale.exp() * torch::matmul(image, text.t());
    if (request.clsAttention) {
        const auto &v = m_clip->config().vision;
        appendClsAttention(out.images, attention, v.gridSize() * v.gridSize());
    }
    return out;
}

} // namespace sep::prompt
