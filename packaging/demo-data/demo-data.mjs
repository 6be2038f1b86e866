// SEP Studio demo-data helper (Node.js 18, no npm dependencies).
//
// Called by packaging/build-demo-data.sh; not meant to be run by hand. Subcommands:
//   plan-emoji  reads the Iconify emoji sets and emojibase-data, chooses the classes, writes one SVG
//               per (class, style) still to render and a job list for render-worker.sh
//   plan-pairs  reads the Debian clip-art packages (openclipart-png, tuxpaint-stamps-default,
//               sweethome3d-furniture), collects captions and keywords, writes a job list
//   finalize    checks the rendered PNGs, writes emoji/manifest.jsonl, pairs/manifest.jsonl and README.md
//   crop        cuts a rendered sheet into its tiles (run by render-worker.sh)
//
// Job lists are text files with one job per line: kind<TAB>source<TAB>destination, where kind is
//   sheet   an SVG with up to 64 emoji in a grid, and a list of its tiles (x, y, PNG, single SVG):
//           one rsvg-convert run draws them all, `crop` cuts them apart. Starting a process costs
//           more than drawing a 64 px emoji, so this is ~5x faster than one run per image. The
//           single SVGs are the fallback when a sheet fails.
//   svg     a square SVG made here (rsvg-convert renders it at SIZE x SIZE on white)
//   svgfit  any SVG (rendered keeping its aspect ratio, then padded to a white square)
//   raster  a bitmap (flattened on white, resized keeping its aspect ratio, padded to a square)
//   bigraster  a PNG beyond ImageMagick's default resource policy (128 megapixels, 16K a side;
//           openclipart has 13 of 100-230 megapixels): drawn through librsvg instead, which decodes
//           it whole (~8 bytes a pixel: 1.8 GB, 12 s for 230 megapixels). Two stop signs of 620
//           megapixels (5 GB, 30 s each) are left out.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';

// ---------------------------------------------------------------------------------------------
// Configuration

// Classes are the icon names present in every one of these sets.
const CORE_SETS = ['noto', 'twemoji', 'openmoji', 'fluent-emoji', 'fluent-emoji-flat',
    'fluent-emoji-high-contrast', 'emojione'];
// Rendered too, for the classes they have (matched by icon name). noto-v1 and the emojione sets use
// CLDR names; streamline-emojis has its own names, of which 355 are CLDR names of our classes (the
// drawings of a sample were checked by eye). Not used: fxemoji (names are squashed Unicode
// character names such as "blackdiamondsuit", and the package has no codepoint map to join by).
const EXTRA_SETS = ['noto-v1', 'emojione-v1', 'emojione-monotone', 'streamline-emojis'];
// --quick: this many classes, these styles, this many pairs per source. The styles are the four the
// built-in model never saw in pretraining (resources/models/builtin/provenance.json), so `sep demo`
// runs on quick data too.
const QUICK_STYLES = ['openmoji', 'twemoji', 'fluent-emoji-flat', 'emojione'];
const QUICK_CLASSES = 300;
const QUICK_PAIRS_PER_SOURCE = 200;
// Emoji per rendered sheet (a grid SHEET_COLUMNS wide).
const SHEET_ICONS = 64;
const SHEET_COLUMNS = 8;

const OPENCLIPART_ROOT = '/usr/share/openclipart/png';
const TUXPAINT_ROOT = '/usr/share/tuxpaint/stamps';
const SWEETHOME3D_ROOT = '/usr/share/sweethome3d/furniture';

// Licences of the Sweet Home 3D catalogues, from /usr/share/doc/sweethome3d-furniture/copyright.
const SWEETHOME3D_LICENSES = {
    'BlendSwap-CC-0': { license: 'CC0-1.0', author: 'Blend Swap contributors, converted by Emmanuel Puybaret (eTeks)' },
    'BlendSwap-CC-BY': { license: 'CC-BY-3.0', author: 'Blend Swap contributors, converted by Emmanuel Puybaret (eTeks)' },
    'KatorLegaz': { license: 'CC-BY-3.0-US', author: 'Andrew Kator & Jennifer Legaz' },
    'Reallusion': { license: 'CC-BY-3.0-US', author: 'Reallusion (http://www.reallusion.com)' },
    'Scopia': { license: 'CC-BY-3.0', author: 'Scopia Visual Interfaces Systems, s.l. (http://www.scopia.es)' },
};

// ---------------------------------------------------------------------------------------------
// Small utilities

function parseArgs(argv) {
    const opts = { _: [] };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a.startsWith('--')) {
            const key = a.slice(2);
            if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) opts[key] = argv[++i];
            else opts[key] = true;
        } else {
            opts._.push(a);
        }
    }
    return opts;
}

