#!/usr/bin/env bash
# bench/compare/compare.sh TREE [SET...]
#
# Rebuilds each SET (default: samples realdata bench10; also: bench100) with TREE/.venv/bin/decp, offline, on
# fresh data dirs, into $COMPARE_WORK/new/<set>/ (default bench/work/compare/new), then diffs it file by file
# against the references $COMPARE_WORK/ref/<set>/ made by make_ref.sh from another tree (the release to compare
# with). A file is `identical` (byte for byte), `same` (byte-identical once report.json's generated_at and
# build_fingerprint are masked: diff_outputs.py says why), or DIFFERS with a summary. The exit code and the
# printed count table are compared too. Exit 0 when every set is identical, 1 when any differs, 2 on a usage
# error. The diff runs with the reference tree's Python ($COMPARE_PYTHON), never the tree under test.
#
#   bench/compare/make_ref.sh /tmp/ref-0.11.0            # once: the references
#   bench/compare/compare.sh .                           # samples, realdata, bench10 (about 1.5 min)
#   bench/compare/compare.sh . bench100                  # the national corpus (about 6 min)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${COMPARE_WORK:-$HERE/../work/compare}
NEW=${COMPARE_NEW:-$WORK/new}
PY=${COMPARE_PYTHON:-$(cat "$WORK/ref/_meta/tree" 2>/dev/null)/.venv/bin/python}  # has pyarrow, orjson
[ $# -ge 1 ] || { sed -n '2,18p' "$0"; exit 2; }
TREE=$(cd "$1" 2>/dev/null && pwd) || { echo "compare.sh: no such tree: $1" >&2; exit 2; }
shift
SETS=("$@")
[ ${#SETS[@]} -gt 0 ] || SETS=(samples realdata bench10)
[ -x "$TREE/.venv/bin/decp" ] || { echo "compare.sh: $TREE/.venv/bin/decp missing: run 'make install' in $TREE" >&2; exit 2; }

echo "compare.sh: tree $TREE ($(git -C "$TREE" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$TREE" diff --quiet HEAD 2>/dev/null || echo ', uncommitted changes')), decp $("$TREE/.venv/bin/python" -c 'import decp_pipeline; print(decp_pipeline.__version__)' 2>/dev/null)"
echo "            sets: ${SETS[*]}; reference: $WORK/ref (commit $(cut -c1-7 "$WORK/ref/_meta/commit" 2>/dev/null), built $(cat "$WORK/ref/_meta/date" 2>/dev/null))"

# The outputs depend on the build day (anomalies.Run.today: the date-in-future anomaly): make the references and
# compare on the same day, or read the differing anomaly counts with that in mind.
if [ "$(date -u +%F)" != "$(cat "$WORK/ref/_meta/date" 2>/dev/null)" ]; then
  echo "NOTE: the references were built on $(cat "$WORK/ref/_meta/date" 2>/dev/null), not today: date-in-future may differ by date alone." >&2
fi
# The inputs the tree brings itself must be those of the reference.
if ! cmp -s "$TREE/sources.yaml" "$WORK/ref/_meta/sources.yaml"; then
  echo "WARNING: $TREE/sources.yaml differs from the reference's (priorities or sources changed?): differences may come from the config." >&2
fi
if ! (cd "$TREE" && sha256sum -c --quiet "$WORK/ref/_meta/samples.sha256" >/dev/null 2>&1); then
  echo "WARNING: $TREE/samples differ from the reference's (set samples reads the tree's own samples/)." >&2
fi

mkdir -p "$NEW"
exec 9> "$NEW.lock"
if ! flock -n 9; then echo "compare.sh: another compare is using $NEW; waiting for it ..." >&2; flock 9; fi

status=0
summary=()
for set in "${SETS[@]}"; do
  echo
  echo "=== $set"
  if [ ! -d "$WORK/ref/$set" ]; then echo "no reference for $set in $WORK/ref"; status=2; summary+=("$set: NO REFERENCE"); continue; fi
  bash "$HERE/build_set.sh" "$TREE" "$set" "$NEW" || { status=1; summary+=("$set: BUILD SCRIPT FAILED"); continue; }
  echo "    (reference built in $(cat "$WORK/ref/_runs/$set/seconds") s)"
  if "$PY" "$HERE/diff_outputs.py" "$WORK/ref/$set" "$NEW/$set" --runs "$WORK/ref/_runs/$set" "$NEW/_runs/$set"; then
    summary+=("$set: IDENTICAL")
  else
    summary+=("$set: DIFFERENT"); status=1
  fi
done
echo
echo "=== summary for $TREE"
printf '  %s\n' "${summary[@]}"
exit $status
