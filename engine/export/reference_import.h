#pragma once
// Bringing in work from the released Python SEP code: its prompt-learner checkpoints
// (`prompt_learner/model.pth.tar-N`, a torch.save archive) mapped onto the engine's SEP, in the
// reference fusion mode that code computes.
//
//   auto clip = sep::clip::loadClip("ViT-B-16.pt");
//   auto sep = sep::exporting::importReference("model.pth.tar-50", clip, names, "a photo of a {}.");
//   sep::exporting::writeBundle("imported.sepmodel", *sep, clip, {}, {});
//
// Key names and shapes are those of SEP_SPEC section 3. Missing or mis-shaped tensors are refused
// with the reference's key name and what it is for.

#include "engine/clip/weights.h"
#include "engine/prompt/sep_method.h"

#include <memory>
#include <string>
#include <vector>

namespace sep::exporting {

// The checkpoint's tensors under the engine's names (ctx, ctx_visual, text_fusion.i.*,
// image_fusion.i.*, prototypes), fp32. `notes` receives what was ignored.
TensorMap mapReferenceTensors(const TensorMap &reference, const std::string &source, int64_t textLayers,
                              int64_t visionLayers, std::vector<std::string> *notes = nullptr);

// Reads the checkpoint (bare state dict or under "state_dict"; "module." stripped) and builds SEP with
// options read from the tensors' shapes, reference fusion, and the class list set.
std::unique_ptr<prompt::SepMethod> importReference(const std::string &checkpoint, clip::LoadedClip &clip,
                                                   const std::vector<std::string> &classNames, const std::string &templ);

} // namespace sep::exporting
