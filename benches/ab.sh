#!/usr/bin/env bash
# Two builds of domgen, A and B, on the same work, one run of each in turn
# so that the machine's noise falls on both: `generate` of NAMES rows into
# the bare generated_domains (emptied before each run), and one `worker`
# with 2 connections writing a planned campaign of NAMES rows, on one
# throwaway local cluster (started by B; a database per build, each
# migrated by its own) reached over loopback TCP, as a
# server across a network is (keepalives and TCP timeouts apply; no TLS).
# Prints the median of RUNS runs of each, and B's time as a share of A's.
#
#   benches/ab.sh A_DOMGEN B_DOMGEN [NAMES] [RUNS]   (default 10000000 3)
#
# E.g. the cost of a change: build the commit before it in a worktree
# (`git worktree add /tmp/old HEAD~1 && cargo build --release` there), then
# benches/ab.sh /tmp/old/target/release/domgen target/release/domgen.
set -euo pipefail
a=$(realpath "$1")
b=$(realpath "$2")
names=${3:-10000000}
runs=${4:-3}
pattern='{alnum:5}x.com' # 60,466,176 names; --limit takes the first NAMES
dir=$(mktemp -d /tmp/domgen-ab.XXXXXX)
chmod 755 "$dir"
cleanup() { (cd "$dir" && "$b" db stop >/dev/null 2>&1); rm -rf "$dir"; }
trap cleanup EXIT
cd "$dir"
"$b" db start >/dev/null
# The local cluster listens on its socket only: open loopback TCP too.
psql "$("$b" db url)" -qc "ALTER SYSTEM SET listen_addresses = '127.0.0.1'"
echo "host all all 127.0.0.1/32 trust" >>.domgen/pgdata/pg_hba.conf
"$b" db stop >/dev/null
"$b" db start >/dev/null
# A database per build, each migrated by its own: a build refuses a schema
# with migrations newer than it knows.
url_of() { echo "host=127.0.0.1 port=5432 user=domgen dbname=$1 sslmode=disable"; }
for db in ab_a ab_b; do
  psql "$(url_of domgen)" -qc "CREATE DATABASE $db"
done
"$a" migrate --database-url "$(url_of ab_a)" >/dev/null
"$b" migrate --database-url "$(url_of ab_b)" >/dev/null
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

generate() { # binary, its database
  local url
  url=$(url_of "$2")
  psql "$url" -qc "TRUNCATE generated_domains"
  local t0
  t0=$(now)
  "$1" generate --pattern "$pattern" --limit "$names" --database-url "$url" --no-progress >/dev/null
  echo $(($(now) - t0))
}

worker() { # binary, its database
  local url id t0
  url=$(url_of "$2")
  psql "$url" -qc "TRUNCATE generated_domains"
  id=$(cat /proc/sys/kernel/random/uuid)
  "$1" plan --pattern "$pattern" --limit "$names" --campaign-id "$id" --batch-size 50000 \
    --database-url "$url" >/dev/null
  t0=$(now)
  "$1" worker --campaign-id "$id" --connections 2 --database-url "$url" --no-progress >/dev/null
  echo $(($(now) - t0))
}

for what in generate worker; do
  ta=() tb=()
  for _ in $(seq "$runs"); do
    ta+=("$($what "$a" ab_a)")
    tb+=("$($what "$b" ab_b)")
  done
  ma=$(printf '%s\n' "${ta[@]}" | median)
  mb=$(printf '%s\n' "${tb[@]}" | median)
  awk -v w="$what" -v n="$names" -v a="$ma" -v b="$mb" -v r="$runs" 'BEGIN {
    printf "%-8s %d rows, median of %d: A %.3f s (%.0f rows/s)  B %.3f s (%.0f rows/s)  B/A %.3f\n",
      w, n, r, a/1e9, n/(a/1e9), b/1e9, n/(b/1e9), b/a }'
done
