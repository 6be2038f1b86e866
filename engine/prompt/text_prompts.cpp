#include "engine/prompt/text_prompts.h"

#include "engine/core/error.h"
#include "engine/core/text.h"

#include <torch/torch.h>

namespace sep::prompt {

std::string fillTemplate(const std::string &templ, const std::string &className)
{
    std::string name = className;
    std::replace(name.begin(), name.end(), '_', ' ');
    // Exactly one place for the name: without one every class gets the same prompt, with two the
    // prompt says something else than the user wrote.
    const auto pos = templ.find("{}");
    if (pos == std::string::npos || templ.find("{}", pos + 2) != std::string::npos)
        throw Error("prompt template \"" + shortened(templ) + "\": must contain {} exactly once, where the class "
                    "name goes (e.g. \"a photo of a {}.\")");
    return templ.substr(0, pos) + name + templ.substr(pos + 2);
}

at::Tensor tokenize(clip::LoadedClip &clip, const std::vector<std::string> &texts)
{
    if (!clip.tokenizer)
        throw Error("this method needs the model's vocabulary; give it with --vocab");
    const int64_t context = clip.config().text.contextLength;
    auto ids = torch::zeros({static_cast<int64_t>(texts.size()), context}, torch::kLong);
    for (size_t i = 0; i < texts.size(); ++i) {
        std::vector<int64_t> t;
        try {
            t = clip.tokenizer->encode(texts[i], context);
        } catch (const Error &e) {
            throw Error("prompt \"" + shortened(texts[i]) + "\": " + e.what());
        }
        std::copy(t.begin(), t.end(), ids[static_cast<int64_t>(i)].data_ptr<int64_t>());
    }
    return ids;
}

at::Tensor encodeTemplates(clip::LoadedClip &clip, const std::vector<std::string> &classNames, const std::string &templ,
                           int64_t chunk)
{
    torch::NoGradGuard noGrad;
    std::vector<std::string> texts;
    for (const auto &c : classNames)
        texts.push_back(fillTemplate(templ, c));
    const auto ids = tokenize(clip, texts);
    const auto device = clip.model->logit_scale.device();
    std::vector<at::Tensor> parts;
    for (int64_t b = 0; b < ids.size(0); b += chunk) {
        auto f = clip.model->encodeText(ids.slice(0, b, b + chunk).to(device));
        parts.push_back(f / f.norm(2, -1, true));
    }
    if (parts.empty())
        return torch::zeros({0, clip.config().embedDim}, torch::TensorOptions().device(device));
    return torch::cat(parts, 0);
}

at::Tensor contextFromWords(clip::LoadedClip &clip, const std::string &words, int64_t nCtx)
{
    torch::NoGradGuard noGrad;
    const auto ids = tokenize(clip, {words});
    const int64_t tokens = clip::eotPositions(ids)[0].item<int64_t>() - 1;   // between [SOT] and [EOT]
    if (tokens < 1)
        throw Error("context initialisation \"" + shortened(words) + "\" has no tokens; give words or leave it empty");
    if (nCtx != 0 && tokens != nCtx)
        throw Error("context initialisation \"" + shortened(words) + "\" is " + std::to_string(tokens)
                    + " tokens but there are " + std::to_string(nCtx) + " context vectors; give n_ctx "
                    + std::to_string(tokens) + " or other words");
    const auto device = clip.model->logit_scale.device();
    return clip.model->text->embed(ids.to(device))[0].slice(0, 1, 1 + tokens).clone();
}

LearnablePrompts LearnablePrompts::build(clip::LoadedClip &clip, const std::vector<std::string> &classNames,
                                         int64_t nCtx, int64_t minLength)
{
    std::string xs;
    for (int64_t i = 0; i < nCtx; ++i)
        xs += "X ";
    std::vector<std::string> texts;
    for (const auto &c : classNames)
        texts.push_back(fillTemplate(xs + "{}.", c));
    LearnablePrompts p;
    p.nCtx = nCtx;
    auto ids = tokenize(clip, texts);
    p.eot = clip::eotPositions(ids);
    const int64_t context = clip.config().text.contextLength;
    p.length = std::min(context, std::max(p.eot.numel() ? p.eot.max().item<int64_t>() + 1 : 0, minLength));
    if (minLength > context)
        throw Error("prompts need " + std::to_string(minLength) + " positions but the model's context holds "
                    + std::to_string(context) + "; use fewer context or selected tokens");
    const auto device = clip.model->logit_scale.device();
    p.ids = ids.slice(1, 0, p.length).to(device);
    p.eot = p.eot.to(device);
    torch::NoGradGuard noGrad;
    const auto embedding = clip.model->text->embed(p.ids);
    p.prefix = embedding.slice(1, 0, 1);
    p.suffix = embedding.slice(1, 1 + nCtx, p.length);
    return p;
}

at::Tensor LearnablePrompts::embed(clip::LoadedClip &clip, const at::Tensor &ctx) const
{
    const int64_t C = ids.size(0);
    auto x = torch::cat({prefix, ctx.unsqueeze(0).expand({C, ctx.size(0), ctx.size(1)}), suffix}, 1);
    return x + clip.model->text->positional_embedding.slice(0, 0, length);
}

LearnablePrompts LearnablePrompts::rows(int64_t begin, int64_t end) const
{
    LearnablePrompts p = *this;
    p.ids = ids.slice(0, begin, end);
    p.eot = eot.slice(0, begin, end);
    p.prefix = prefix.slice(0, begin, end);
    p.suffix = suffix.slice(0, begin, end);
    return p;
}

} // namespace sep::prompt
