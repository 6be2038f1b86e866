#pragma once
// Adam with coupled L2 weight decay (the decay is added to the gradient, as torch.optim.Adam does;
// not AdamW), written out so its state is plain named tensors: checkpoints hold it exactly and a
// resumed run continues bit for bit.
//
//   sep::train::Adam adam(method.namedParameters(), {0.0025, 0.9, 0.999, 1e-3, 5e-4});
//   loss.backward();  adam.step(lr);  adam.zeroGrad();

#include "engine/io/tensor_map.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sep::train {

struct AdamOptions {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-3;
    double weightDecay = 5e-4;
    bool decoupled = false;   // AdamW: p ← p − lr·wd·p instead of adding wd·p to the gradient
};

class Adam {
public:
    // `decays(name)` chooses the parameters weight decay applies to (all by default).
    Adam(std::vector<std::pair<std::string, at::Tensor>> parameters, AdamOptions options,
         const std::function<bool(const std::string &)> &decays = {});

    // One update with learning rate `lr`; parameters without a gradient are left alone (and their
    // step count does not advance), as torch.optim.Adam does.
    void step(double lr);
    void zeroGrad();

    // "adam.step.<name>", "adam.exp_avg.<name>", "adam.exp_avg_sq.<name>"
    TensorMap state() const;
    void loadState(const TensorMap &state, const std::string &source);

private:
    struct Slot {
        std::string name;
        at::Tensor param, expAvg, expAvgSq;
        int64_t step = 0;
        bool decay = true;
    };
    std::vector<Slot> m_slots;
    AdamOptions m_options;
};

} // namespace sep::train
