#!/usr/bin/env bash
# The README's first quick-start command: installs what the project needs, builds it, builds the demo
# data from free artwork, and runs `sep demo` (zero-shot CLIP, CoOp and SEP tuned on emoji styles the
# built-in model never saw) to its table.
#   packaging/quickstart.sh [sep demo options, e.g. --seeds 1,2,3]
# With SEP_WEIGHTS (a CLIP weights file) and SEP_DATA (a folder with one sub-folder of images per
# class) set, it also classifies your own images zero-shot at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

packaging/install-deps.sh
cmake --preset default
cmake --build --preset default

# The demo needs only the emoji; the caption pairs are for pretraining a new built-in model.
packaging/build-demo-data.sh --no-pairs

sep=build/app/sep
echo
$sep demo --data demo-data --out demo-run "$@"

if [[ -n "${SEP_WEIGHTS:-}" && -n "${SEP_DATA:-}" ]]; then
    echo
    $sep zeroshot --weights "$SEP_WEIGHTS" --data "$SEP_DATA"
fi
