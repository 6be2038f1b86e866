#!/usr/bin/env bash
# Installs every Debian package SEP Studio needs to build, test and run.
# Idempotent: packages already present are left alone. Run as root (or with sudo available).
#   packaging/install-deps.sh            everything (GUI included)
#   packaging/install-deps.sh --headless engine + CLI only (no Qt)
set -euo pipefail

headless=0
for arg in "$@"; do
    case "$arg" in
        --headless) headless=1 ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "install-deps: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

# Build tools and the engine. libopenblas0-openmp matters: without it Debian's LibTorch falls back
# to the reference BLAS and runs ~15x slower. libgloo-dev is needed by LibTorch's c10d headers.
packages=(
    build-essential cmake pkg-config git
    libtorch-dev libgloo-dev libopenblas0-openmp
    libopencv-dev libjpeg-dev
    nlohmann-json3-dev libcli11-dev libutf8proc-dev zlib1g-dev
    libsqlite3-dev sqlite3
    librsvg2-bin
)
# npm fetches the demo artwork. Node.js from other sources ships its own npm, which conflicts with
# Debian's package, so Debian's npm is installed only when no npm is on the PATH.
command -v npm >/dev/null || packages+=(npm)
# Demo data (packaging/build-demo-data.sh): node runs its helper (Debian's npm brings nodejs, but a
# node from elsewhere may come without npm or the other way round); librsvg2-bin (above) draws the
# emoji; ImageMagick (in the GUI list below; added here for --headless) converts the clip art; the
# three packages are the image-caption pairs (openclipart-png ~160 MB, tuxpaint-stamps-default
# ~230 MB, sweethome3d-furniture ~125 MB installed).
command -v node >/dev/null || packages+=(nodejs)
[[ $headless == 1 ]] && packages+=(imagemagick)
packages+=(openclipart-png tuxpaint-stamps-default sweethome3d-furniture)
if [[ $headless == 0 ]]; then
    packages+=(
        qt6-base-dev qt6-base-dev-tools qt6-svg-dev qt6-tools-dev qt6-l10n-tools libqt6sql6-sqlite libqt6svg6
        libqcustomplot-dev libqcustomplot2.1-qt6
        xvfb xauth imagemagick
    )
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} == 0 ]]; then
    echo "install-deps: all ${#packages[@]} packages already installed; nothing to do."
    exit 0
fi

sudo=""
if [[ $(id -u) != 0 ]]; then
    if command -v sudo >/dev/null; then
        sudo="sudo"
    else
        echo "install-deps: need root to install: ${missing[*]}" >&2
        echo "install-deps: run this script as root, or install sudo." >&2
        exit 1
    fi
fi

echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -qq; then
    echo "install-deps: 'apt-get update' failed: check the network and /etc/apt/sources.list." >&2
    exit 1
fi
if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "install-deps: 'apt-get install' failed for: ${missing[*]}" >&2
    echo "install-deps: this script targets Debian 12 (bookworm); see the apt output above." >&2
    exit 1
fi
echo "install-deps: installed ${missing[*]}"