function die(msg) {
    process.stderr.write(`demo-data: ${msg}\n`);
    process.exit(1);
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const exists = (file) => fs.existsSync(file);
const nonEmptyFile = (file) => { try { return fs.statSync(file).size > 0; } catch { return false; } };

// A finished PNG ends with its IEND chunk; one cut short by an interrupted run does not.
const PNG_END = Buffer.from('0000000049454e44ae426082', 'hex');
function completePng(file) {
    let fd;
    try {
        fd = fs.openSync(file, 'r');
        const size = fs.fstatSync(fd).size;
        if (size < 57) return false;
        const tail = Buffer.alloc(12);
        fs.readSync(fd, tail, 0, 12, size - 12);
        return tail.equals(PNG_END);
    } catch {
        return false;
    } finally {
        if (fd !== undefined) fs.closeSync(fd);
    }
}

// Creates the folders of the job destinations (the render workers do not).
function makeDirs(files) {
    for (const d of new Set(files.map((f) => path.dirname(f)))) fs.mkdirSync(d, { recursive: true });
}

function writeFileAtomic(file, text) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.part`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
}

// Every file (or link to a file) under root, sorted, relative to root; Node 18 has no recursive readdir.
function walk(root) {
    const out = [];
    const visit = (rel) => {
        const entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true })
            .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const e of entries) {
            const r = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) visit(r);
            else if (e.isFile()) out.push(r);
            else if (e.isSymbolicLink()) {
                try { if (fs.statSync(path.join(root, r)).isFile()) out.push(r); } catch { /* dangling link */ }
            }
        }
    };
    visit('');
    return out;
}

// n items spread evenly over list (deterministic), keeping the list's order.
function spread(list, n) {
    if (list.length <= n) return list.slice();
    const out = [];
    for (let i = 0; i < n; i++) out.push(list[Math.floor(((i + 0.5) * list.length) / n)]);
    return out;
}

// Items without repeats, comparing lower-case letters and digits only ("BlueMan#" = "blueman").
function uniqueCaseless(items) {
    const seen = new Set();
    const out = [];
    for (const s of items) {
        if (!s) continue;
        const k = s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
        if (!seen.has(k)) { seen.add(k); out.push(s); }
    }
    return out;
}

function dpkgVersion(pkg) {
    try {
        return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { stdio: ['ignore', 'pipe', 'ignore'] })
            .toString().trim() || null;
    } catch {
        return null;
    }
}

// A job line; paths may hold spaces but never tabs or newlines.
function jobLine(kind, src, dst) {
    if (/[\t\n]/.test(src + dst)) throw new Error(`path with a tab or newline: ${src} -> ${dst}`);
    return `${kind}\t${src}\t${dst}\n`;
}

// ---------------------------------------------------------------------------------------------
// Iconify sets

function loadSet(npmDir, prefix) {
    const dir = path.join(npmDir, '@iconify-json', prefix);
    if (!exists(path.join(dir, 'icons.json'))) die(`missing @iconify-json/${prefix} in ${npmDir}`);
    const json = readJson(path.join(dir, 'icons.json'));
    const info = readJson(path.join(dir, 'info.json'));
    const pkg = readJson(path.join(dir, 'package.json'));
    let chars = {};
    if (exists(path.join(dir, 'chars.json'))) chars = readJson(path.join(dir, 'chars.json'));
    return {
        prefix, info, chars, version: pkg.version,
        icons: json.icons || {}, aliases: json.aliases || {},
        left: json.left ?? 0, top: json.top ?? 0, width: json.width ?? 16, height: json.height ?? 16,
    };
}

// An icon or alias by name, with the alias chain followed and its transformations merged.
function resolveIcon(set, name) {
    const dims = {};
    let hFlip = false, vFlip = false, rotate = 0;
    let cur = name;
    for (let depth = 0; depth < 20; depth++) {
        const item = set.icons[cur] || set.aliases[cur];
        if (!item) return null;
        for (const k of ['left', 'top', 'width', 'height']) if (dims[k] === undefined && item[k] !== undefined) dims[k] = item[k];
        if (item.hFlip) hFlip = !hFlip;
        if (item.vFlip) vFlip = !vFlip;
        if (item.rotate) rotate += item.rotate;
        if (set.icons[cur]) {
            return {
                body: item.body, hFlip, vFlip, rotate: ((rotate % 4) + 4) % 4,
                left: dims.left ?? set.left, top: dims.top ?? set.top,
                width: dims.width ?? set.width, height: dims.height ?? set.height,
            };
        }
        cur = item.parent;
    }
    return null;
}

// A gradient whose transform skews by 90 degrees cannot be inverted: librsvg then fails the whole
// image ("NoMemory"; fluent-emoji's umbrellas have one). Browsers paint nothing with such a
// gradient, so its uses become "none".
function dropSingularGradients(body) {
    const bad = [...body.matchAll(/<(?:linear|radial)Gradient\b[^>]*>/g)]
        .map((m) => m[0])
        .filter((tag) => /gradientTransform="[^"]*skew[XY]\(\s*[+-]?(?:90|270)(?:\.0*)?\s*\)/.test(tag))
        .map((tag) => (/\bid="([^"]+)"/.exec(tag) || [])[1])
        .filter(Boolean);
    if (!bad.length) return body;
    singularGradientIcons.add(body);
    for (const id of bad) body = body.split(`url(#${id})`).join('none');
    return body;
}
const singularGradientIcons = new Set();

// The icon's body with flips and rotation applied, and its square viewBox (non-square icons centred).
function iconParts(icon) {
    let { left: L, top: T, width: W, height: H } = icon;
    let body = dropSingularGradients(icon.body);
    const flips = [];
    if (icon.hFlip) flips.push(`translate(${2 * L + W} 0) scale(-1 1)`);
    if (icon.vFlip) flips.push(`translate(0 ${2 * T + H}) scale(1 -1)`);
    if (flips.length) body = `<g transform="${flips.join(' ')}">${body}</g>`;
    if (icon.rotate) {
        const cx = L + W / 2, cy = T + H / 2;
        body = `<g transform="rotate(${90 * icon.rotate} ${cx} ${cy})">${body}</g>`;
        if (icon.rotate % 2) { [W, H] = [H, W]; L = cx - W / 2; T = cy - H / 2; }
    }
    const s = Math.max(W, H);
    return { body, viewBox: `${L - (s - W) / 2} ${T - (s - H) / 2} ${s} ${s}` };
}

const SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"';

// A standalone square SVG for a resolved icon.
function iconSvg(icon, size) {
    const { body, viewBox } = iconParts(icon);
    return `${SVG_OPEN} viewBox="${viewBox}" width="${size}" height="${size}">${body}</svg>\n`;
}

// Icons share one document in a sheet: give each icon's ids (gradients, clip paths, masks) a prefix.
function prefixIds(body, prefix) {
    const ids = new Set([...body.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]));
    if (!ids.size) return body;
    return body
        .replace(/\bid="([^"]+)"/g, (_, id) => `id="${prefix}${id}"`)
        .replace(/url\(\s*(['"]?)#([^'")\s]+)\1\s*\)/g, (m, q, id) => (ids.has(id) ? `url(#${prefix}${id})` : m))
        .replace(/\bhref="#([^"]+)"/g, (m, id) => (ids.has(id) ? m.replace(`"#${id}"`, `"#${prefix}${id}"`) : m));
}

// A grid of icons as one SVG; each icon in a nested <svg> (which clips it to its cell, like a
// standalone document). Returns the SVG and each icon's cell position.
function sheetSvg(icons, size) {
    const rows = Math.ceil(icons.length / SHEET_COLUMNS);
    const cols = Math.min(SHEET_COLUMNS, icons.length);
    const cells = [];
    const parts = [`${SVG_OPEN} width="${cols * size}" height="${rows * size}" viewBox="0 0 ${cols * size} ${rows * size}">`];
    icons.forEach((icon, i) => {
        const x = (i % SHEET_COLUMNS) * size, y = Math.floor(i / SHEET_COLUMNS) * size;
        const { body, viewBox } = iconParts(icon);
        parts.push(`<svg x="${x}" y="${y}" width="${size}" height="${size}" viewBox="${viewBox}">${prefixIds(body, `s${i}-`)}</svg>`);
        cells.push({ x, y });
    });
    parts.push('</svg>\n');
    return { svg: parts.join(''), cells };
}

// ---------------------------------------------------------------------------------------------
// CLDR names (emojibase-data)

// Class folder name from a CLDR label: "Japanese “here” button" -> "japanese here button",
// "keycap: *" -> "keycap asterisk", "piñata" -> "pinata", "woman’s hat" -> "woman's hat".
// ASCII letters, digits, spaces, hyphens and apostrophes.
function className(label) {
    return label.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
        .replace(/\*/g, ' asterisk ').replace(/#/g, ' number sign ').replace(/&/g, ' and ').replace(/’/g, "'")
        .replace(/[^a-z0-9 '-]+/g, '')
        .replace(/\s+/g, ' ').trim();
}
// Iconify's form of a CLDR label: "red apple" -> "red-apple", "woman’s hat" -> "womans-hat".
const iconSlug = (label) => className(label).replace(/'/g, '').replace(/ /g, '-').replace(/-+/g, '-');
// Codepoints without the emoji variation selector, upper case: "1f44d-fe0f" -> "1F44D".
const hexKey = (hex) => hex.toUpperCase().split('-').filter((c) => c !== 'FE0F').join('-');

function loadEmojibase(npmDir) {
    const dir = path.join(npmDir, 'emojibase-data');
    const data = readJson(path.join(dir, 'en', 'data.json'));
    const messages = readJson(path.join(dir, 'en', 'messages.json'));
    const version = readJson(path.join(dir, 'package.json')).version;
    const groups = new Map(messages.groups.map((g) => [g.order, g.message]));
    const subgroups = new Map(messages.subgroups.map((g) => [g.order, g.message]));
    const bySlug = new Map(), byHex = new Map();
    for (const e of data) {
        for (const x of [e, ...(e.skins || [])]) {
            const entry = {
                label: x.label, hexcode: x.hexcode, emoji: x.emoji, order: x.order ?? e.order,
                tone: x.tone, tags: e.tags || [],
                category: groups.get(e.group) ?? null, subcategory: subgroups.get(e.subgroup) ?? null,
            };
            const slug = iconSlug(x.label);
            if (!bySlug.has(slug)) bySlug.set(slug, entry);
            byHex.set(hexKey(x.hexcode), entry);
        }
    }
    return { version, bySlug, byHex, count: data.length };
}

// ---------------------------------------------------------------------------------------------
// plan-emoji

function planEmoji(opts) {
    const out = path.resolve(opts.out);
    const npmDir = path.resolve(opts.npm);
    const size = Number(opts.size);
    const quick = !!opts.quick, force = !!opts.force;
    const work = path.join(out, '.work');

    const sets = new Map();
    for (const p of [...CORE_SETS, ...EXTRA_SETS]) sets.set(p, loadSet(npmDir, p));
    const eb = loadEmojibase(npmDir);
    const has = (set, name) => !!(set.icons[name] || set.aliases[name]);

    // 1. Candidates: names (icons or aliases) present in all core sets.
    const all = new Set();
    for (const p of CORE_SETS) {
        const s = sets.get(p);
        for (const n of Object.keys(s.icons)) all.add(n);
        for (const n of Object.keys(s.aliases)) all.add(n);
    }
    const candidates = [...all].filter((n) => CORE_SETS.every((p) => has(sets.get(p), n))).sort();

    // 2. Codepoints by icon name, voted over the core sets that ship chars.json.
    const votes = new Map();
    for (const p of CORE_SETS) {
        for (const [hex, name] of Object.entries(sets.get(p).chars)) {
            if (!votes.has(name)) votes.set(name, new Map());
            const m = votes.get(name);
            m.set(hexKey(hex), (m.get(hexKey(hex)) || 0) + 1);
        }
    }
    const votedHex = (name) => {
        const m = votes.get(name);
        if (!m) return null;
        return [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
    };

    // 3. Join to CLDR: by label first, by codepoint where the Iconify name is an older CLDR name.
    const stats = { candidates: candidates.length, byLabel: 0, byCodepoint: 0, unmatched: [], labelCodepointDisagree: [],
        skippedSkinTone: [], skippedDuplicates: [] };
    const rows = [];
    for (const name of candidates) {
        let e = eb.bySlug.get(name);
        let how = e ? 'label' : null;
        const hx = votedHex(name);
        if (e && hx && hexKey(e.hexcode) !== hx) stats.labelCodepointDisagree.push(`${name} (${e.hexcode} vs ${hx})`);
        if (!e && hx && eb.byHex.has(hx)) { e = eb.byHex.get(hx); how = 'codepoint'; }
        if (how === 'label') stats.byLabel++;
        else if (how === 'codepoint') stats.byCodepoint++;
        else stats.unmatched.push(name);
        // Skin-tone variants would be near-copies of their base class: never classes.
        if ((e && e.tone !== undefined) || /-skin-tone\b/.test(name)) { stats.skippedSkinTone.push(name); continue; }
        const realIcons = CORE_SETS.filter((p) => sets.get(p).icons[name]).length;
        rows.push({ name, e, how, realIcons });
    }

    // 4. One class per emoji: names for the same codepoint are aliases of each other.
    const groups = new Map();
    for (const r of rows) {
        const key = r.e ? hexKey(r.e.hexcode) : `name:${r.name}`;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(r);
    }
    const kept = [];
    for (const g of groups.values()) {
        g.sort((a, b) => (a.how === 'label' ? 0 : 1) - (b.how === 'label' ? 0 : 1)
            || b.realIcons - a.realIcons || (a.name < b.name ? -1 : 1));
        kept.push(g[0]);
        for (const r of g.slice(1)) stats.skippedDuplicates.push(`${r.name} (same emoji as ${g[0].name})`);
    }

    let classes = kept.map((r) => ({
        class: r.e ? className(r.e.label) : r.name.replace(/-/g, ' '),
        icon: r.name,
        label: r.e ? r.e.label : null,
        hexcode: r.e ? r.e.hexcode : null,
        emoji: r.e ? r.e.emoji : null,
        category: r.e ? r.e.category : null,
        subcategory: r.e ? r.e.subcategory : null,
        keywords: r.e ? r.e.tags : [],
        order: r.e ? r.e.order : Number.MAX_SAFE_INTEGER,
        match: r.how,
    }));
    classes.sort((a, b) => a.order - b.order || (a.icon < b.icon ? -1 : 1));
    const seenNames = new Set();
    for (const c of classes) {
        if (seenNames.has(c.class)) c.class = `${c.class} ${c.hexcode || c.icon}`.toLowerCase();
        seenNames.add(c.class);
    }
    stats.classesAll = classes.length;
    if (quick) classes = spread(classes, QUICK_CLASSES);
    const styles = quick ? QUICK_STYLES : [...CORE_SETS, ...EXTRA_SETS];

    // 5. Images: every style that has the class's icon (extra sets may know it by its current CLDR slug).
    const images = [];
    const jobs = [], dstFiles = [], todo = [];
    const perStyle = Object.fromEntries(styles.map((s) => [s, 0]));
    let present = 0;
    for (const c of classes) {
        for (const style of styles) {
            const set = sets.get(style);
            const names = [c.icon];
            if (c.label && iconSlug(c.label) !== c.icon) names.push(iconSlug(c.label));
            const iconName = names.find((n) => has(set, n));
            if (!iconName) continue;
            const icon = resolveIcon(set, iconName);
            if (!icon) continue;
            const rel = `${c.class}/${style}.png`;
            const dst = path.join(out, 'emoji', rel);
            images.push({ path: rel, class: c.class, style, icon: iconName });
            perStyle[style]++;
            if (!force && completePng(dst)) { present++; continue; }
            dstFiles.push(dst);
            const svgFile = path.join(work, 'svg', style, `${iconName}.svg`);
            fs.mkdirSync(path.dirname(svgFile), { recursive: true });
            fs.writeFileSync(svgFile, iconSvg(icon, size));
            todo.push({ icon, dst, svgFile });
        }
    }
    // Sheets of SHEET_ICONS, in class order (so each mixes styles and costs about the same).
    fs.rmSync(path.join(work, 'sheets'), { recursive: true, force: true });
    for (let k = 0; k * SHEET_ICONS < todo.length; k++) {
        const chunk = todo.slice(k * SHEET_ICONS, (k + 1) * SHEET_ICONS);
        const { svg, cells } = sheetSvg(chunk.map((t) => t.icon), size);
        const base = path.join(work, 'sheets', `sheet-${String(k).padStart(4, '0')}`);
        writeFileAtomic(`${base}.svg`, svg);
        writeFileAtomic(`${base}.tiles`, chunk.map((t, i) => jobLine(`${cells[i].x}\t${cells[i].y}`, t.dst, t.svgFile)).join(''));
        jobs.push(jobLine('sheet', `${base}.svg`, `${base}.tiles`));
    }

    const setInfo = styles.map((p) => {
        const s = sets.get(p);
        return {
            prefix: p, core: CORE_SETS.includes(p), name: s.info.name, version: s.version,
            upstreamVersion: s.info.version || null,
            license: s.info.license || {}, author: s.info.author || {}, total: s.info.total, images: perStyle[p],
        };
    });
    makeDirs(dstFiles);
    const plan = { size, quick, styles, sets: setInfo, emojibase: { version: eb.version }, stats, classes, images };
    writeFileAtomic(path.join(work, 'emoji-plan.json'), JSON.stringify(plan));
    writeFileAtomic(path.join(work, 'emoji-jobs.tsv'), jobs.join(''));

    console.log(`  ${candidates.length} icon names in all ${CORE_SETS.length} core sets; CLDR join: ${stats.byLabel} by label, `
        + `${stats.byCodepoint} by codepoint (older CLDR names), ${stats.unmatched.length} unmatched`);
    if (stats.skippedDuplicates.length) console.log(`  skipped ${stats.skippedDuplicates.length} duplicate name(s): ${stats.skippedDuplicates.join('; ')}`);
    if (stats.skippedSkinTone.length) console.log(`  skipped ${stats.skippedSkinTone.length} skin-tone variant(s)`);
    if (stats.labelCodepointDisagree.length) console.log(`  label/codepoint disagreements: ${stats.labelCodepointDisagree.join('; ')}`);
    if (singularGradientIcons.size) console.log(`  ${singularGradientIcons.size} icon drawing(s) had a gradient with a singular transform, painted as "none"`);
    console.log(`  classes: ${classes.length}${quick ? ` (quick subset of ${stats.classesAll})` : ''}; styles: ${styles.length}`);
    console.log(`  images: ${images.length} planned, ${present} already rendered, ${todo.length} to render (${jobs.length} sheets)`);
}

// ---------------------------------------------------------------------------------------------
// PNG text chunks (openclipart keeps each image's title, author and description there)

function pngTextChunks(buf) {
    const out = {};
    if (buf.length < 8 || buf.readUInt32BE(0) !== 0x89504e47) return out;
    let o = 8;
    while (o + 8 <= buf.length) {
        const len = buf.readUInt32BE(o);
        const type = buf.toString('latin1', o + 4, o + 8);
        const data = buf.subarray(o + 8, Math.min(buf.length, o + 8 + len));
        const z = data.indexOf(0);
        if (z > 0) {
            const key = data.toString('latin1', 0, z);
            try {
                if (type === 'tEXt') out[key] = decodeText(data.subarray(z + 1));
                else if (type === 'zTXt') out[key] = decodeText(zlib.inflateSync(data.subarray(z + 2)));
                else if (type === 'iTXt' && data[z + 1] === 0) {
                    // keyword, 0, compression flag, method, language tag, 0, translated keyword, 0, text
                    let p = z + 3;
                    p = data.indexOf(0, p) + 1;
                    p = data.indexOf(0, p) + 1;
                    out[key] = data.subarray(p).toString('utf8');
                }
            } catch { /* a damaged chunk: ignore it */ }
        }
        if (type === 'IEND') break;
        o += 12 + len;
    }
    return out;
}

// tEXt is Latin-1 by the standard, but Inkscape wrote UTF-8 there: take UTF-8 when it is valid.
const utf8 = new TextDecoder('utf-8', { fatal: true });
function decodeText(bytes) {
    let s;
    try { s = utf8.decode(bytes); } catch { s = Buffer.from(bytes).toString('latin1'); }
    return s.replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
        .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'")
        .replace(/&amp;/g, '&');
}

const tidy = (s) => (s || '').replace(/\s+/g, ' ').trim();

// The job kind for a bitmap, from its PNG header (bytes 16-23: width, height); null: too large.
const MAX_MEGAPIXELS = 300;
function rasterKind(header) {
    if (header.length < 24 || header.readUInt32BE(0) !== 0x89504e47) return 'raster';
    const w = header.readUInt32BE(16), h = header.readUInt32BE(20);
    if (w * h > MAX_MEGAPIXELS * 1e6) return null;
    return w * h > 100e6 || Math.max(w, h) > 16000 ? 'bigraster' : 'raster';
}
function pngHeader(file) {
    const b = Buffer.alloc(24);
    const fd = fs.openSync(file, 'r');
    try { fs.readSync(fd, b, 0, 24, 0); } finally { fs.closeSync(fd); }
    return b;
}

// Words of a file name, without author names, numbering and size suffixes:
// "flying_wasp_gerald_g._01" by "Gerald G." -> "flying wasp".
function fileNameWords(base, author) {
    const authorTokens = (author || '').normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
        .split(/[^a-z]+/).filter((t) => t.length >= 2);
    const stop = new Set(['md', 'sm', 'lg', 'png', 'svg', 'openclipart', 'openc', 'clipart', 'ganson']);
    const words = [];
    for (let t of base.toLowerCase().split(/[\s_\-.+,()]+/)) {
        t = t.replace(/\d+$/, '');
        if (t.length < 2 || stop.has(t)) continue;
        if (/\d/.test(t) && !/^[234]d$/.test(t)) continue; // "70a013", "01a"; keep "3d"
        if (authorTokens.some((a) => a.startsWith(t) || t.startsWith(a))) continue;
        words.push(t);
    }
    return words;
}

// openclipart's card decks name their cards DECK_SUIT_RANK: "white_d_q" -> "queen of diamonds".
function playingCard(dir, base) {
    const m = /^[a-z]+_([cdhs])_(10|[2-9]|[ajkq])$/.exec(base);
    if (!m || !/cards\/[a-z]+$/.test(dir)) return null;
    const suits = { c: 'clubs', d: 'diamonds', h: 'hearts', s: 'spades' };
    const ranks = { a: 'ace', k: 'king', q: 'queen', j: 'jack', 2: 'two', 3: 'three', 4: 'four', 5: 'five', 6: 'six',
        7: 'seven', 8: 'eight', 9: 'nine', 10: 'ten' };
    return `${ranks[m[2]]} of ${suits[m[1]]}`;
}

function folderKeywords(relDir, skip) {
    return relDir.split('/').filter((d) => d && !skip.has(d))
        .map((d) => d.replace(/^\d+[_-]+/, '').replace(/[_-]+/g, ' ').toLowerCase()).filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// Pair sources

function openclipartItems(report) {
    if (!exists(OPENCLIPART_ROOT)) {
        report.push(`openclipart-png: not installed (${OPENCLIPART_ROOT} missing); skipped. Run packaging/install-deps.sh.`);
        return [];
    }
    const files = walk(OPENCLIPART_ROOT).filter((f) => f.toLowerCase().endsWith('.png'));
    const recs = files.map((rel) => {
        const buf = fs.readFileSync(path.join(OPENCLIPART_ROOT, rel));
        const t = pngTextChunks(buf);
        const rawTitle = tidy(t.Title);
        const author = tidy(t.Author);
        // "Clipart by Nicu Buculei - contour_chipmunk": the author's file name, often shared by a series.
        const byName = /^clipart by [^-]+ - (.*)$/i.exec(rawTitle);
        const title = byName ? fileNameWords(byName[1], author).join(' ') : rawTitle.replace(/[\s_-]*\d+$/, '').trim();
        return {
            rel, hash: crypto.createHash('sha1').update(buf).digest('hex'), kind: rasterKind(buf),
            rawTitle, title, titleFromFileName: !!byName, author, description: tidy(t.Description),
        };
    });
    const titleCount = new Map(), descCount = new Map();
    for (const r of recs) {
        titleCount.set(r.title.toLowerCase(), (titleCount.get(r.title.toLowerCase()) || 0) + 1);
        descCount.set(r.description.toLowerCase(), (descCount.get(r.description.toLowerCase()) || 0) + 1);
    }
    // A title shared by many files names a collection ("Lemon SVG theme", "gramastar", "Sallite") or a
    // numbered series ("BlueMan#1", ...), not the picture; one made from a file name must be unique.
    const collectionWords = /\b(collection|theme|icons?|iconset|cliparts?|svg|part of|submission|sibmission|undefined|untitled)\b/i;
    const goodTitle = (r) => /[a-z]{2}/i.test(r.title) && !collectionWords.test(r.title)
        && titleCount.get(r.title.toLowerCase()) <= (r.titleFromFileName ? 1 : 5);
    const goodDesc = (d) => d.length >= 3 && d.length <= 200 && /[a-z]{2}/i.test(d)
        && !/@|https?:|www\.|inkscape|converted|creat(ed|e) with|HASH\(0x/i.test(d) && descCount.get(d.toLowerCase()) <= 12;
    const skipDirs = new Set(['unsorted', 'duplicates', 'special', 'misc']);

    // Identical files (1,221 symbolic links filing a picture under a second subject) become one pair
    // with the captions and subjects of all its copies.
    const byHash = new Map();
    for (const r of recs) {
        const dir = path.posix.dirname(r.rel) === '.' ? '' : path.posix.dirname(r.rel);
        const base = path.posix.basename(r.rel, path.posix.extname(r.rel));
        const words = fileNameWords(base, r.author);
        const captions = [];
        const card = playingCard(dir, base);
        if (card) captions.push(card);
        if (goodTitle(r)) captions.push(r.title);
        if (words.length && !card) captions.push(words.join(' '));
        if (goodDesc(r.description)) captions.push(r.description);
        const keywords = folderKeywords(dir, skipDirs);
        if (!byHash.has(r.hash)) {
            byHash.set(r.hash, { kind: r.kind, src: path.join(OPENCLIPART_ROOT, r.rel), rel: `${r.rel.replace(/\.png$/i, '')}.png`,
                captions: [], keywords: [], authors: [], dup: 0 });
        } else {
            byHash.get(r.hash).dup++;
        }
        const item = byHash.get(r.hash);
        item.captions.push(...captions);
        item.keywords.push(...keywords);
        if (r.author) item.authors.push(r.author);
    }
    const items = [];
    let dups = 0;
    const tooLarge = [];
    for (const it of byHash.values()) {
        dups += it.dup;
        if (!it.kind) { tooLarge.push(it.rel); continue; }
        const keywords = uniqueCaseless(it.keywords);
        let captions = uniqueCaseless(it.captions);
        if (!captions.length && keywords.length) captions = [keywords[keywords.length - 1]];
        items.push({ kind: it.kind, src: it.src, path: `openclipart/${it.rel}`, source: 'openclipart', captions, keywords,
            license: 'public domain', author: uniqueCaseless(it.authors).join('; ') || null });
    }
    report.push(`openclipart-png ${dpkgVersion('openclipart-png') || '?'}: ${files.length} PNG files, ${dups} duplicates `
        + `(the same picture linked under a second subject) merged, ${items.length} pairs`
        + (tooLarge.length ? `; left out as over ${MAX_MEGAPIXELS} megapixels: ${tooLarge.join(', ')}` : ''));
    return items;
}

// Tux Paint stamps: NAME.png or NAME.svg with NAME.txt beside it; the .txt's first line is the
// English description, the following "locale.utf8=text" lines are translations.
function tuxpaintItems(report) {
    if (!exists(TUXPAINT_ROOT)) {
        report.push(`tuxpaint-stamps-default: not installed (${TUXPAINT_ROOT} missing); skipped. Run packaging/install-deps.sh.`);
        return [];
    }
    const files = walk(TUXPAINT_ROOT);
    const stems = new Map();
    for (const f of files) {
        const m = /^(.*)\.(png|svg|txt)$/i.exec(f);
        if (!m) continue;
        if (!stems.has(m[1])) stems.set(m[1], new Set());
        stems.get(m[1]).add(m[2].toLowerCase());
    }
    const items = [];
    const tooLarge = [];
    let noText = 0, noImage = 0;
    for (const [stem, exts] of stems) {
        if (!exts.has('txt')) { noText++; continue; } // mirrored variants (NAME_mirror.png) have no text
        if (!exts.has('png') && !exts.has('svg')) { noImage++; continue; }
        const lines = fs.readFileSync(path.join(TUXPAINT_ROOT, `${stem}.txt`), 'utf8').split(/\r?\n/);
        const english = [];
        for (const line of lines) {
            const t = tidy(line);
            if (!t) continue;
            const loc = /^([A-Za-z_@]+)\.utf8=(.*)$/.exec(t);
            if (!loc) { if (!english.length) english.push(t); continue; }
            if (/^en(_|$)/.test(loc[1])) english.push(tidy(loc[2]));
        }
        if (!english.length) { noText++; continue; }
        const dir = path.posix.dirname(stem) === '.' ? '' : path.posix.dirname(stem);
        const base = path.posix.basename(stem);
        const nameWords = base.toLowerCase().split(/[\s_\-.]+/).map((t) => t.replace(/\d+$/, '')).filter((t) => t.length >= 2 && !/\d/.test(t));
        // Prefer the PNG where both exist: it is what every Tux Paint build shows.
        const kind = exts.has('png') ? rasterKind(pngHeader(path.join(TUXPAINT_ROOT, `${stem}.png`))) : 'svgfit';
        if (!kind) { tooLarge.push(`${stem}.png`); continue; }
        items.push({ kind, src: path.join(TUXPAINT_ROOT, `${stem}.${exts.has('png') ? 'png' : 'svg'}`), path: `tuxpaint/${stem}.png`,
            source: 'tuxpaint', captions: uniqueCaseless(english), keywords: uniqueCaseless([...folderKeywords(dir, new Set()), ...nameWords]),
            license: 'GPL-2.0', author: 'Tux Paint contributors (Bill Kendrick et al.)' });
    }
    report.push(`tuxpaint-stamps-default ${dpkgVersion('tuxpaint-stamps-default') || '?'}: ${items.length} pairs `
        + `(${items.filter((i) => i.kind === 'svgfit').length} from SVG), ${noText} images without text skipped`
        + (noImage ? `, ${noImage} texts without image` : '')
        + (tooLarge.length ? `; left out as over ${MAX_MEGAPIXELS} megapixels: ${tooLarge.join(', ')}` : ''));
    return items;
}

// Minimal ZIP reader (the .sh3f catalogues are ZIP files): name -> () => Buffer.
function readZip(file) {
    const buf = fs.readFileSync(file);
    let eocd = -1;
    for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
        if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
    }
    if (eocd < 0) throw new Error(`${file}: not a ZIP file`);
    const count = buf.readUInt16LE(eocd + 10);
    let p = buf.readUInt32LE(eocd + 16);
    const entries = new Map();
    for (let i = 0; i < count; i++) {
        if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: damaged central directory`);
        const method = buf.readUInt16LE(p + 10);
        const compSize = buf.readUInt32LE(p + 20);
        const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
        const local = buf.readUInt32LE(p + 42);
        const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
        if (compSize === 0xffffffff || local === 0xffffffff) throw new Error(`${file}: ZIP64 is not supported`);
        entries.set(name, () => {
            const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
            const data = buf.subarray(start, start + compSize);
            if (method === 0) return Buffer.from(data);
            if (method === 8) return zlib.inflateRawSync(data);
            throw new Error(`${file}: ${name}: compression method ${method} not supported`);
        });
        p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
}

// Java .properties (ISO-8859-1 with \uXXXX escapes, continuation lines).
function parseProperties(text) {
    const props = new Map();
    const lines = text.split(/\r\n|\r|\n/);
    for (let i = 0; i < lines.length; i++) {
        let line = lines[i].replace(/^[ \t\f]+/, '');
        if (!line || line[0] === '#' || line[0] === '!') continue;
        while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i].replace(/^[ \t\f]+/, '');
        let k = 0;
        while (k < line.length && !'=: \t\f'.includes(line[k])) k += line[k] === '\\' ? 2 : 1;
        const key = line.slice(0, k);
        let v = k;
        while (v < line.length && ' \t\f'.includes(line[v])) v++;
        if (v < line.length && '=:'.includes(line[v])) v++;
        while (v < line.length && ' \t\f'.includes(line[v])) v++;
        props.set(unescapeProp(key), unescapeProp(line.slice(v)));
    }
    return props;
}
function unescapeProp(s) {
    return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, e) => {
        if (e[0] === 'u' && e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
        return { t: '\t', n: '\n', r: '\r', f: '\f' }[e] ?? e;
    });
}

function sweethome3dItems(report, work) {
    if (!exists(SWEETHOME3D_ROOT)) {
        report.push(`sweethome3d-furniture: not installed (${SWEETHOME3D_ROOT} missing); skipped. Run packaging/install-deps.sh.`);
        return [];
    }
    const catalogs = fs.readdirSync(SWEETHOME3D_ROOT).filter((f) => f.endsWith('.sh3f')).sort();
    const items = [];
    const per = [];
    for (const file of catalogs) {
        const catalog = file.replace(/\.sh3f$/, '');
        let zip;
        try { zip = readZip(path.join(SWEETHOME3D_ROOT, file)); } catch (e) { report.push(`sweethome3d-furniture: ${e.message}; catalogue skipped`); continue; }
        const propsEntry = zip.get('PluginFurnitureCatalog.properties');
        if (!propsEntry) { report.push(`sweethome3d-furniture: ${file} has no PluginFurnitureCatalog.properties; skipped`); continue; }
        const props = parseProperties(propsEntry().toString('latin1'));
        const lic = SWEETHOME3D_LICENSES[catalog] || { license: 'see /usr/share/doc/sweethome3d-furniture/copyright', author: null };
        const indices = [...props.keys()].map((k) => /^id#(\d+)$/.exec(k)).filter(Boolean).map((m) => Number(m[1])).sort((a, b) => a - b);
        const usedNames = new Set();
        let n = 0;
        for (const i of indices) {
            const name = tidy(props.get(`name#${i}`));
            const icon = (props.get(`icon#${i}`) || '').replace(/^\/+/, '');
            if (!name || !icon || !zip.has(icon)) continue;
            const category = tidy(props.get(`category#${i}`));
            const tags = (props.get(`tags#${i}`) || '').split(',').map(tidy).filter((t) => t && !/^blend ?swap$/i.test(t));
            const creator = tidy(props.get(`creator#${i}`));
            const cached = path.join(work, 'sweethome3d', catalog, icon);
            if (!nonEmptyFile(cached)) writeFileBytes(cached, zip.get(icon)());
            let base = path.posix.basename(icon).replace(/\.[^.]+$/, '');
            if (usedNames.has(base)) base = `${base}-${i}`;
            usedNames.add(base);
            items.push({ kind: 'raster', src: cached, path: `sweethome3d/${catalog}/${base}.png`, source: 'sweethome3d',
                captions: uniqueCaseless([name, category ? `${name} (${category.toLowerCase()})` : null]),
                keywords: uniqueCaseless([category, ...tags].filter(Boolean).map((t) => t.toLowerCase())),
                license: lic.license, author: creator || lic.author });
            n++;
        }
        per.push(`${catalog} ${n}`);
    }
    report.push(`sweethome3d-furniture ${dpkgVersion('sweethome3d-furniture') || '?'}: ${items.length} pairs (${per.join(', ')})`);
    return items;
}

function writeFileBytes(file, bytes) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.part`, bytes);
    fs.renameSync(`${file}.part`, file);
}

// ---------------------------------------------------------------------------------------------
// plan-pairs

function planPairs(opts) {
    const out = path.resolve(opts.out);
    const quick = !!opts.quick, force = !!opts.force;
    const work = path.join(out, '.work');
    const report = [];
    const sources = {
        openclipart: openclipartItems(report),
        tuxpaint: tuxpaintItems(report),
        sweethome3d: sweethome3dItems(report, work),
    };
    const items = [];
    for (const [name, list] of Object.entries(sources)) {
        const chosen = quick ? spread(list, QUICK_PAIRS_PER_SOURCE) : list;
        if (quick && list.length) report.push(`${name}: quick subset of ${chosen.length}`);
        items.push(...chosen);
    }
    const jobs = [], dstFiles = [];
    let present = 0;
    for (const it of items) {
        const dst = path.join(out, 'pairs', it.path);
        if (!force && completePng(dst)) { present++; continue; }
        dstFiles.push(dst);
        jobs.push(jobLine(it.kind, it.src, dst));
    }
    makeDirs(dstFiles);
    const plan = {
        quick, sources: Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, v.length])), report,
        packages: Object.fromEntries(['openclipart-png', 'tuxpaint-stamps-default', 'sweethome3d-furniture'].map((p) => [p, dpkgVersion(p)])),
        items: items.map(({ kind, ...rest }) => rest),
    };
    writeFileAtomic(path.join(work, 'pairs-plan.json'), JSON.stringify(plan));
    writeFileAtomic(path.join(work, 'pairs-jobs.tsv'), jobs.join(''));
    for (const line of report) console.log(`  ${line}`);
    console.log(`  pairs: ${items.length} planned, ${present} already converted, ${jobs.length} to convert`);
}

// ---------------------------------------------------------------------------------------------
// PNG reading (8-bit RGB or RGBA, as rsvg-convert and ImageMagick write them) and writing (RGB)

function decodePng(buf) {
    if (buf.length < 33 || buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
    const width = buf.readUInt32BE(16), height = buf.readUInt32BE(20);
    const depth = buf[24], colorType = buf[25], interlace = buf[28];
    if (depth !== 8 || (colorType !== 2 && colorType !== 6) || interlace !== 0) {
        return { width, height, depth, colorType, pixels: null };
    }
    const bpp = colorType === 6 ? 4 : 3;
    const idat = [];
    let o = 8;
    while (o + 8 <= buf.length) {
        const len = buf.readUInt32BE(o);
        const type = buf.toString('latin1', o + 4, o + 8);
        if (type === 'IDAT') idat.push(buf.subarray(o + 8, o + 8 + len));
        if (type === 'IEND') break;
        o += 12 + len;
    }
    const raw = zlib.inflateSync(Buffer.concat(idat));
    const stride = width * bpp;
    if (raw.length < height * (stride + 1)) throw new Error('truncated image data');
    const px = Buffer.alloc(height * stride);
    for (let y = 0; y < height; y++) {
        const f = raw[y * (stride + 1)];
        const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
        const row = y * stride, up = row - stride;
        for (let x = 0; x < stride; x++) {
            const a = x >= bpp ? px[row + x - bpp] : 0;
            const b = y > 0 ? px[up + x] : 0;
            const c = x >= bpp && y > 0 ? px[up + x - bpp] : 0;
            let v = line[x];
            if (f === 1) v += a;
            else if (f === 2) v += b;
            else if (f === 3) v += (a + b) >> 1;
            else if (f === 4) {
                const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
                v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            } else if (f !== 0) throw new Error(`bad PNG filter ${f}`);
            px[row + x] = v & 255;
        }
    }
    return { width, height, depth, colorType, bpp, pixels: px };
}

const CRC_TABLE = (() => {
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        t[n] = c >>> 0;
    }
    return t;
})();
function crc32(bufs) {
    let c = 0xffffffff;
    for (const b of bufs) for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 255] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type, data) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32([head.subarray(4), data]), 0);
    return Buffer.concat([head, data, crc]);
}
// An 8-bit RGB PNG from rows of RGB (src: buffer, bpp 3 or 4, its row stride, the region to take).
function encodeRgbPng(src, bpp, srcStride, x0, y0, w, h) {
    const raw = Buffer.alloc(h * (w * 3 + 1));
    for (let y = 0; y < h; y++) {
        let o = y * (w * 3 + 1);
        raw[o++] = 0;
        for (let x = 0; x < w; x++) {
            const s = (y0 + y) * srcStride + (x0 + x) * bpp;
            raw[o++] = src[s]; raw[o++] = src[s + 1]; raw[o++] = src[s + 2];
        }
    }
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0);
    ihdr.writeUInt32BE(h, 4);
    ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
    return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), pngChunk('IHDR', ihdr),
        pngChunk('IDAT', zlib.deflateSync(raw, { level: 9 })), pngChunk('IEND', Buffer.alloc(0))]);
}

// Size, format and whether anything is drawn: blank = (almost) no pixel darker than near-white.
function inspectPng(file) {
    const img = decodePng(fs.readFileSync(file));
    if (!img.pixels || img.colorType !== 2) {
        return { ok: false, width: img.width, height: img.height, why: `bit depth ${img.depth}, colour type ${img.colorType} (want 8-bit RGB)` };
    }
    const px = img.pixels;
    let inked = 0;
    for (let i = 0; i < px.length; i += 3) if (Math.min(px[i], px[i + 1], px[i + 2]) < 245) inked++;
    const n = img.width * img.height;
    return { ok: true, width: img.width, height: img.height, inked, blank: inked < Math.max(4, n / 1000) };
}

// crop SHEET.png TILES: writes each tile listed in TILES (x, y, destination, ...) as its own PNG.
function crop(opts) {
    const [, sheetFile, tilesFile] = opts._;
    const size = Number(opts.size);
    const img = decodePng(fs.readFileSync(sheetFile));
    if (!img.pixels) die(`${sheetFile}: unexpected PNG format (bit depth ${img.depth}, colour type ${img.colorType})`);
    const stride = img.width * img.bpp;
    let n = 0;
    for (const line of fs.readFileSync(tilesFile, 'utf8').split('\n')) {
        if (!line) continue;
        const [x, y, dst] = line.split('\t');
        if (Number(x) + size > img.width || Number(y) + size > img.height) die(`${sheetFile}: tile ${x},${y} outside the sheet`);
        fs.writeFileSync(dst, encodeRgbPng(img.pixels, img.bpp, stride, Number(x), Number(y), size, size));
        n++;
    }
    if (process.env.DEMO_PROGRESS) fs.appendFileSync(process.env.DEMO_PROGRESS, '.'.repeat(n));
}

// ---------------------------------------------------------------------------------------------
// finalize

function finalize(opts) {
    const out = path.resolve(opts.out);
    const size = Number(opts.size);
    const work = path.join(out, '.work');
    const problems = [];
    const summary = {};

    // Leftovers of interrupted renders.
    for (const sub of ['emoji', 'pairs']) {
        if (!exists(path.join(out, sub))) continue;
        for (const f of walk(path.join(out, sub))) if (f.endsWith('.part')) fs.rmSync(path.join(out, sub, f));
    }

    const check = (file) => {
        if (!nonEmptyFile(file)) return 'missing';
        let r;
        try { r = inspectPng(file); } catch (e) { r = { ok: false, why: e.message }; }
        if (!r.ok) return r.why;
        if (r.width !== size || r.height !== size) return `size ${r.width}x${r.height}, want ${size}x${size}`;
        if (r.blank) return 'blank (nothing drawn on the white background)';
        return null;
    };

    // Emoji.
    const ep = readJson(path.join(work, 'emoji-plan.json'));
    const cls = new Map(ep.classes.map((c) => [c.class, c]));
    const lines = [];
    const perStyle = Object.fromEntries(ep.styles.map((s) => [s, 0]));
    const classesWithImages = new Set();
    for (const im of ep.images) {
        const file = path.join(out, 'emoji', im.path);
        const why = check(file);
        if (why) {
            problems.push(`emoji/${im.path}: ${why}`);
            if (why.startsWith('blank') || why.startsWith('size') || why.startsWith('bit depth')) fs.rmSync(file, { force: true });
            continue;
        }
        const c = cls.get(im.class);
        lines.push(JSON.stringify({ path: im.path, class: im.class, style: im.style, category: c.category, subcategory: c.subcategory,
            keywords: c.keywords, emoji: c.emoji, label: c.label, hexcode: c.hexcode }));
        perStyle[im.style]++;
        classesWithImages.add(im.class);
    }
    writeFileAtomic(path.join(out, 'emoji', 'manifest.jsonl'), lines.join('\n') + (lines.length ? '\n' : ''));
    fs.rmSync(path.join(work, 'sheets'), { recursive: true, force: true });
    const svgDir = path.join(work, 'svg');
    if (exists(svgDir)) {
        // The SVGs are only a means to the PNGs: keep those of failed renders for inspection.
        for (const im of ep.images) {
            const svg = path.join(svgDir, im.style, `${im.icon}.svg`);
            if (nonEmptyFile(path.join(out, 'emoji', im.path))) fs.rmSync(svg, { force: true });
        }
    }
    summary.emoji = { classes: classesWithImages.size, images: lines.length, perStyle };

    // Pairs.
    let pp = null;
    if (exists(path.join(work, 'pairs-plan.json')) && !opts['no-pairs']) {
        pp = readJson(path.join(work, 'pairs-plan.json'));
        const plines = [];
        const perSource = {};
        for (const it of pp.items) {
            const file = path.join(out, 'pairs', it.path);
            const why = check(file);
            if (why) {
                problems.push(`pairs/${it.path}: ${why} (from ${it.src})`);
                if (why.startsWith('blank') || why.startsWith('size') || why.startsWith('bit depth')) fs.rmSync(file, { force: true });
                continue;
            }
            plines.push(JSON.stringify({ path: it.path, source: it.source, captions: it.captions, keywords: it.keywords,
                license: it.license, author: it.author }));
            perSource[it.source] = (perSource[it.source] || 0) + 1;
        }
        writeFileAtomic(path.join(out, 'pairs', 'manifest.jsonl'), plines.join('\n') + (plines.length ? '\n' : ''));
        summary.pairs = { total: plines.length, perSource, report: pp.report };
    }

    // Images from an earlier build with other options (say a full build, then --quick) stay on disk
    // but are not in the manifests; say so, as a folder-per-class reader would see them.
    const planned = new Set([...ep.images.map((im) => `emoji/${im.path}`), ...(pp ? pp.items.map((it) => `pairs/${it.path}`) : [])]);
    const stale = [];
    for (const sub of ['emoji', 'pairs']) {
        if (!exists(path.join(out, sub)) || (sub === 'pairs' && !pp)) continue;
        for (const f of walk(path.join(out, sub))) if (f.endsWith('.png') && !planned.has(`${sub}/${f}`)) stale.push(`${sub}/${f}`);
    }
    summary.stale = stale.length;
    summary.problems = problems;

    writeFileAtomic(path.join(out, 'README.md'), readme(ep, pp, summary, opts));
    writeFileAtomic(path.join(work, 'check-problems.txt'), problems.join('\n') + (problems.length ? '\n' : ''));

    console.log(`  emoji: ${summary.emoji.classes} classes, ${Object.values(perStyle).filter(Boolean).length} styles, `
        + `${summary.emoji.images} images in emoji/manifest.jsonl`);
    console.log(`    per style: ${Object.entries(perStyle).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    if (summary.pairs) {
        console.log(`  pairs: ${summary.pairs.total} in pairs/manifest.jsonl (${Object.entries(summary.pairs.perSource).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})`);
    }
    if (problems.length) {
        console.log(`  ${problems.length} image(s) left out of the manifests (failed render, blank or wrong format):`);
        for (const p of problems.slice(0, 30)) console.log(`    ${p}`);
        if (problems.length > 30) console.log(`    ... all ${problems.length} in ${path.join(work, 'check-problems.txt')}`);
    }
    if (stale.length) {
        console.log(`  warning: ${stale.length} PNG file(s) under ${out} are not part of this build (left by an earlier build `
            + `with other options), e.g. ${stale[0]}; --force rebuilds from scratch`);
    }
    // Last line for the shell: the number of images left out.
    console.log(`LEFT_OUT=${problems.length}`);
}

function readme(ep, pp, summary, opts) {
    const L = [];
    L.push('# SEP Studio demo data', '');
    L.push('Built by `packaging/build-demo-data.sh` from free emoji artwork (npm) and clip art from Debian packages.');
    L.push(`Built on ${new Date().toISOString().slice(0, 10)} with:`, '', '```', opts.command || 'packaging/build-demo-data.sh', '```', '');
    L.push('Nothing here is committed to the repository; run the command again to rebuild (finished images are kept; '
        + '`--force` starts from scratch).', '');
    L.push('## emoji/', '');
    L.push(`${summary.emoji.classes} classes × up to ${ep.styles.length} styles = ${summary.emoji.images} images, `
        + `${ep.size}×${ep.size} RGB PNG on white, at \`emoji/<class>/<style>.png\`.`
        + (ep.quick ? ` Quick build: ${ep.classes.length} of ${ep.stats.classesAll} classes, ${ep.styles.length} styles.` : ''), '');
    L.push('`emoji/manifest.jsonl` has one JSON object per image: `path` (relative to `emoji/`), `class`, `style`, '
        + '`category`, `subcategory` (CLDR group and subgroup), `keywords` (CLDR annotations), `emoji`, plus `label` '
        + '(the exact CLDR name) and `hexcode`.', '');
    L.push('Classes: the icon names present in all seven core sets '
        + `(${CORE_SETS.join(', ')}): ${ep.stats.candidates} names, ${ep.stats.skippedDuplicates.length} dropped as another name `
        + `for the same emoji, ${ep.stats.skippedSkinTone.length} skin-tone variants dropped (the Fluent sets have no skin-tone `
        + 'variants and no flags, so neither reaches the intersection; skin-tone variants would be dropped anyway). '
        + 'Iconify names are CLDR names (lower case, hyphens); '
        + `${ep.stats.byLabel} matched an emojibase label directly and ${ep.stats.byCodepoint} through their codepoint `
        + `(Iconify kept an older CLDR name: ${ep.classes.filter((c) => c.match === 'codepoint').map((c) => `${c.icon} = ${c.label}`).join(', ') || 'none in this build'}), `
        + `${ep.stats.unmatched.length} did not match. The class folder is the current CLDR name in lower case with punctuation `
        + 'removed ("red apple", "keycap asterisk", "woman\'s hat"). The other sets are drawn for every class they have '
        + 'under the same name. `--quick` takes 300 classes spread evenly over the CLDR order (so over all categories) '
        + `and the styles ${QUICK_STYLES.join(', ')}.`, '');
    L.push('| style | set | version | licence | author | images |', '|---|---|---|---|---|---|');
    for (const s of ep.sets) {
        const lic = s.license.url ? `[${s.license.title || s.license.spdx}](${s.license.url})` : (s.license.title || '?');
        const au = s.author.url ? `[${s.author.name}](${s.author.url})` : (s.author.name || '?');
        L.push(`| \`${s.prefix}\`${s.core ? ' (core)' : ''} | ${s.name}${s.upstreamVersion ? ` ${s.upstreamVersion}` : ''} `
            + `| @iconify-json/${s.prefix}@${s.version} | ${lic} | ${au} | ${summary.emoji.perStyle[s.prefix]} |`);
    }
    L.push('', `CLDR names, categories and keywords: [emojibase-data](https://emojibase.dev) ${ep.emojibase.version} (MIT, Miles Johnson), `
        + 'from Unicode CLDR data ([Unicode licence](https://www.unicode.org/license.txt)).', '');
    L.push('Attribution: the CC BY and CC BY-SA sets require crediting their authors (table above); CC BY-SA also requires '
        + 'sharing adapted images under the same licence.', '');
    if (pp) {
        L.push('## pairs/', '');
        L.push(`${summary.pairs.total} image–text pairs for pretraining, ${ep.size}×${ep.size} RGB PNG on white (aspect kept, `
            + 'padded to a square), at `pairs/<source>/...`. `pairs/manifest.jsonl` has one JSON object per image: `path` '
            + '(relative to `pairs/`), `source`, `captions` (list of texts), `keywords`, `license`, `author`.'
            + (pp.quick ? ` Quick build: at most ${QUICK_PAIRS_PER_SOURCE} per source, spread evenly.` : ''), '');
        L.push('| source | Debian package | licence | pairs | captions from |', '|---|---|---|---|---|');
        const ver = (p) => pp.packages[p] || 'not installed';
        const n = (s) => summary.pairs.perSource[s] || 0;
        L.push(`| openclipart | openclipart-png ${ver('openclipart-png')} | public domain (openclipart.org) | ${n('openclipart')} | `
            + 'the title and description stored in each PNG (titles shared by many files name a collection and are left '
            + 'out), the file name without author names and numbers; keywords: the subject folders. Identical files are '
            + 'merged. |');
        L.push(`| tuxpaint | tuxpaint-stamps-default ${ver('tuxpaint-stamps-default')} | GPL-2.0 (Tux Paint contributors) | ${n('tuxpaint')} | `
            + 'the English description in the `.txt` beside each stamp; keywords: folders and file name |');
        L.push(`| sweethome3d | sweethome3d-furniture ${ver('sweethome3d-furniture')} | CC0, CC BY 3.0, CC BY 3.0 US per catalogue `
            + `(see /usr/share/doc/sweethome3d-furniture/copyright) | ${n('sweethome3d')} | the catalogue names and categories `
            + '(`PluginFurnitureCatalog.properties` in each `.sh3f`); keywords: category and tags |');
        L.push('', 'Notes from the build:', '');
        for (const r of pp.report) L.push(`- ${r}`);
        L.push('');
    }
    L.push('## Checks', '');
    L.push(`Every image is checked after drawing: ${ep.size}×${ep.size}, 8-bit RGB, and not blank (at least 0.1% of its `
        + 'pixels darker than near-white). Images that fail are left out of the manifests (blank ones are deleted: '
        + 'white artwork on a transparent background, or an empty source file). '
        + `${summary.problems.length} left out in this build${summary.problems.length ? ':' : '.'}`, '');
    for (const p of summary.problems.slice(0, 40)) L.push(`- ${p}`);
    if (summary.problems.length > 40) L.push(`- ... (${summary.problems.length - 40} more in .work/check-problems.txt)`);
    if (summary.problems.length) L.push('');
    return L.join('\n');
}

// ---------------------------------------------------------------------------------------------

const opts = parseArgs(process.argv.slice(2));
const cmd = opts._[0];
if (cmd === 'plan-emoji') planEmoji(opts);
else if (cmd === 'plan-pairs') planPairs(opts);
else if (cmd === 'finalize') finalize(opts);
else if (cmd === 'crop') crop(opts);
else die(`unknown step '${cmd}' (plan-emoji, plan-pairs, finalize, crop)`);
