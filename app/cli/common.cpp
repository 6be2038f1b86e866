#include "app/cli/common.h"

#include "engine/core/error.h"
#include "engine/core/text.h"
#include "engine/core/runtime.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <memory>
#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace sep::cli {
namespace {

std::atomic<bool> g_interrupted{false};

// The first Ctrl-C asks the running job to stop after its current step (runs stay resumable); a
// second one ends the process at once.
void onInterrupt(int)
{
    if (g_interrupted.exchange(true)) {
        std::signal(SIGINT, SIG_DFL);
        std::raise(SIGINT);
    }
}

} // namespace

void ModelOptions::addTo(CLI::App &cmd, bool required)
{
    auto *w = cmd.add_option("--weights", weights,
                             "CLIP weights: an OpenAI .pt release file, a torch.save state dict, or a "
                             "Hugging Face model.safetensors");
    if (required)
        w->required();
    cmd.add_option("--vocab", vocab,
                   "BPE vocabulary (bpe_simple_vocab_16e6.txt.gz, or vocab.json with merges.txt beside it); "
                   "default: found beside the weights");
    cmd.add_option("--config", config,
                   "JSON with text_config/vision_config num_attention_heads (Hugging Face layout); "
                   "default: config.json beside the weights, else width/64 heads");
    cmd.add_option("--device", device, "auto, cpu, cuda or cuda:N")->capture_default_str();
}

clip::LoadedClip ModelOptions::load(bool quiet) const
{
    const auto dev = resolveDevice(device);
    clip::LoadOptions opt;
    opt.configPath = config;
    opt.vocabPath = vocab;
    clip::LoadedClip clip = clip::loadClip(weights, opt);
    clip.model->to(dev);
    if (!quiet) {
        std::cerr << "model: " << clip.config().describe() << "\n"
                  << "       " << clip.format << ", " << clip.config().parameterCount() << " parameters, on "
                  << describeDevice(dev) << "\n";
        for (const auto &note : clip.notes)
            std::cerr << "       " << note << "\n";
    }
    return clip;
}

Hooks terminalHooks(bool quiet)
{
    std::signal(SIGINT, onInterrupt);
    Hooks hooks;
    hooks.cancel = &g_interrupted;
    // On a terminal, a log line first clears the progress line it interrupts.
    const bool terminal = isatty(STDERR_FILENO);
    hooks.log = [terminal](LogLevel level, const std::string &message) {
        // Errors reach the terminal once, from main's catch.
        if (level == LogLevel::Debug || level == LogLevel::Error)
            return;
        std::cerr << (terminal ? "\r\033[K" : "") << (level == LogLevel::Warning ? "warning: " : level == LogLevel::Error ? "error: " : "")
                  << message << std::endl;
    };
    if (!quiet && terminal) {
        hooks.progress = [](const ProgressEvent &e) {
            std::fprintf(stderr, "\r\033[K%s %lld/%lld", e.what.c_str(), static_cast<long long>(e.done),
                         static_cast<long long>(e.total));
            if (e.secondsLeft >= 0)
                std::fprintf(stderr, "  (%.0f s left)", e.secondsLeft);
            if (e.done == e.total)
                std::fputc('\n', stderr);
            std::fflush(stderr);
        };
    } else if (!quiet) {
        // Logs (servers, CI): a progress line at most every 30 seconds.
        auto last = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
        hooks.progress = [last](const ProgressEvent &e) {
            const auto now = std::chrono::steady_clock::now();
            if (now - *last < std::chrono::seconds(30) && e.done != e.total)
                return;
            *last = now;
            std::fprintf(stderr, "%s %lld/%lld", e.what.c_str(), static_cast<long long>(e.done), static_cast<long long>(e.total));
            if (e.secondsLeft >= 0)
                std::fprintf(stderr, " (%.0f s left)", e.secondsLeft);
            std::fputc('\n', stderr);
        };
    }
    return hooks;
}

std::string flagName(const std::string &key)
{
    std::string f = key;
    std::replace(f.begin(), f.end(), '_', '-');
    return "--" + f;
}

void addOptionFlags(CLI::App &cmd, const std::vector<OptionSpec> &specs, std::map<std::string, std::string> &values,
                    const std::string &group, const std::string &owner)
{
    for (const auto &spec : specs) {
        const std::string defaults = " [" + (owner.empty() ? "" : owner + "; ") + "default " + spec.defaultValue.dump() + "]";
        if (values.count(spec.key)) {   // shared by several tables: one flag, each owner's default said
            if (CLI::Option *flag = cmd.get_option_no_throw(flagName(spec.key)))
                flag->description(flag->get_description() + defaults);
            continue;
        }
        cmd.add_option(flagName(spec.key), values[spec.key], spec.help + defaults)->group(group);
    }
}

nlohmann::json parseOptionValue(const OptionSpec &spec, const std::string &text)
{
    try {
        size_t used = 0;
        switch (spec.type) {
        case OptionSpec::Type::Int: {
            const long long v = std::stoll(text, &used);
            if (used == text.size())
                return v;
            break;
        }
        case OptionSpec::Type::Real: {
            const double v = std::stod(text, &used);
            if (used == text.size() && std::isfinite(v))
                return v;
            break;
        }
        case OptionSpec::Type::Bool:
            if (text == "true" || text == "1" || text == "yes" || text == "on")
                return true;
            if (text == "false" || text == "0" || text == "no" || text == "off")
                return false;
            break;
        default:
            return text;
        }
    } catch (const std::exception &) {
    }
    const std::string shown = shortened(text, 40);
    throw Error(flagName(spec.key) + ": must be " + describeValues(spec) + ", got '" + shown + "'");
}

CLI::Validator wholeNumberAtLeast(long long min)
{
    const std::string rule = "a whole number ≥ " + std::to_string(min);
    return CLI::Validator(
        [min, rule](std::string &text) -> std::string {
            const std::string shown = shortened(text, 40);
            size_t used = 0;
            long long v = 0;
            try {
                v = std::stoll(text, &used);
            } catch (const std::out_of_range &) {
                return "must be " + rule + " that fits in 64 bits, got '" + shown + "'";
            } catch (const std::exception &) {
                used = 0;
            }
            if (used == 0 || used != text.size())
                return "must be " + rule + ", got '" + shown + "'";
            if (v < min)
                return "must be " + rule + ", got " + std::to_string(v);
            return {};
        },
        rule);
}

void printJson(const nlohmann::json &j)
{
    // Paths and class names come from file names, which need not be UTF-8 (nor need the text a
    // damaged project holds): replace what JSON cannot carry rather than throw nlohmann's type_error.
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

std::string percent(double fraction)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * fraction);
    return buf;
}

} // namespace sep::cli
