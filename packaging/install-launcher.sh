#!/usr/bin/env bash
# Add (or with --remove, remove) a PhotoSort launcher with its icon to the desktop's menu, for the
# bundle in this script's folder: the same .desktop entry and icons as `pip install` users get,
# with Exec pointing at this bundle. Per user, nothing needs root.
#
#   ./install-launcher.sh [--remove]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
APP_ID="io.github.photosort.PhotoSort"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
RES="$HERE/_internal/resources"
SIZES="16 24 32 48 64 128 256 512"

if [[ "${1:-}" == "--remove" ]]; then
  rm -f "$DATA/applications/$APP_ID.desktop"
  for n in $SIZES; do rm -f "$DATA/icons/hicolor/${n}x${n}/apps/$APP_ID.png"; done
  echo "PhotoSort launcher removed"
  exit 0
fi

[[ -x "$HERE/photosort" && -d "$RES" ]] || { echo "run me from the PhotoSort bundle folder"; exit 1; }
mkdir -p "$DATA/applications"
sed "s|^Exec=.*|Exec=\"$HERE/photosort\" %f|" "$RES/$APP_ID.desktop" >"$DATA/applications/$APP_ID.desktop"
for n in $SIZES; do
  mkdir -p "$DATA/icons/hicolor/${n}x${n}/apps"
  cp "$RES/icons/hicolor/${n}x${n}/apps/$APP_ID.png" "$DATA/icons/hicolor/${n}x${n}/apps/"
done
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$DATA/icons/hicolor" || true
echo "PhotoSort launcher installed: $DATA/applications/$APP_ID.desktop"
