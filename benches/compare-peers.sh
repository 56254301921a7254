#!/usr/bin/env bash
# Compares `domgen generate --out /dev/null` with maskprocessor (mp64) on the
# same masks, alternating runs in one go, and prints the median times and
# the ratio. Checks first that both print the same bytes.
#
#   benches/compare-peers.sh [RUNS]        (default 5 runs per tool and mask)
#   THREADS=1 benches/compare-peers.sh     (domgen on one worker thread)
#
# Needs mp64: apt-get install maskprocessor.
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/.."
command -v mp64 >/dev/null || { echo "mp64 not found: apt-get install maskprocessor" >&2; exit 1; }
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

printf '%-28s %12s %10s %10s %8s\n' mask names mp64_s domgen_s speedup
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
