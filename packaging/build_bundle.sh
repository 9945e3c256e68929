#!/usr/bin/env bash
# Build the one-folder PhotoSort bundle (dist/photosort/) and check it, as a user would run it.
#
#   packaging/build_bundle.sh            (or: make bundle)
#
# 1. creates a build venv (default /tmp/photosort-bundle-venv; BUNDLE_VENV=... to choose) and
#    installs PhotoSort non-editable with the versions pinned in packaging/requirements-bundle.txt,
#    PyInstaller included;
# 2. runs PyInstaller on photosort.spec (nice'd: it shares the machine);
# 3. reports the bundle's size and its largest parts, and checks no library is missing;
# 4. runs `dist/photosort/photosort --version` and `--selftest` (with the UMAP map check) from an
#    empty environment (`env -i`, a minimal PATH, no venv, no PYTHONPATH/PYTHONHOME) and a
#    throwaway HOME, and checks that an encoder dropped into the user's models folder is found
#    without rebuilding.
# Timings of each step are printed at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${BUNDLE_VENV:-/tmp/photosort-bundle-venv}"
DIST="${BUNDLE_DIST:-$ROOT/dist}"
WORK="${BUNDLE_WORK:-$ROOT/build/pyinstaller}"
BUNDLE="$DIST/photosort"
MAX_MB="${BUNDLE_MAX_MB:-250}"
NICE="nice -n 10"

cd "$ROOT"
t0=$(date +%s)
step() { printf '\n== %s\n' "$*"; }

# The system packages the size measures and the checks below need (Debian/Ubuntu names): LLVM's
# static libraries for the x86-64-only llvmlite, cmake and a compiler for it and for UPX, icupkg
# for the ICU data, Xvfb and xdotool for the window check, and the X11 libraries Qt's xcb
# plugin loads (a bare machine has none of them: the window check then fails, as the app would
# on a desktop without them). Installed here when missing and we may (root with apt-get);
# PHOTOSORT_BUNDLE_NO_APT=1 skips this (the bundle then comes out ~110 MB larger, and the
# script says which measure it could not apply).
SYSTEM_PACKAGES=(llvm-22-dev libzstd-dev cmake build-essential icu-devtools xvfb xdotool
  libegl1 libgl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libx11-xcb1 libfontconfig1)
if [[ "${PHOTOSORT_BUNDLE_NO_APT:-}" != 1 ]] && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
  missing=()
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    step "system packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
      || echo "could not install ${missing[*]}: continuing without them"
  fi
fi

step "build venv $VENV"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
# Always reinstall PhotoSort itself (non-editable: what users get), pins for everything else.
$NICE "$VENV/bin/pip" install --quiet --disable-pip-version-check \
  -c packaging/requirements-bundle.txt pyinstaller .
$NICE "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall .
tv=$(date +%s)

# The two size measures that need tools built here (docs/bundle.md): llvmlite's LLVM for x86-64
# only, and UPX. Both are cached under $CACHE; without them the spec ships the originals.
CACHE="${BUNDLE_CACHE:-$ROOT/build/bundle-cache}"
mkdir -p "$CACHE"
export PHOTOSORT_BUNDLE_LLVMLITE="" PHOTOSORT_BUNDLE_UPX="" PHOTOSORT_BUNDLE_CACHE="$CACHE"
if [[ "${PHOTOSORT_BUNDLE_NO_MAP:-}" != 1 && "${PHOTOSORT_BUNDLE_SLIM_LLVMLITE:-1}" == 1 ]]; then
  step "llvmlite for x86-64 only"
  llv=$("$VENV/bin/python" -c "import llvmlite; print(llvmlite.__version__)")
  slim="$CACHE/llvmlite-$llv"
  if [[ ! -f "$slim/libllvmlite.so" ]]; then
    $NICE "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps \
      --no-binary :all: -d "$slim" "llvmlite==$llv" || true
    "$VENV/bin/python" packaging/slim_llvmlite.py "$slim/llvmlite-$llv.tar.gz" "$slim" || true
  fi
  [[ -f "$slim/libllvmlite.so" ]] && PHOTOSORT_BUNDLE_LLVMLITE="$slim/libllvmlite.so"
  echo "libllvmlite.so: ${PHOTOSORT_BUNDLE_LLVMLITE:-as in the wheel (see above)}"
fi
if [[ "${PHOTOSORT_BUNDLE_COMPRESS:-1}" == 1 ]]; then
  step "UPX"
  if out=$(bash packaging/build_upx.sh "$CACHE/upx"); then
    PHOTOSORT_BUNDLE_UPX=$(tail -1 <<<"$out")
  fi
  echo "upx: ${PHOTOSORT_BUNDLE_UPX:-none, libraries stay uncompressed}"
