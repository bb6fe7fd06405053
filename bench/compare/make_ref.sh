#!/usr/bin/env bash
# bench/compare/make_ref.sh REF_TREE [SET...]   (default sets: samples realdata bench10)
#
# Builds the reference outputs with REF_TREE (a clone of the release to compare with, with its own .venv:
# `git clone . /tmp/ref && git -C /tmp/ref checkout REV && make -C /tmp/ref install`) into
# $COMPARE_WORK/ref/<set>/ (default bench/work/compare/ref), with the same build_set.sh that compare.sh uses,
# and records what the references depend on in ref/_meta/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${COMPARE_WORK:-$HERE/../work/compare}
[ $# -ge 1 ] || { sed -n '2,7p' "$0"; exit 2; }
BASE=$(cd "$1" && pwd); shift
SETS=("$@"); [ ${#SETS[@]} -gt 0 ] || SETS=(samples realdata bench10)
mkdir -p "$WORK/ref/_meta"
date -u +%F > "$WORK/ref/_meta/date"
git -C "$BASE" rev-parse HEAD > "$WORK/ref/_meta/commit"
echo "$BASE" > "$WORK/ref/_meta/tree"
cp "$BASE/sources.yaml" "$WORK/ref/_meta/sources.yaml"
(cd "$BASE" && find samples -type f | sort | xargs sha256sum) > "$WORK/ref/_meta/samples.sha256"
for set in "${SETS[@]}"; do
  bash "$HERE/build_set.sh" "$BASE" "$set" "$WORK/ref"
done
