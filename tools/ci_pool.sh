#!/usr/bin/env bash
# Run commands on a pool of workers (two: one per core of the CI machine). A free worker takes the
# next command nobody has taken, in the order given, so no core idles while a command is left:
# give the longest first. Each command's output is printed whole, between [ci] >>> and <<< lines
# with its exit status and seconds, when it ends (two outputs never interleave).
#
# Exit status 0 when every command exited 0; otherwise 1, after one line per command that failed.
# pytest's exit 5 (it collected no tests) is a failure. After a failure no worker starts another
# command; the ones running finish, and an interrupted pool stops its commands' process trees.
#
# Usage: tools/ci_pool.sh [-j WORKERS] COMMAND...      (each COMMAND is run by bash -euo pipefail -c)
set -euo pipefail

workers=2
if [ "${1:-}" = -j ]; then
  workers="$2"
  shift 2
fi
if [ $# -eq 0 ] || ! [ "$workers" -ge 1 ] 2>/dev/null; then
  echo "usage: $0 [-j WORKERS] COMMAND..." >&2
  exit 2
fi
commands=("$@")
dir="$(mktemp -d "${TMPDIR:-/tmp}/ci-pool.XXXXXX")"

worker() {
  local i rc start
  for i in "${!commands[@]}"; do
    [ ! -e "$dir/failed" ] || return 0
    mkdir "$dir/taken.$i" 2>/dev/null || continue # mkdir is atomic: one worker gets each command
    start=$SECONDS
    rc=0
    bash -euo pipefail -c "${commands[$i]}" >"$dir/log.$i" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || : >"$dir/failed"
    {
      flock 9
      echo "[ci] >>> ${commands[$i]}"
      cat "$dir/log.$i"
      echo "[ci] <<< exit $rc after $((SECONDS - start)) s: ${commands[$i]}"
    } 9>"$dir/print.lock"
    echo "$rc" >"$dir/exit.$i"
  done
}

kill_tree() {
  local child
  for child in $(pgrep -P "$1"); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}

pids=()
trap 'for pid in "${pids[@]}"; do kill_tree "$pid"; done; rm -rf "$dir"' EXIT
for ((w = 0; w < workers; w++)); do
  worker &
  pids+=("$!")
done
wait "${pids[@]}"

status=0
for i in "${!commands[@]}"; do
  rc="$(cat "$dir/exit.$i" 2>/dev/null || echo none)"
  case "$rc" in
    0) ;;
    5) echo "[ci] pytest collected no tests (exit 5): ${commands[$i]}" >&2 ;;
    none) echo "[ci] not started after a failure: ${commands[$i]}" >&2 ;;
    *) echo "[ci] failed (exit $rc): ${commands[$i]}" >&2 ;;
  esac
  [ "$rc" = 0 ] || status=1
done
exit "$status"
