#!/usr/bin/env bash
# What the campaign service's trigger-heavy generated_domains costs each
# writer, and what domgen's COPY buys there. The same ROWS names (the
# first ROWS of '{keyword}-{alnum:3}.{tld}' over 4 keywords and 2 TLDs,
# with their keyword, pattern and TLD), median of RUNS runs each, on a
# throwaway local cluster:
#
# into the service's schema (crates/test-support/sql/service-schema.sql,
# loaded before `domgen migrate` as in the service's database: 25 indexes,
# a foreign key, per-row counter and audit triggers), each run into
# emptied tables with a new campaign row:
#   (a) the service's old writer: psql on one connection, a prepared
#       INSERT executed per row, committed every 1,000 rows;
#   (b) `domgen generate --table generated_domains`, default flags;
#   (c) the same with --batch-size 1000;
# and, for the bare heap as a baseline, into a table LIKE domgen's own
# generated_domains (campaign_id, offset_index, domain_name) in a database
# without the service's schema:
#   (d) psql \copy of a file of the same rows;
#   (e) `domgen generate`, default flags.
#
# The runs take turns (a, b, c, d, e, then again), so that whatever else
# the machine does falls on all of them alike. Every run's rows are
# counted, and the service's counters and audit must agree with them.
#
#   benches/service-schema.sh [RUNS] [ROWS]   (default 3, 100000)
set -euo pipefail
shopt -s inherit_errexit
runs=${1:-3}
rows=${2:-100000}
cd "$(dirname "$0")/.."
schema=$(pwd)/crates/test-support/sql/service-schema.sql
cargo build --release --quiet
domgen=$(realpath "${CARGO_TARGET_DIR:-target}/release/domgen")
dir=$(mktemp -d /tmp/domgen-service.XXXXXX)
chmod 755 "$dir"
cleanup() { (cd "$dir" && "$domgen" db stop >/dev/null 2>&1); rm -rf "$dir"; }
trap cleanup EXIT
cd "$dir"
"$domgen" db start >/dev/null
url=$("$domgen" db url)
service="$url dbname=service"
bare="$url dbname=bare"
psql "$url" -qc "CREATE DATABASE service" -c "CREATE DATABASE bare"
psql "$service" -q -v ON_ERROR_STOP=1 -f "$schema"
"$domgen" migrate --database-url "$service" >/dev/null
"$domgen" migrate --database-url "$bare" >/dev/null

pattern='{keyword}-{alnum:3}.{tld}'
spec=(--keyword shop --keyword cloud --keyword data --keyword travel --tld com --tld net
      --pattern "$pattern" --limit "$rows")
[ "$("$domgen" count "${spec[@]}")" = "$rows" ] \
  || { echo "the spec has fewer than $rows names" >&2; exit 1; }
"$domgen" generate "${spec[@]}" --no-progress --out names.txt

# (a)'s statements: keyword and TLD are the name's first label before its
# hyphen and what follows its first dot, as the pattern builds it; the
# campaign is a psql variable, so one file serves every run.
awk -v pattern="$pattern" '
  BEGIN {
    print "\\set ON_ERROR_STOP on"
    print "PREPARE ins (uuid, bigint, text, text, text, varchar) AS INSERT INTO generated_domains"
    print "  (campaign_id, offset_index, domain_name, source_keyword, source_pattern, tld)"
    print "  VALUES ($1, $2, $3, $4, $5, $6);"
    print "BEGIN;"
  }
  {
    keyword = substr($0, 1, index($0, "-") - 1)
    tld = substr($0, index($0, ".") + 1)
    printf "EXECUTE ins(:\047campaign\047, %d, \047%s\047, \047%s\047, \047%s\047, \047%s\047);\n",
      NR - 1, $0, keyword, pattern, tld
    if (NR % 1000 == 0) print "COMMIT; BEGIN;"
  }
  END { print "COMMIT;" }' names.txt > inserts.sql
# (d)'s file: domgen's bare rows.
awk -v id="$(cat /proc/sys/kernel/random/uuid)" '{ printf "%s\t%d\t%s\n", id, NR - 1, $0 }' \
  names.txt > rows.tsv

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
fail() { echo "$*" >&2; exit 1; }

