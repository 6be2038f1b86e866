#include "engine/train/adam.h"

#include "engine/core/error.h"

#include <torch/torch.h>

#include <cmath>

namespace sep::train {

Adam::Adam(std::vector<std::pair<std::string, at::Tensor>> parameters, AdamOptions options,
           const std::function<bool(const std::string &)> &decays)
    : m_options(options)
{
    for (auto &[name, p] : parameters)
        if (p.requires_grad())
            m_slots.push_back({name, p, torch::zeros_like(p), torch::zeros_like(p), 0, !decays || decays(name)});
}

void Adam::step(double lr)
{
    torch::NoGradGuard noGrad;
    for (auto &s : m_slots) {
        const auto &grad = s.param.grad();
        if (!grad.defined())
            continue;
        const double wd = s.decay ? m_options.weightDecay : 0.0;
        if (m_options.decoupled && wd != 0)
            s.param.mul_(1 - lr * wd);
        auto g = !m_options.decoupled && wd != 0 ? grad + wd * s.param : grad;
        ++s.step;
        s.expAvg.mul_(m_options.beta1).add_(g, 1 - m_options.beta1);
        s.expAvgSq.mul_(m_options.beta2).addcmul_(g, g, 1 - m_options.beta2);
        const double correction1 = 1 - std::pow(m_options.beta1, static_cast<double>(s.step));
        const double correction2 = 1 - std::pow(m_options.beta2, static_cast<double>(s.step));
        auto denom = (s.expAvgSq.sqrt() / std::sqrt(correction2)).add_(m_options.eps);
        s.param.addcdiv_(s.expAvg, denom, -lr / correction1);
    }
}

void Adam::zeroGrad()
{
    for (auto &s : m_slots)
        if (s.param.grad().defined())
            s.param.mutable_grad() = at::Tensor();
}

TensorMap Adam::state() const
{
    TensorMap out;
    for (const auto &s : m_slots) {
        out["adam.step." + s.name] = torch::full({1}, s.step, torch::kLong);
        out["adam.exp_avg." + s.name] = s.expAvg.detach().to(torch::kCPU).clone();
        out["adam.exp_avg_sq." + s.name] = s.expAvgSq.detach().to(torch::kCPU).clone();
    }
    return out;
}

void Adam::loadState(const TensorMap &state, const std::string &source)
{
    torch::NoGradGuard noGrad;
    auto get = [&](const std::string &key) -> const at::Tensor & {
        auto it = state.find(key);
        if (it == state.end())
            throw Error(source + ": optimizer state '" + key + "' is missing; the checkpoint cannot resume this run");
        return it->second;
    };
    // Everything is checked before anything is copied, so a bad checkpoint leaves the state as it was.
    for (const auto &s : m_slots) {
        get("adam.step." + s.name);
        const auto &m = get("adam.exp_avg." + s.name), &v = get("adam.exp_avg_sq." + s.name);
        if (!m.sizes().equals(s.param.sizes()) || !v.sizes().equals(s.param.sizes()))
            throw Error(source + ": optimizer state of '" + s.name + "' does not match the parameter's shape");
    }
    for (auto &s : m_slots) {
        s.step = get("adam.step." + s.name).item<int64_t>();
        s.expAvg.copy_(get("adam.exp_avg." + s.name));
        s.expAvgSq.copy_(get("adam.exp_avg_sq." + s.name));
    }
}

} // namespace sep::train
