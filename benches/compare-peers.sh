#!/usr/bin/env bash
# Side-by-side comparisons with peers, alternating runs in one go, printing
# median times and ratios:
#
# 1. `domgen generate --out /dev/null` against maskprocessor (mp64) on the
#    same masks (checked byte-identical first);
# 2. `domgen generate` into PostgreSQL against `psql \copy` of the same rows
#    (exported to a file) into an identical index-free table, same server
#    (a throwaway local cluster; skip with SKIP_PG=1).
#
#   benches/compare-peers.sh [RUNS]        (default 5 runs per tool and case)
#   THREADS=1 benches/compare-peers.sh     (domgen on one worker thread)
#   CONNECTIONS=4 benches/compare-peers.sh (domgen's COPY connections)
#   SKIP_MP=1 / SKIP_PG=1                  (only one of the two)
#
# Needs mp64 (apt-get install maskprocessor) and, for 2., PostgreSQL's
# binaries and psql (apt-get install postgresql).
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/.."
[ "${SKIP_MP:-}" = 1 ] || command -v mp64 >/dev/null || { echo "mp64 not found: apt-get install maskprocessor" >&2; exit 1; }
cargo build --release --quiet
domgen=target/release/domgen
threads=(${THREADS:+--threads "$THREADS"})

# mask for mp64 | the same space as a domgen pattern
masks=(
  'shop?l?l?l?l?l?d.com|shop{alpha:5}{digit:1}.com'
  '?l?l?l?l?l?l.net|{alpha:6}.net'
  'x?d?d?d?d?d?d?d?d.io|x{digit:8}.io'
)

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

[ "${SKIP_MP:-}" = 1 ] && masks=()
[ ${#masks[@]} -gt 0 ] && printf '%-28s %12s %10s %10s %8s\n' mask names mp64_s domgen_s speedup
for pair in "${masks[@]}"; do
  mask=${pair%%|*}
  pattern=${pair#*|}
  if ! cmp -s <(mp64 "$mask") <("$domgen" generate --pattern "$pattern" --no-progress --out -); then
    echo "outputs differ for $mask / $pattern" >&2
    exit 1
  fi
  names=$("$domgen" count --pattern "$pattern")
  mp=() dg=()
  for _ in $(seq "$runs"); do
    t0=$(now); mp64 "$mask" >/dev/null; t1=$(now)
    "$domgen" generate --pattern "$pattern" "${threads[@]}" --no-progress --out /dev/null; t2=$(now)
    mp+=($((t1 - t0))) dg+=($((t2 - t1)))
  done
  mp_med=$(printf '%s\n' "${mp[@]}" | median)
  dg_med=$(printf '%s\n' "${dg[@]}" | median)
  awk -v m="$mask" -v n="$names" -v a="$mp_med" -v b="$dg_med" \
    'BEGIN { printf "%-28s %12d %10.3f %10.3f %7.2fx\n", m, n, a/1e9, b/1e9, a/b }'
done

[ "${SKIP_PG:-}" = 1 ] && exit 0
command -v psql >/dev/null || { echo "psql not found: apt-get install postgresql" >&2; exit 1; }
pattern='{alpha:4}{digit:1}x.com'
dir=$(mktemp -d /tmp/domgen-compare.XXXXXX)
chmod 755 "$dir"
domgen_abs=$(pwd)/$domgen
cleanup() { (cd "$dir" && "$domgen_abs" db stop >/dev/null 2>&1); rm -rf "$dir"; }
trap cleanup EXIT
cd "$dir"
"$domgen_abs" db start >/dev/null
url=$("$domgen_abs" db url)
psql "$url" -qc "CREATE TABLE by_psql (LIKE generated_domains); CREATE TABLE by_domgen (LIKE generated_domains);"
"$domgen_abs" generate --pattern "$pattern" --no-progress --out names.txt
id=$(cat /proc/sys/kernel/random/uuid)
awk -v id="$id" '{ printf "%s\t%d\t%s\n", id, NR - 1, $0 }' names.txt > rows.tsv
rows=$(wc -l < rows.tsv)
ps=() dg=()
for _ in $(seq "$runs"); do
  psql "$url" -qc "TRUNCATE by_psql, by_domgen"
  t0=$(now); psql "$url" -qc "\\copy by_psql FROM 'rows.tsv'"; t1=$(now)
  "$domgen_abs" generate --pattern "$pattern" --table by_domgen "${threads[@]}" \
      --connections "${CONNECTIONS:-2}" --no-progress >/dev/null; t2=$(now)
  ps+=($((t1 - t0))) dg+=($((t2 - t1)))
done
copied=$(psql "$url" -tAc "SELECT (SELECT count(*) FROM by_psql) || ' ' || (SELECT count(*) FROM by_domgen)")
[ "$copied" = "$rows $rows" ] || { echo "row counts differ: $copied (expected $rows each)" >&2; exit 1; }
ps_med=$(printf '%s\n' "${ps[@]}" | median)
dg_med=$(printf '%s\n' "${dg[@]}" | median)
echo
printf '%-28s %12s %10s %10s %8s\n' "into PostgreSQL" rows psql_s domgen_s speedup
awk -v n="$rows" -v a="$ps_med" -v b="$dg_med" \
  'BEGIN { printf "%-28s %12d %10.3f %10.3f %7.2fx\n", "{alpha:4}{digit:1}x.com", n, a/1e9, b/1e9, a/b;
           printf "rows/s: psql \\copy %.0f, domgen %.0f\n", n/(a/1e9), n/(b/1e9) }'
