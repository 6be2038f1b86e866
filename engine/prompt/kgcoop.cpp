#include "engine/prompt/kgcoop.h"

#include "engine/prompt/text_prompts.h"

#include <torch/torch.h>

namespace sep::prompt {

const OptionTable<KgCoOpOptions> &KgCoOpOptions::table()
{
    static const OptionTable<KgCoOpOptions> t{contextFields<KgCoOpOptions>({
        templateField(&KgCoOpOptions::templ, "template", "Prompt template",
                      "Hand-crafted prompt whose text features the learned ones stay near; {} stands for the class name"),
        realField(&KgCoOpOptions::weight, "kg_weight", "Knowledge weight",
                  "λ: weight of the mean squared distance between learned and hand-crafted class text features", 0, 1000),
    })};
    return t;
}

KgCoOp::KgCoOp(clip::LoadedClip &clip, KgCoOpOptions options) : CoOp(clip, contextOf(options)), m_kgOptions(std::move(options))
{
}

void KgCoOp::setClasses(const std::vector<std::string> &classNames)
{
    CoOp::setClasses(classNames);
    m_handFeatures = encodeTemplates(*m_clip, classNames, m_kgOptions.templ);
}

void KgCoOp::addTerms(LossTerms &terms, const StepFeatures &step)
{
    const auto knowledge = (step.text - m_handFeatures.to(step.text.dtype())).pow(2).sum(-1).mean();
    terms.parts["knowledge"] = knowledge.item<double>();
    terms.total = terms.total + m_kgOptions.weight * knowledge;
}

} // namespace sep::prompt
