#include "engine/train/report.h"

#include "engine/core/files.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>

namespace sep::train {

std::string csvField(const std::string &s)
{
    if (s.find_first_of(",\"\n\r") == std::string::npos)
        return s;
    std::string q = "\"";
    for (char c : s)
        q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

nlohmann::json evaluationJson(const std::vector<std::string> &classNames, const EvalResult &result)
{
    nlohmann::json j;
    j["accuracy"] = result.confusion.accuracy();
    j["correct"] = result.confusion.correct();
    j["total"] = result.confusion.total();
    j["seconds"] = result.seconds;
    const auto acc = result.confusion.perClassAccuracy();
    const auto counts = result.confusion.perClassCount();
    nlohmann::json perClass = nlohmann::json::array();
    for (size_t c = 0; c < classNames.size(); ++c)
        perClass.push_back({{"class", classNames[c]},
                            {"images", counts[c]},
                            {"accuracy", counts[c] ? nlohmann::json(acc[c]) : nlohmann::json(nullptr)}});
    j["per_class"] = perClass;
    nlohmann::json failures = nlohmann::json::array();
    for (const auto &f : result.failures)
        failures.push_back({{"path", f.path}, {"reason", f.reason}});
    j["unreadable"] = failures;
    return j;
}

void writeEvaluation(const std::string &dir, const std::vector<std::string> &classNames, const EvalResult &result)
{
    makeDirectories(dir);
    writeFileAtomic(dir + "/summary.json", evaluationJson(classNames, result).dump(2) + "\n");

    std::ostringstream confusion;
    confusion << "true\\predicted";
    for (const auto &n : classNames)
        confusion << "," << csvField(n);
    confusion << "\n";
    for (int64_t t = 0; t < result.confusion.numClasses(); ++t) {
        confusion << csvField(classNames[static_cast<size_t>(t)]);
        for (int64_t p = 0; p < result.confusion.numClasses(); ++p)
            confusion << "," << result.confusion.at(t, p);
        confusion << "\n";
    }
    writeFileAtomic(dir + "/confusion.csv", confusion.str());

    std::ostringstream perClass;
    perClass << "class,images,correct,accuracy\n";
    const auto counts = result.confusion.perClassCount();
    for (int64_t c = 0; c < result.confusion.numClasses(); ++c) {
        const auto n = counts[static_cast<size_t>(c)];
        perClass << csvField(classNames[static_cast<size_t>(c)]) << "," << n << "," << result.confusion.at(c, c) << ",";
        if (n)
            perClass << static_cast<double>(result.confusion.at(c, c)) / static_cast<double>(n);
        perClass << "\n";
    }
    writeFileAtomic(dir + "/per_class.csv", perClass.str());

    std::ostringstream preds;
    preds << "path,label,predicted,probability,top5\n";
    for (const auto &p : result.predictions) {
        preds << csvField(p.path) << "," << csvField(classNames[static_cast<size_t>(p.label)]) << ","
              << csvField(classNames[static_cast<size_t>(p.top.front())]) << "," << p.topProb.front() << ",";
        std::string top;
        for (size_t k = 0; k < p.top.size(); ++k)
            top += (k ? ";" : "") + classNames[static_cast<size_t>(p.top[k])];
        preds << csvField(top) << "\n";
    }
    writeFileAtomic(dir + "/predictions.csv", preds.str());
}

void writeSelections(const std::string &dir, const EvalResult &result,
                     const std::vector<prompt::ClassSelection> &classSelections)
{
    makeDirectories(dir);
    std::string lines;
    for (size_t i = 0; i < result.selections.size() && i < result.predictions.size(); ++i) {
        const auto &sel = result.selections[i];
        nlohmann::json j;
        j["path"] = result.predictions[i].path;
        nlohmann::json layers = nlohmann::json::array();
        for (const auto &l : sel.layers)
            layers.push_back({{"block", l.block}, {"tokens", l.tokens}, {"scores", l.scores}, {"attention", l.attention}});
        j["layers"] = layers;
        if (!sel.clsAttention.empty())
            j["cls_attention"] = sel.clsAttention;
        lines += j.dump() + "\n";
    }
    writeFileAtomic(dir + "/selections.jsonl", lines);
    nlohmann::json classes = nlohmann::json::array();
    for (const auto &c : classSelections) {
        nlohmann::json layers = nlohmann::json::array();
        for (const auto &l : c.layers)
            layers.push_back({{"block", l.block}, {"positions", l.positions}, {"attention", l.attention}});
        classes.push_back({{"class", c.className}, {"pieces", c.pieces}, {"layers", layers}});
    }
    writeFileAtomic(dir + "/classes.json", classes.dump() + "\n");
}

} // namespace sep::train
