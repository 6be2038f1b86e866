#!/usr/bin/env bash
# The README's first quick-start command: installs what the project needs, builds it, and runs the
# main job as far as this machine allows.
#   packaging/quickstart.sh
# Set SEP_WEIGHTS (a CLIP weights file) and SEP_DATA (a folder with one sub-folder of images per class)
# to classify your own images at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

packaging/install-deps.sh
cmake --preset default
cmake --build --preset default

sep=build/app/sep
echo
echo "Built $($sep --version). Measuring this machine:"
$sep bench encode --repeats 1
echo
if [[ -n "${SEP_WEIGHTS:-}" && -n "${SEP_DATA:-}" ]]; then
    $sep zeroshot --weights "$SEP_WEIGHTS" --data "$SEP_DATA"
else
    cat <<'MSG'
To classify your own images, sep needs CLIP weights (an OpenAI .pt release file such as ViT-B-16.pt,
or a Hugging Face model.safetensors with its config.json) and their vocabulary
(bpe_simple_vocab_16e6.txt.gz, or vocab.json + merges.txt) beside them:

    build/app/sep zeroshot --weights ViT-B-16.pt --data my-images/

or run this script again with SEP_WEIGHTS=... SEP_DATA=... set.
MSG
fi
