#!/usr/bin/env bash
# Worker throughput against one server: NAMES positions of one campaign
# written by 1, 2 and 4 `domgen worker` processes at once (each with
# CONNECTIONS connections), and by `domgen generate` for comparison, into
# generated_domains (emptied before each run) on a throwaway local
# cluster; the median of RUNS runs each. Then the client's time and peak
# RSS (/usr/bin/time -v) to plan a campaign of 4,353,564,672 positions.
#
#   benches/workers.sh [NAMES] [BATCH] [CONNECTIONS] [RUNS]   (default 20000000 50000 2 1)
set -euo pipefail
names=${1:-20000000}
batch=${2:-50000}
connections=${3:-2}
runs=${4:-1}
pattern='{alnum:5}x.com' # 60,466,176 names; --limit takes the first NAMES
cd "$(dirname "$0")/.."
cargo build --release --quiet
domgen=$(pwd)/target/release/domgen
dir=$(mktemp -d /tmp/domgen-workers.XXXXXX)
chmod 755 "$dir"
cleanup() { (cd "$dir" && "$domgen" db stop >/dev/null 2>&1); rm -rf "$dir"; }
trap cleanup EXIT
cd "$dir"
"$domgen" db start >/dev/null
url=$("$domgen" db url)
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
show() { awk -v n="$1" -v r="$names" -v t="$2" 'BEGIN { printf "%-34s %8.3f s %10.0f rows/s\n", n, t/1e9, r/(t/1e9) }'; }

workers() { # how many worker processes
  local k=$1 times=()
  for _ in $(seq "$runs"); do
    psql "$url" -qc "TRUNCATE generated_domains"
    local id
    id=$(cat /proc/sys/kernel/random/uuid)
    "$domgen" plan --pattern "$pattern" --limit "$names" --campaign-id "$id" --batch-size "$batch" >/dev/null
    local t0 t1 pids=()
    t0=$(now)
    for w in $(seq "$k"); do
      "$domgen" worker --campaign-id "$id" --worker-id "w$w" --connections "$connections" >/dev/null &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    t1=$(now)
    test "$(psql "$url" -tAc "SELECT count(*) FROM generated_domains")" = "$names"
    times+=($((t1 - t0)))
  done
  show "$k worker(s) x $connections connections" "$(printf '%s\n' "${times[@]}" | median)"
}

generate() {
  local times=()
  for _ in $(seq "$runs"); do
    psql "$url" -qc "TRUNCATE generated_domains"
    local t0 t1
    t0=$(now)
    "$domgen" generate --pattern "$pattern" --limit "$names" --batch-size "$batch" \
      --connections "$connections" --no-progress >/dev/null
    t1=$(now)
    times+=($((t1 - t0)))
  done
  show "generate x $connections connections" "$(printf '%s\n' "${times[@]}" | median)"
}

echo "$names rows of $pattern, batches of $batch, median of $runs run(s), $(nproc) cores"
workers 1
workers 2
workers 4
generate

echo "plan: {alnum:6}.com + {alnum:6}.net = 4,353,564,672 positions"
/usr/bin/time -v "$domgen" plan --pattern '{alnum:6}.com' --pattern '{alnum:6}.net' \
  --campaign-id "$(cat /proc/sys/kernel/random/uuid)" --batch-size "$batch" 2>"$dir/time.txt"
grep -E "Elapsed|Maximum resident|User time|System time" "$dir/time.txt"
