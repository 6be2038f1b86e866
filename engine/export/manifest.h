#pragma once
// The manifest of an exported bundle (see bundle.h), in plain data: torch-free, so the GUI and the
// predictor's header can show what a bundle holds without LibTorch.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sep::exporting {

constexpr int kBundleFormat = 1;

struct BackboneInfo {
    std::string description;   // Config::describe()
    std::string sha256;        // of the weights file
    std::string fileName;      // the weights file's name when exported
    int64_t parameters = 0;
    nlohmann::json heads;      // {"text": n, "vision": n, "activation": "quick_gelu"}: what shapes cannot carry
};

struct Manifest {
    int formatVersion = kBundleFormat;
    std::string method;
    nlohmann::json options;    // the method's options table, in full
    std::vector<std::string> classNames;
    // The classes the learned prompt was tuned on. The others of classNames were added after training:
    // the learned context is shared by all classes, so any class name can be scored. Bundles written
    // before this was recorded count every class as trained; empty for a method that learns nothing.
    std::vector<std::string> trainedClasses;
    std::string templ;         // the hand-crafted template (zero-shot, SEP)
    std::string fusion;        // SEP only: "per-sample" or "reference"
    BackboneInfo backbone;
    bool backboneIncluded = false;
    nlohmann::json metrics;    // e.g. {"accuracy": {"base": 0.8, …}}
    std::string created;
    std::string producer;
    // SHA-256 of each file of the bundle other than the manifest and the backbone (which has its
    // own above), by path inside the bundle: a file swapped in from another bundle is refused.
    // Bundles written before these were recorded have none.
    std::map<std::string, std::string> fileSha256;

    // The classes of classNames that were not trained on, in class order.
    std::vector<std::string> addedClasses() const;

    nlohmann::json toJson() const;
    static Manifest fromJson(const nlohmann::json &j, const std::string &source);
};

} // namespace sep::exporting
