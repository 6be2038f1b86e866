#!/usr/bin/env bash
# Renders demo-data jobs; run by packaging/build-demo-data.sh through xargs, several in parallel.
# Each argument is one job: kind<TAB>source<TAB>destination (the kinds are described at the top of
# demo-data.mjs); destination folders exist already. Environment: DEMO_SIZE (pixels), DEMO_HELPER
# (demo-data.mjs), DEMO_FAIL_LOG (failures are appended there), DEMO_PROGRESS (one byte is appended
# per finished image), DEMO_TMP (scratch folder).
# A failure is reported on stderr and in the log, never fatal: the other jobs go on. A PNG cut short
# by an interruption has no IEND chunk, so the next run sees it as missing and draws it again.
# Process start-up costs more than drawing at 64 px, so emoji come as sheets (one rsvg-convert per
# 64 emoji) and the bitmaps of one call go through a single ImageMagick run.
set -uo pipefail

size=${DEMO_SIZE:?}
helper=${DEMO_HELPER:?}
fail_log=${DEMO_FAIL_LOG:?}
progress=${DEMO_PROGRESS:-/dev/null}
tmp=${DEMO_TMP:-${TMPDIR:-/tmp}}
box="${size}x${size}"
errf="$tmp/worker-$$.err"
# ImageMagick: flatten on white, shrink (or grow) to fit the square, pad with white, 8-bit RGB.
fit=(-background white -alpha remove -alpha off -resize "$box" -gravity center -extent "$box" -depth 8 -strip)

fail() { # source destination message
    local msg=${3//$'\t'/ }
    msg=${msg//$'\n'/ }
    msg=${msg:0:400}
    rm -f "$2"
    printf '%s\t%s\t%s\n' "$1" "$2" "$msg" >>"$fail_log"
    printf 'render failed: %s\n    -> %s\n' "$1" "$msg" >&2
}
tick() { printf . >>"$progress"; }
check() { # source destination status: records a failure unless the status is 0 and the PNG exists
    if [[ $3 != 0 || ! -s $2 ]]; then
        fail "$1" "$2" "$(cat "$errf" 2>/dev/null) (exit status $3)"
    fi
    tick
}

svg_one() { # square SVG -> PNG
    rsvg-convert -b white -w "$size" -h "$size" -o "$2" "$1" 2>"$errf"
    check "$1" "$2" $?
}

# A PNG through librsvg, for images ImageMagick's resource policy refuses (openclipart has PNGs of
# 10,000 x 16,000 pixels and more; gdk-pixbuf decodes them whole: ~4 bytes a pixel of memory).
raster_via_rsvg() { # source destination
    if [[ ! -r $1 ]]; then
        echo "cannot read $1" >"$errf"
        return 1
    fi
    {
        printf '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="%s" height="%s">' "$size" "$size"
        printf '<image width="%s" height="%s" preserveAspectRatio="xMidYMid meet" xlink:href="data:image/png;base64,' "$size" "$size"
        base64 -w0 "$1" || exit 1
        printf '"/></svg>'
    } | rsvg-convert -u -b white -o "$2" 2>"$errf"
}

raster_one() {
    local rc=0 first
    if ! convert "$1[0]" "${fit[@]}" PNG24:"$2" 2>"$errf"; then
        first=$(head -c 200 "$errf" | tr '\n' ' ')
        if [[ $1 == *.png && $first == *resource* ]] && raster_via_rsvg "$1" "$2"; then
            echo "note: ImageMagick refused $1 ($first); drawn with rsvg-convert instead" >&2
        else
            rc=$?
            echo "(ImageMagick before: $first)" >>"$errf"
            [[ $rc == 0 ]] && rc=1
        fi
    fi
    check "$1" "$2" $rc
}

sheet() { # sheet.svg tiles: draw the sheet, cut it into tiles; one by one if that fails
    local png="${1%.svg}.png" dst svg
    if rsvg-convert -b white -o "$png" "$1" 2>"$errf" && node "$helper" crop "$png" "$2" --size "$size" 2>>"$errf"; then
        rm -f "$png"
        return
    fi
    echo "note: sheet $1 failed ($(head -c 300 "$errf" | tr '\n' ' ')); drawing its emoji one by one" >&2
    rm -f "$png"
    while IFS=$'\t' read -r _ _ dst svg; do
        svg_one "$svg" "$dst"
    done <"$2"
}

raster_src=() raster_dst=()
for job in "$@"; do
    kind=${job%%$'\t'*}
    rest=${job#*$'\t'}
    src=${rest%%$'\t'*}
    dst=${rest#*$'\t'}
    case $kind in
        sheet) sheet "$src" "$dst" ;;
        svg) svg_one "$src" "$dst" ;;
        svgfit) # any SVG: fit into the square keeping the aspect ratio, then pad with white
            rsvg-convert -a -w "$size" -h "$size" -b white "$src" 2>"$errf" \
                | convert png:- "${fit[@]}" PNG24:"$dst" 2>>"$errf"
            check "$src" "$dst" $? ;;
        raster) raster_src+=("$src") raster_dst+=("$dst") ;;
        bigraster)
            raster_via_rsvg "$src" "$dst"
            check "$src" "$dst" $? ;;
        *) echo "unknown job kind '$kind'" >"$errf"; check "$src" "$dst" 1 ;;
    esac
done

# All bitmaps in one ImageMagick run; if anything goes wrong there, one by one, to see which.
if [[ ${#raster_src[@]} -gt 0 ]]; then
    rm -f -- "${raster_dst[@]}"
    cmd=(convert)
    for i in "${!raster_src[@]}"; do
        cmd+=("${raster_src[i]}[0]" "${fit[@]}" -write "PNG24:${raster_dst[i]}" +delete)
    done
    cmd+=(xc: null:)
    if "${cmd[@]}" 2>"$errf"; then
        for i in "${!raster_src[@]}"; do check "${raster_src[i]}" "${raster_dst[i]}" 0; done
    else
        rm -f -- "${raster_dst[@]}"
        for i in "${!raster_src[@]}"; do raster_one "${raster_src[i]}" "${raster_dst[i]}"; done
    fi
fi
rm -f "$errf"
exit 0
