#!/usr/bin/env bash
# build_set.sh TREE SET DEST
#
# Builds one reference set with TREE's own .venv/bin/decp, offline, on a FRESH data dir, and leaves:
#   DEST/<set>/            the published outputs (decp.json, report.json, tables, ...), nothing else
#   DEST/_runs/<set>/      cmd.txt (the exact command), stdout.txt, stderr.txt, exit_code, seconds, cwd,
#                          sources.yaml (realdata only: the config used), data/ (the data dir, kept for inspection)
# The same script makes the references (make_ref.sh) and the new outputs (compare.sh), so both sides run exactly
# the same command line.
#
# Sets:
#   samples   `make demo` equivalent: the 5 seed sources from TREE/samples/<source> (relative paths, cwd TREE,
#             config ./sources.yaml of TREE, as make demo does)
#   realdata  the 318 readable real files of ../shared/realdata ($DECP_REALDATA), mapped to sources by
#             realdata-mapping.tsv (built: the seed sources, generic, and any other source it names, disabled or
#             not); config = TREE's sources.yaml + generic-source.yaml (a never-fetched source)
#   bench10   bench/run.py's build command on the 10 % corpus ($CORPUS10, default
#             bench/work/corpus-150000-500, made by `make bench`: 150,000 contracts, 500 files, seed 2026)
#   bench100  the same on the national corpus ($CORPUS100, default bench/work/corpus-1500000-5000)
set -euo pipefail

TREE=$(cd "$1" && pwd)
SET=$2
DEST=$3
HERE=$(cd "$(dirname "$0")" && pwd)             # bench/compare
REPO=$(cd "$HERE/../.." && pwd)
REALDATA=${DECP_REALDATA:-$(cd "$REPO/.." && pwd)/shared/realdata}
DECP="$TREE/.venv/bin/decp"
[ -x "$DECP" ] || { echo "build_set: $DECP not found (run make install in $TREE)" >&2; exit 2; }

OUT="$DEST/$SET"
RUN="$DEST/_runs/$SET"
DATA="$RUN/data"
rm -rf "$OUT" "$RUN"
mkdir -p "$RUN"

args=()
case "$SET" in
  samples)
    srcs=(pes-marche aife e-marchespublics grandlyon marches-publics-info)      # Makefile DEMO_SOURCES
    args=(build --offline "${srcs[@]}")
    for s in "${srcs[@]}"; do args+=(--input "$s=samples/$s"); done
    args+=(--data-dir "$DATA" --out "$OUT")
    ;;
  realdata)
    cfg="$RUN/sources.yaml"
    cat "$TREE/sources.yaml" "$HERE/generic-source.yaml" > "$cfg"
    # the seed sources and generic, then any other source the mapping names (in order of first mention)
    srcs=(pes-marche aife e-marchespublics grandlyon marches-publics-info generic)
    inputs=()
    while IFS=$'\t' read -r s p; do
      case "$s" in ''|'#'*) continue ;; esac
      case " ${srcs[*]} " in *" $s "*) ;; *) srcs+=("$s") ;; esac
      inputs+=(--input "$s=$REALDATA/$p")
    done < "$HERE/realdata-mapping.tsv"
    args=(build --config "$cfg" --offline "${srcs[@]}" "${inputs[@]}")
    args+=(--data-dir "$DATA" --out "$OUT")
    ;;
  bench10|bench100)
    if [ "$SET" = bench10 ]; then corpus=${CORPUS10:-$REPO/bench/work/corpus-150000-500}
    else corpus=${CORPUS100:-$REPO/bench/work/corpus-1500000-5000}; fi
    [ -f "$corpus/expected.json" ] || { echo "build_set: $corpus/expected.json missing" >&2; exit 2; }
    # bench/run.py: [DECP, "build", "-q", "--offline", "--data-dir", data, "--out", out, *sources]
    #               + ["--input", f"{s}={corpus / s}" for s in sources], sources in expected.json order
    mapfile -t srcs < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["sources"]))' "$corpus/expected.json")
    args=(build -q --offline --data-dir "$DATA" --out "$OUT" "${srcs[@]}")
    for s in "${srcs[@]}"; do args+=(--input "$s=$corpus/$s"); done
    ;;
  *) echo "build_set: unknown set $SET (samples, realdata, bench10, bench100)" >&2; exit 2 ;;
esac

printf '%s\n' "$TREE" > "$RUN/cwd"
{ printf 'cd %q &&' "$TREE"; printf ' %q' "$DECP" "${args[@]}"; printf '\n'; } > "$RUN/cmd.txt"
start=$(date +%s.%N)
set +e
( cd "$TREE" && "$DECP" "${args[@]}" ) > "$RUN/stdout.txt" 2> "$RUN/stderr.txt"
code=$?
set -e
end=$(date +%s.%N)
echo "$code" > "$RUN/exit_code"
python3 -c "print(f'{$end - $start:.1f}')" > "$RUN/seconds"
echo "built $SET with $TREE: exit $code in $(cat "$RUN/seconds") s -> $OUT"