fi
t1=$(date +%s)

step "PyInstaller $("$VENV/bin/pyinstaller" --version) on photosort.spec"
$NICE "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" photosort.spec
t2=$(date +%s)
install -m 755 packaging/install-launcher.sh "$BUNDLE/install-launcher.sh"

step "size"
size_mb=$(du -sm "$BUNDLE" | cut -f1)
echo "bundle: $BUNDLE ${size_mb} MB on disk (target <= ${MAX_MB} MB)"
echo "largest parts:"
(cd "$BUNDLE/_internal" && du -sm -- * | sort -rn | awk 'NR <= 12 { print "  " $0 }')
echo "largest files:"
find "$BUNDLE" -type f -printf '%s %P\n' | sort -rn |
  awk 'NR <= 8 { printf "  %6.1f MB  %s\n", $1 / 1048576, $2 }'

step "missing libraries"
missing=$(find "$BUNDLE/_internal" \( -name '*.so' -o -name '*.so.*' \) -print0 |
  LD_LIBRARY_PATH="$BUNDLE/_internal" xargs -0 ldd 2>/dev/null | grep 'not found' | sort -u || true)
if [[ -n "$missing" ]]; then
  echo "$missing"
  echo "(libraries a user's desktop provides, e.g. GTK for the native file dialog, may be listed)"
else
  echo "none"
fi

step "run from a clean environment"
home=$(mktemp -d /tmp/photosort-bundle-home.XXXXXX)
trap 'rm -rf "$home"' EXIT
clean_env=(env -i "PATH=/usr/bin:/bin" "HOME=$home" "LANG=C.UTF-8")
"${clean_env[@]}" "$BUNDLE/photosort" --version
"${clean_env[@]}" "$BUNDLE/photosort" models
s0=$(date +%s.%N)
full=1
[[ "${PHOTOSORT_BUNDLE_NO_MAP:-}" == 1 ]] && full=0
"${clean_env[@]}" "PHOTOSORT_SELFTEST_FULL=$full" "$BUNDLE/photosort" --selftest
s1=$(date +%s.%N)

