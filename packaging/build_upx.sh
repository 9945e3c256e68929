#!/usr/bin/env bash
# Provide UPX 4.2.4 (the executable packer the bundle uses for its large libraries) and print its
# path on the last line.
#
#   packaging/build_upx.sh WORKDIR
#
# Uses `upx` from PATH when it is version 4.2.4 (Debian 13: apt-get install upx-ucl). Debian 12
# has no UPX package, so otherwise this fetches Debian's upx-ucl 4.2.4 source with apt (trixie's
# source index, in a private apt configuration under WORKDIR: the system's apt sources are not
# touched), checks its SHA-256 and builds it with cmake (~1 min; needs cmake and a C++ compiler).
# Exits non-zero when neither works; the spec then ships the libraries uncompressed.
set -euo pipefail

VERSION=4.2.4
ORIG="upx-ucl_${VERSION}.orig.tar.xz"
SHA256=5ed6561607d27fb4ef346fc19f08a93696fa8fa127081e7a7114068306b8e1c4
WORK="${1:?usage: build_upx.sh WORKDIR}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

if command -v upx >/dev/null && upx --version 2>/dev/null | head -1 | grep -qx "upx $VERSION"; then
  command -v upx
  exit 0
fi
bin="$WORK/upx-$VERSION-src/build/upx"
if [[ -x "$bin" ]] && "$bin" --version | head -1 | grep -qx "upx $VERSION"; then
  echo "$bin"
  exit 0
fi

if [[ ! -f "$WORK/$ORIG" ]]; then
  apt="$WORK/apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    >"$apt/sources.list"
  opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=/dev/null"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "Dir::State::status=/dev/null")
  apt-get "${opts[@]}" -qq update >&2
  # Only the upstream tarball is needed (the .dsc is not always on the mirror): ignore the rest.
  (cd "$WORK" && apt-get "${opts[@]}" -qq source --download-only "upx-ucl=$VERSION-1.1" \
    >"$WORK/apt-source.log" 2>&1 || true)
fi
[[ -f "$WORK/$ORIG" ]] || { echo "build_upx: could not fetch $ORIG" >&2; exit 1; }
echo "$SHA256  $WORK/$ORIG" | sha256sum -c --quiet - >&2
rm -rf "$WORK/upx-$VERSION-src"
tar -xJf "$WORK/$ORIG" -C "$WORK"
mkdir -p "$WORK/upx-$VERSION-src/build"
cd "$WORK/upx-$VERSION-src/build"
nice -n 10 cmake -DCMAKE_BUILD_TYPE=Release -DUPX_CONFIG_DISABLE_WERROR=ON .. >/dev/null
nice -n 10 cmake --build . --target upx -j "${PHOTOSORT_BUNDLE_JOBS:-2}" >/dev/null
"$bin" --version | head -1 >&2
echo "$bin"
