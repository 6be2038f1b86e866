#!/usr/bin/env bash
# The GUI tour, for looking at by eye: SEP Studio in a real X server (Xvfb) at 800×600 and 1600×1000,
# on PROJECT (e.g. the demo's) and on a SECOND project opened after it, each view and dialog saved as
# a PNG in OUT.
#
#   packaging/screenshot-tour.sh demo-run/demo.sepproj other.sepproj tour/
set -euo pipefail
project=${1:?usage: screenshot-tour.sh PROJECT SECOND_PROJECT OUT}
second=${2:?usage: screenshot-tour.sh PROJECT SECOND_PROJECT OUT}
out=${3:?usage: screenshot-tour.sh PROJECT SECOND_PROJECT OUT}
studio=${SEP_STUDIO:-$(dirname "$0")/../build/app/gui/sep-studio}
mkdir -p "$out"

display=:$((50 + RANDOM % 40))
Xvfb "$display" -screen 0 1700x1100x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1
export DISPLAY=$display
# A settings folder of its own: the tour neither reads nor changes the person's.
export XDG_CONFIG_HOME="$out/.config"

shot() {   # name, then the application's arguments
    local name=$1; shift
    timeout 120 "$studio" --delay 2500 --screenshot "$out/$name.png" "$@" || echo "tour: $name failed" >&2
}

for size in 800x600 1600x1000; do
    shot "$size-welcome" --size "$size"
    for tab in 0 1 2; do
        names=(dataset curves results)
        shot "$size-${names[$tab]}" --size "$size" --tab "$tab" "$project"
    done
    shot "$size-inspector" --size "$size" --inspect --delay 4000 "$project"
    shot "$size-export" --size "$size" --dialog export "$project"
    shot "$size-train" --size "$size" --dialog train "$project"
    shot "$size-new-project" --size "$size" --dialog new
    shot "$size-run-details" --size "$size" --dialog details "$project"
    # The dark theme: every view, and the inspector's maps and legends on a dark window.
    for tab in 0 1 2; do
        names=(dataset curves results)
        shot "$size-dark-${names[$tab]}" --size "$size" --theme dark --tab "$tab" "$project"
    done
    shot "$size-dark-inspector" --size "$size" --theme dark --inspect --delay 4000 "$project"
    # The second project opened after the first in the same window: nothing of the first may remain.
    for tab in 0 1 2 3; do
        names=(dataset curves results inspector)
        shot "$size-then-${names[$tab]}" --size "$size" --tab "$tab" --delay 4000 "$project" --then "$second"
    done
done
echo "tour: $(ls "$out"/*.png | wc -l) screenshots in $out"