# Empties the service's tables and makes a new campaign; prints its id.
# The checkpoint keeps one run's dirty pages from being written in the next.
service_campaign() {
  local id
  id=$(cat /proc/sys/kernel/random/uuid)
  psql "$service" -q -v ON_ERROR_STOP=1 \
    -c "TRUNCATE generated_domains, campaign_domain_counters, generated_domains_audit, lead_generation_campaigns" \
    -c "INSERT INTO lead_generation_campaigns (id, name, status) VALUES ('$id', 'bench', 'running')" \
    -c "CHECKPOINT"
  echo "$id"
}

# The rows of the service's campaign, its counters and its audit entries
# must all be ROWS.
check_service() { # campaign
  local counts
  counts=$(psql "$service" -tAc "SELECT (SELECT count(*) FROM generated_domains WHERE campaign_id = '$1')
    || ' ' || (SELECT coalesce(sum(total_domains), 0) FROM campaign_domain_counters WHERE campaign_id = '$1')
    || ' ' || (SELECT count(*) FROM generated_domains_audit WHERE campaign_id = '$1')")
  [ "$counts" = "$rows $rows $rows" ] || fail "rows, counted, audited: $counts (expected $rows each)"
}

bare_table() {
  psql "$bare" -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning; DROP TABLE IF EXISTS t" \
    -c "CREATE TABLE t (LIKE generated_domains)" -c "CHECKPOINT"
}

check_bare() {
  local count
  count=$(psql "$bare" -tAc "SELECT count(*) FROM t")
  [ "$count" = "$rows" ] || fail "$count rows in t (expected $rows)"
}

# One run of a variant; prints its nanoseconds. domgen's line "wrote N
# rows in B batches" is kept in batches.<variant>.
run() { # variant
  local id t0 t1 out
  case $1 in
    a)
      id=$(service_campaign)
      t0=$(now); psql "$service" -q -v campaign="$id" -f inserts.sql >/dev/null; t1=$(now)
      check_service "$id" ;;
    b|c)
      id=$(service_campaign)
      local flags=()
      [ "$1" = c ] && flags=(--batch-size 1000)
      # Its stderr says which provenance columns it fills; only errors are news.
      t0=$(now)
      out=$("$domgen" generate "${spec[@]}" --table generated_domains --campaign-id "$id" \
              --database-url "$service" --no-progress "${flags[@]}" \
              2> >(grep -v '^provenance columns: ' >&2))
      t1=$(now)
      check_service "$id"
      grep -o 'in [0-9]* batches' <<<"$out" > "batches.$1" ;;
    d)
      bare_table
      t0=$(now); psql "$bare" -qc "\\copy t FROM 'rows.tsv'" >/dev/null; t1=$(now)
      check_bare ;;
    e)
      bare_table
      t0=$(now)
      out=$("$domgen" generate "${spec[@]}" --table t --database-url "$bare" --no-progress)
      t1=$(now)
      check_bare
      grep -o 'in [0-9]* batches' <<<"$out" > "batches.$1" ;;
  esac
  echo $((t1 - t0))
}

variants=(a b c d e)
declare -A times
for r in $(seq "$runs"); do
  for v in "${variants[@]}"; do
    times[$v]+="$(run "$v") "
  done
  echo "run $r of $runs done" >&2
done

declare -A med
for v in "${variants[@]}"; do
  med[$v]=$(printf '%s\n' ${times[$v]} | median)
done
declare -A label=(
  [a]="(a) psql, prepared INSERT per row, COMMIT per 1,000"
  [b]="(b) domgen generate, default flags"
  [c]="(c) domgen generate --batch-size 1000"
  [d]="(d) psql \\copy of a file"
  [e]="(e) domgen generate, default flags"
)
line() { # variant
  local batches=""
  [ -f "batches.$1" ] && batches=$(cat "batches.$1")
  awk -v n="${label[$1]}" -v r="$rows" -v t="${med[$1]}" -v b="$batches" \
    'BEGIN { printf "%-52s %9.3f s %10.0f rows/s  %s\n", n, t/1e9, r/(t/1e9), b }'
}
ratio() { # name, x, y: x's rows/s over y's
  awk -v n="$1" -v x="${med[$2]}" -v y="${med[$3]}" 'BEGIN { printf "%-8s %6.2fx\n", n, y/x }'
}

echo "$rows rows of $pattern (4 keywords, 2 TLDs), median of $runs runs"
echo "into the service's generated_domains (25 indexes, a foreign key, counter and audit triggers):"
line a; line b; line c
echo "into a bare table LIKE domgen's generated_domains:"
line d; line e
echo "rows/s ratios:"
ratio "(b)/(a)" b a
ratio "(b)/(c)" b c
ratio "(e)/(d)" e d
