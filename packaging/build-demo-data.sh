#!/usr/bin/env bash
# Builds SEP Studio's demo data from free artwork obtainable on a fresh Debian 12 machine:
#   emoji/   emoji in up to 11 styles (Iconify sets from npm), one folder per CLDR class
#   pairs/   image-caption pairs from the Debian packages openclipart-png, tuxpaint-stamps-default
#            and sweethome3d-furniture (for pretraining)
# Usage: packaging/build-demo-data.sh [--quick] [--out DIR] [--jobs N] [--size PX] [--force] [--no-pairs]
#   --quick     300 classes in the 4 styles `sep demo` uses, and 200 pairs per source (about a minute)
#   --out DIR   where to build (default: demo-data/ in the repository root)
#   --jobs N    parallel renders (default: the number of cores)
#   --size PX   image side in pixels (default: 64)
#   --force     start again: delete OUT/emoji and OUT/pairs first (by default finished images are
#               kept, so a stopped build resumes where it was)
#   --no-pairs  build emoji/ only
# Needs node, npm, rsvg-convert (librsvg2-bin) and, for pairs/, ImageMagick: packaging/install-deps.sh.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
helper_dir="$repo/packaging/demo-data"

# Pinned package versions (npm view, 2025): the data must not change under a rebuild.
npm_packages=(
    @iconify-json/noto@1.2.9
    @iconify-json/twemoji@1.2.5
    @iconify-json/openmoji@1.2.29
    @iconify-json/fluent-emoji@1.2.7
    @iconify-json/fluent-emoji-flat@1.2.6
    @iconify-json/fluent-emoji-high-contrast@1.2.6
    @iconify-json/emojione@1.2.3
    @iconify-json/noto-v1@1.2.5
    @iconify-json/emojione-v1@1.2.3
    @iconify-json/emojione-monotone@1.2.1
    @iconify-json/streamline-emojis@1.2.4
    emojibase-data@17.0.0
)

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "build-demo-data: $*" >&2; exit 1; }

