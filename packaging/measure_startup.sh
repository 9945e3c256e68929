#!/usr/bin/env bash
# Time from launching PhotoSort to its main window being mapped on an X display.
#
#   packaging/measure_startup.sh [COMMAND...]      (default: dist/photosort/photosort)
#
# Runs the app RUNS times (default 5) under Xvfb (started here unless DISPLAY is set; needs
# `apt-get install xvfb xdotool`), in a clean environment with a throwaway HOME, and prints each
# time and the median. The first run includes a cold file cache only if the caches were dropped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-5}"
if (($# == 0)); then
  set -- "$ROOT/dist/photosort/photosort"
fi
command -v xdotool >/dev/null || { echo "needs xdotool (apt-get install xdotool)"; exit 2; }

xvfb_pid=""
home=""
cleanup() {
  if [[ -n "$xvfb_pid" ]]; then kill "$xvfb_pid" 2>/dev/null || true; wait "$xvfb_pid" 2>/dev/null || true; fi
  [[ -n "$home" ]] && rm -rf "$home"
}
trap cleanup EXIT
if [[ -z "${DISPLAY:-}" ]]; then
  command -v Xvfb >/dev/null || { echo "needs Xvfb (apt-get install xvfb)"; exit 2; }
  # A free display number, chosen by Xvfb itself and written to the file once it is ready.
  dfile=$(mktemp)
  Xvfb -displayfd 3 -screen 0 1600x1000x24 -nolisten tcp 3>"$dfile" >/dev/null 2>&1 &
  xvfb_pid=$!
  for _ in $(seq 100); do [[ -s "$dfile" ]] && break; sleep 0.05; done
  export DISPLAY=":$(tr -d '[:space:]' <"$dfile")"
  rm -f "$dfile"
  xdotool getdisplaygeometry >/dev/null || { echo "Xvfb did not start"; exit 2; }
fi

home=$(mktemp -d /tmp/photosort-startup-home.XXXXXX)
times=()
failed=0
for i in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  env -i "PATH=/usr/bin:/bin" "HOME=$home" "LANG=C.UTF-8" "DISPLAY=$DISPLAY" \
    "QT_QPA_PLATFORM=xcb" "$@" >/dev/null 2>"$home/stderr.txt" &
  app=$!
  # Poll (xdotool's own --sync sometimes missed a window that was already mapped).
  end=""
  for _ in $(seq 3000); do
    if xdotool search --onlyvisible --pid "$app" --name PhotoSort >/dev/null 2>&1; then
      end=$(date +%s.%N)
      break
    fi
    kill -0 "$app" 2>/dev/null || break # it exited (e.g. could not connect to the display)
    sleep 0.01
  done
  if [[ -z "$end" ]]; then
    echo "run $i: no window (within 30 s, or the app exited):"; sed 's/^/    /' "$home/stderr.txt"
    kill "$app" 2>/dev/null || true
    wait "$app" 2>/dev/null || true
    failed=$((failed + 1))
    continue
  fi
  kill "$app" 2>/dev/null || true
  wait "$app" 2>/dev/null || true
  t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  times+=("$t")
  echo "run $i: window shown after $t s"
done
((${#times[@]})) && printf '%s\n' "${times[@]}" | sort -n |
  awk '{ a[NR] = $1 } END { printf "median: %.2f s over %d runs\n", a[int((NR + 1) / 2)], NR }'
((failed == 0)) || { echo "$failed run(s) showed no window"; exit 1; }
