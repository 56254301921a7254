#!/usr/bin/env bash
# What generated_domains' keys and indexes cost at ingest: domgen writes the
# same rows into a table with no index, with a primary key on
# (campaign_id, offset_index), and with a unique index on domain_name
# (plain COPY, and --unique's staging + INSERT ... ON CONFLICT DO NOTHING),
# on a throwaway local cluster. Prints the median time and rows/s of each.
#
#   benches/pg-indexes.sh [RUNS] [PATTERN]   (default 3, '{alpha:4}{digit:1}x.com')
set -euo pipefail
runs=${1:-3}
pattern=${2:-'{alpha:4}{digit:1}x.com'}
cd "$(dirname "$0")/.."
cargo build --release --quiet
domgen=$(pwd)/target/release/domgen
dir=$(mktemp -d /tmp/domgen-indexes.XXXXXX)
chmod 755 "$dir"
cleanup() { (cd "$dir" && "$domgen" db stop >/dev/null 2>&1); rm -rf "$dir"; }
trap cleanup EXIT
cd "$dir"
"$domgen" db start >/dev/null
url=$("$domgen" db url)
rows=$("$domgen" count --pattern "$pattern")
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

variant() { # name, DDL after CREATE TABLE t, extra domgen flags
  local name=$1 ddl=$2; shift 2
  local times=()
  for _ in $(seq "$runs"); do
    psql "$url" -qc "DROP TABLE IF EXISTS t; CREATE TABLE t (LIKE generated_domains); $ddl"
    local t0 t1
    t0=$(now)
    "$domgen" generate --pattern "$pattern" --table t --no-progress "$@" >/dev/null
    t1=$(now)
    times+=($((t1 - t0)))
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | median)
  awk -v n="$name" -v r="$rows" -v t="$med" 'BEGIN { printf "%-44s %8.3f s %10.0f rows/s\n", n, t/1e9, r/(t/1e9) }'
}

echo "$rows rows of $pattern, median of $runs runs"
variant "no index (the default)" ""
variant "primary key (campaign_id, offset_index)" "ALTER TABLE t ADD PRIMARY KEY (campaign_id, offset_index);"
variant "unique index on domain_name, plain COPY" "CREATE UNIQUE INDEX ON t (domain_name);"
variant "unique domain_name, --unique (staging)" "CREATE UNIQUE INDEX ON t (domain_name);" --unique