quick=0 force=0 pairs=1 size=64 out="" jobs=""
args=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1 ;;
        --force) force=1 ;;
        --no-pairs) pairs=0 ;;
        --out) [[ $# -ge 2 ]] || die "--out needs a folder"; out=$2; shift ;;
        --out=*) out=${1#--out=} ;;
        --jobs) [[ $# -ge 2 ]] || die "--jobs needs a number"; jobs=$2; shift ;;
        --jobs=*) jobs=${1#--jobs=} ;;
        --size) [[ $# -ge 2 ]] || die "--size needs a number"; size=$2; shift ;;
        --size=*) size=${1#--size=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-demo-data: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[[ $size =~ ^[0-9]+$ && $size -ge 8 && $size -le 4096 ]] || die "--size must be a number of pixels (8-4096), not '$size'"
jobs=${jobs:-$(nproc 2>/dev/null || echo 2)}
[[ $jobs =~ ^[0-9]+$ && $jobs -ge 1 ]] || die "--jobs must be a positive number, not '$jobs'"
out=${out:-$repo/demo-data}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Tools. node comes with npm; rsvg-convert draws every SVG; ImageMagick's convert the bitmaps.
missing=()
for tool in node npm rsvg-convert; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [[ ${#missing[@]} -gt 0 ]]; then
    die "missing ${missing[*]}: run packaging/install-deps.sh (Debian packages nodejs, npm, librsvg2-bin)"
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
    || die "Node.js 18 or newer is needed (found $(node --version))"
if [[ $pairs == 1 ]] && ! command -v convert >/dev/null; then
    echo "build-demo-data: ImageMagick's 'convert' is missing, so pairs/ is skipped (run packaging/install-deps.sh)." >&2
    pairs=0
fi

start=$SECONDS
stamp() { local s=$((SECONDS - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
work="$out/.work"
mkdir -p "$work"
fail_log="$work/failures.tsv"
: >"$fail_log"
flags=(--out "$out" --size "$size")
[[ $quick == 1 ]] && flags+=(--quick)
[[ $force == 1 ]] && flags+=(--force)

echo "build-demo-data: building into $out (size ${size}px, $jobs jobs$([[ $quick == 1 ]] && echo ', quick'))"
if [[ $force == 1 ]]; then
    echo "[$(stamp)] --force: removing $out/emoji and $out/pairs"
    rm -rf "$out/emoji" "$out/pairs"
fi

# 1. npm packages, into OUT/.npm (skipped when the pinned versions are already there).
npm_dir="$out/.npm"
have_all=1
for spec in "${npm_packages[@]}"; do
    name=${spec%@*} version=${spec##*@}
    pkg_json="$npm_dir/node_modules/$name/package.json"
    if [[ ! -f $pkg_json ]] || [[ $(node -p "require(process.argv[1]).version" "$pkg_json") != "$version" ]]; then
        have_all=0
        break
    fi
done
if [[ $have_all == 1 ]]; then
    echo "[$(stamp)] npm packages: the ${#npm_packages[@]} pinned packages are already in $npm_dir"
else
    echo "[$(stamp)] npm packages: fetching ${#npm_packages[@]} pinned packages into $npm_dir ..."
    mkdir -p "$npm_dir"
    if ! npm install --prefix "$npm_dir" --no-save --ignore-scripts --no-audit --no-fund --loglevel=error \
            "${npm_packages[@]}"; then
        die "npm install failed (see above); the npm registry must be reachable"
    fi
fi

# Runs the jobs listed in a file in parallel (per_call jobs to a worker), with a progress line now
# and then; images is the number of images those jobs draw.
run_jobs() {
    local list=$1 what=$2 per_call=$3 images=$4
    drawn=0
    if [[ ! -s $list ]]; then
        echo "[$(stamp)] $what: nothing to do"
        return 0
    fi
    local progress="$work/progress"
    : >"$progress"
    echo "[$(stamp)] $what: $images images to draw with $jobs jobs ..."
    DEMO_SIZE=$size DEMO_HELPER="$helper_dir/demo-data.mjs" DEMO_FAIL_LOG=$fail_log \
        DEMO_PROGRESS=$progress DEMO_TMP=$work \
        xargs -a "$list" -d '\n' -n "$per_call" -P "$jobs" bash "$helper_dir/render-worker.sh" &
    local pid=$! t0=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        sleep 2
        if (((SECONDS - t0) % 30 < 2)) && kill -0 "$pid" 2>/dev/null; then
            echo "[$(stamp)]   $what: $(stat -c %s "$progress") / $images"
        fi
    done
    wait "$pid" || die "$what: xargs failed (status $?)"
    drawn=$(stat -c %s "$progress")
    echo "[$(stamp)] $what: done ($drawn images in $((SECONDS - t0)) s)"
}

# 2. Emoji: plan (classes, SVGs, job list), then render.
echo "[$(stamp)] emoji: planning ..."
node "$helper_dir/demo-data.mjs" plan-emoji --npm "$npm_dir/node_modules" "${flags[@]}"
run_jobs "$work/emoji-jobs.tsv" "emoji" 1 "$(cat /dev/null "$work"/sheets/*.tiles 2>/dev/null | wc -l)"
emoji_failed=$(wc -l <"$fail_log") emoji_drawn=$drawn pairs_drawn=0

# 3. Image-text pairs from Debian packages.
if [[ $pairs == 1 ]]; then
    echo "[$(stamp)] pairs: planning ..."
    node "$helper_dir/demo-data.mjs" plan-pairs "${flags[@]}"
    run_jobs "$work/pairs-jobs.tsv" "pairs" 32 "$(wc -l <"$work/pairs-jobs.tsv")"
    pairs_drawn=$drawn
else
    rm -f "$work/pairs-plan.json"
fi
pairs_failed=$(($(wc -l <"$fail_log") - emoji_failed))

# 4. Check the images, write the manifests and README.md.
echo "[$(stamp)] checking images, writing manifests ..."
command_line="packaging/build-demo-data.sh${args[*]:+ ${args[*]}}"
[[ $pairs == 0 ]] && flags+=(--no-pairs)
final=$(node "$helper_dir/demo-data.mjs" finalize "${flags[@]}" --command "$command_line")
grep -v '^LEFT_OUT=' <<<"$final"
left_out=$(sed -n 's/^LEFT_OUT=//p' <<<"$final")

echo
echo "build-demo-data: summary"
echo "$final" | sed -n 's/^  \(emoji\|pairs\): /  \1: /p'
echo "  drawn in this run: $emoji_drawn emoji, $pairs_drawn pairs (the rest were there already)"
echo "  failed renders: $((emoji_failed + pairs_failed)) (emoji $emoji_failed, pairs $pairs_failed)$([[ $((emoji_failed + pairs_failed)) -gt 0 ]] && echo "; listed in $fail_log")"
if [[ $((emoji_failed + pairs_failed)) -gt 0 ]]; then
    cut -f1,3 "$fail_log" | head -20 | sed 's/\t/: /; s/^/    /'
fi
echo "  images left out of the manifests: $left_out"
echo "  output: $out (README.md, emoji/manifest.jsonl$([[ $pairs == 1 ]] && echo ', pairs/manifest.jsonl'))"
echo "  elapsed: $(stamp)"