step "HEIC decoding (the bundle's libx265 is a stub: it decodes, it cannot encode)"
# A HEIC written outside the bundle (the build venv's pillow-heif has the real encoder), and a
# truncated copy: the bundle must index the first and skip the second as damaged.
mkdir -p "$home/heic/good" "$home/heic/bad"
"$VENV/bin/python" - "$home/heic" <<'PY'
import sys
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()
folder = Path(sys.argv[1])
pixels = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
Image.fromarray(pixels, "RGB").save(folder / "good" / "photo.heic", quality=90)
data = (folder / "good" / "photo.heic").read_bytes()
(folder / "bad" / "photo.heic").write_bytes(data[: len(data) // 2])
PY
"${clean_env[@]}" "$BUNDLE/photosort" index "$home/heic/good" --db "$home/heic/good.db" |
  tee "$home/heic/good.txt"
grep -q "1 indexed,.* 0 skipped" "$home/heic/good.txt" || { echo "HEIC not decoded"; exit 1; }
"${clean_env[@]}" "$BUNDLE/photosort" index "$home/heic/bad" --db "$home/heic/bad.db" \
  2>&1 | tee "$home/heic/bad.txt"
grep -q "0 indexed,.* 1 skipped" "$home/heic/bad.txt" || { echo "damaged HEIC not skipped"; exit 1; }

step "the default encoder: sort (query expansion) and duplicates to the trash"
# The shipped sample photos, an exact copy of one and a smaller re-compressed copy of another.
# `sort --json` must give the same order as the installed package in the build venv (the same
# encoder, query expansion and ranking code); `duplicates --trash` must group both copies and
# move them to the throwaway HOME's trash (send2trash), leaving the originals.
mkdir -p "$home/dups"
cp resources/samples/*.jpg "$home/dups/"
cp "$home/dups/jolla.jpg" "$home/dups/jolla-copy.jpg"
"$VENV/bin/python" - "$home/dups" <<'PY'
import sys
from pathlib import Path

from PIL import Image

folder = Path(sys.argv[1])
with Image.open(folder / "Wine_by_Jakkub_Mede.jpg") as img:
    img.convert("RGB").resize((img.width * 3 // 4, img.height * 3 // 4)).save(
        folder / "wine-smaller.jpg", quality=70
    )
PY
default=$("${clean_env[@]}" "$BUNDLE/photosort" models | awk '/^\*/ { print $2; exit }')
echo "default encoder: ${default:-?}"
like="$home/dups/sunset_by_Aitzol_Berasategi.jpg"
"${clean_env[@]}" "$BUNDLE/photosort" sort "$home/dups" --like "$like" --json \
  --db "$home/dups-bundle.db" >"$home/sort-bundle.json"
"${clean_env[@]}" "$VENV/bin/python" -m photosort sort "$home/dups" --like "$like" --json \
  --db "$home/dups-venv.db" >"$home/sort-venv.json"
"$VENV/bin/python" - "$home/sort-bundle.json" "$home/sort-venv.json" <<'PY'
import json, sys
bundle, venv = ([row["path"] for row in json.load(open(p))] for p in sys.argv[1:3])
if bundle != venv:
    sys.exit(f"the bundle's order differs from the installed package's:\n{bundle}\n{venv}")
print(f"same order as the installed package, {len(bundle)} photos; first three:",
      ", ".join(p.rsplit("/", 1)[-1] for p in bundle[:3]))
PY
"${clean_env[@]}" "$BUNDLE/photosort" duplicates "$home/dups" --trash --db "$home/dups-bundle.db" |
  tee "$home/dups.txt"
trash="$home/.local/share/Trash/files"
for copy in jolla-copy.jpg wine-smaller.jpg; do
  [[ -f "$trash/$copy" && ! -e "$home/dups/$copy" ]] || { echo "$copy not in $trash"; exit 1; }
done
[[ -f "$home/dups/jolla.jpg" && -f "$home/dups/Wine_by_Jakkub_Mede.jpg" ]] ||
  { echo "an original went to the trash"; exit 1; }
echo "both copies in the trash ($trash), the originals in place"

step "a user encoder, added without rebuilding"
user_models="$home/.local/share/PhotoSort/models"
mkdir -p "$user_models"
"$PYTHON" - models/pixels-8x8.json "$user_models" <<'PY'
import json, pathlib, shutil, sys
src, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
m = json.loads(src.read_text())
m.update(id="my-encoder", name="My encoder", encoder="my-encoder.onnx", default=False)
(dest / "my-encoder.json").write_text(json.dumps(m))
shutil.copy(src.with_suffix(".onnx"), dest / "my-encoder.onnx")
PY
"${clean_env[@]}" "$BUNDLE/photosort" models | tee "$home/models.txt"
grep -q "my-encoder" "$home/models.txt" || { echo "user encoder not found"; exit 1; }
# The desktop launcher for bundle users, into the throwaway HOME.
"${clean_env[@]}" "$BUNDLE/install-launcher.sh"
grep -q "^Exec=\"$BUNDLE/photosort\" %f" "$home/.local/share/applications/io.github.photosort.PhotoSort.desktop"
# The self-test loads, indexes and sorts with every installed encoder: the user's one too.
s2=$(date +%s.%N)
"${clean_env[@]}" "$BUNDLE/photosort" --selftest
s3=$(date +%s.%N)

step "the window on X11 (Xvfb): the xcb plugin and the UPX-packed Qt libraries behind it"
# The self-test's window is offscreen; this opens the app as a user would, on an X server.
if command -v Xvfb >/dev/null && command -v xdotool >/dev/null; then
  # Up to 3 runs: Xvfb's socket is sometimes refused on this shared machine.
  RUNS=3 bash packaging/measure_startup.sh "$BUNDLE/photosort" | tee "$home/x11.txt" || true
  grep -q "window shown" "$home/x11.txt" || { echo "no window on X11"; exit 1; }
else
  echo "skipped (needs Xvfb and xdotool: apt-get install xvfb xdotool)"
fi
t3=$(date +%s)

step "timings"
echo "venv + install: $((tv - t0)) s"
echo "llvmlite + upx: $((t1 - tv)) s"
echo "PyInstaller:    $((t2 - t1)) s"
echo "checks:         $((t3 - t2)) s"
awk -v a="$s0" -v b="$s1" -v c="$s2" -v d="$s3" 'BEGIN {
  printf "selftest with UMAP (first compile): %.1f s; plain selftest: %.1f s\n", b - a, d - c }'
echo "total:          $((t3 - t0)) s"
if ((size_mb > MAX_MB)); then
  echo "NOTE: the bundle is ${size_mb} MB, over the ${MAX_MB} MB target (see docs/bundle.md)"
fi
echo "bundle OK: $BUNDLE"
