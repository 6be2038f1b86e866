#pragma once
// PyTorch's zip archives read without Python and without running any TorchScript code:
//  - torch.save files (PyTorch ≥ 1.6): `<top>/data.pkl` plus `<top>/data/<key>` storages;
//  - TorchScript archives (torch.jit.save, e.g. OpenAI's CLIP release): `<top>/data.pkl` holds the
//    module tree as pickled objects whose attributes are parameters, buffers and sub-modules.
// Our own unpickler (protocol 2–5) rebuilds tensors from `torch._utils._rebuild_tensor_v2` calls and
// turns every other object into a generic one (its class name and state), so files that also hold
// optimizer or scheduler objects (training checkpoints) still read.
//
//   sep::io::PickleValue root = sep::io::readTorchArchive("model.pth.tar-50");
//   sep::TensorMap sd = sep::io::collectTensors(root.get("state_dict"));
//
//   sep::TensorMap w = sep::io::readTorchScriptTensors("ViT-B-16.pt");   // "visual.conv1.weight", …
//
// Failures throw sep::Error naming the file and the record or opcode at fault. Tensors come back on
// the CPU in their stored dtype.

#include "engine/io/tensor_map.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sep::io {

// A value from a pickle: None, bool, int, float, string/bytes, list/tuple, dict (string keys kept;
// other keys are stringified), tensor, or an object (class name + its state / reduce arguments).
struct PickleValue {
    enum class Kind { None, Bool, Int, Float, String, Bytes, List, Tuple, Dict, Tensor, Object, Global };
    Kind kind = Kind::None;
    bool b = false;
    int64_t i = 0;
    double f = 0.0;
    std::string s;                                                     // String, Bytes, or Global/Object class name
    std::vector<std::shared_ptr<PickleValue>> items;                   // List, Tuple, Object's args
    std::vector<std::pair<std::string, std::shared_ptr<PickleValue>>> dict;   // Dict (insertion order), Object's state
    at::Tensor tensor;

    // Dict or Object state lookup; nullptr when absent.
    const PickleValue *find(const std::string &key) const;
    const PickleValue &get(const std::string &key) const;   // throws sep::Error when absent
};

// Reads a zip archive written by torch.save or torch.jit.save and unpickles its `data.pkl`.
// Refuses the legacy (pre-1.6, non-zip) torch.save format with a message saying how to convert it.
PickleValue readTorchArchive(const std::string &path);

// Every tensor reachable from `root`, named by its path of dict keys / object attributes joined with
// '.' (as a state_dict names them). Non-tensor leaves are skipped.
TensorMap collectTensors(const PickleValue &root, const std::string &prefix = {});

// A TorchScript archive's parameters and buffers, named as the module's state_dict() would name them.
TensorMap readTorchScriptTensors(const std::string &path);

// True when the file is a zip archive (PK\x03\x04) holding a data.pkl record.
bool looksLikeTorchArchive(const std::string &path);
// True when that archive is TorchScript (holds a `constants.pkl` or `code/` records).
bool isTorchScriptArchive(const std::string &path);

} // namespace sep::io
