#!/usr/bin/env bash
# Side-by-side comparisons with peers, alternating runs in one go, printing
# median times and ratios:
#
# 1. `domgen generate --out /dev/null` against maskprocessor (mp64) on the
#    same masks (checked byte-identical first);
# 2. `domgen generate` into PostgreSQL against `psql \copy` of the same rows
#    (exported to a file) into an identical index-free table, same server
#    (a throwaway local cluster; skip with SKIP_PG=1);
# 3. look-alike names: `{typo}.{tld}` for 1,000 keywords, every algorithm
#    and 5 TLDs, to a file, against dnstwist (`--format list`, one process
#    per domain as it takes one, as many at once as there are cores),
#    checked equal as sets first. dnstwist runs once (it takes minutes),
#    domgen RUNS times. Skip with SKIP_TYPO=1; TYPO_KEYWORDS=N for fewer
#    keywords; DNSTWIST=path (default: the one scripts/test installs).
#
#   benches/compare-peers.sh [RUNS]        (default 5 runs per tool and case)
#   THREADS=1 benches/compare-peers.sh     (domgen on one worker thread)
#   CONNECTIONS=4 benches/compare-peers.sh (domgen's COPY connections)
#   SKIP_MP=1 / SKIP_PG=1 / SKIP_TYPO=1    (leave a comparison out)
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

typo_compare() {
  local dnstwist=${DNSTWIST:-$(pwd)/target/dnstwist-20250130/bin/dnstwist}
  [ -x "$dnstwist" ] || { echo "dnstwist not found at $dnstwist: run scripts/test, which installs it, or set DNSTWIST" >&2; exit 1; }
  local dir
  dir=$(mktemp -d /tmp/domgen-typo.XXXXXX)
  # Brand-like keywords of 4-16 characters, some with digits or a hyphen,
  # the same every run.
  python3 - "${TYPO_KEYWORDS:-1000}" > "$dir/keywords.txt" <<'PY'
import random, sys
r = random.Random(16)
onsets = "b c d f g h j k l m n p r s t v w z br cl st tr gr pl sh ch".split()
vowels = "a e i o u ai ou ea io".split()
words = []
while len(words) < int(sys.argv[1]):
    w = "".join(r.choice(onsets) + r.choice(vowels) for _ in range(r.randint(2, 4)))
    if r.random() < 0.3: w += r.choice("nrstlmx")
    if r.random() < 0.1: w += str(r.randint(1, 99))
    if r.random() < 0.08: w = w[:len(w) // 2] + "-" + w[len(w) // 2:]
    if w not in words: words.append(w)
print("\n".join(words))
PY
  local tlds=(com net org io app)
  printf 'login\nsecure\npay\napp\nshop\nonline\nsupport\naccount\nmail\nweb\n' > "$dir/dictionary.txt"
  local domgen_args=(generate --keywords-file "$dir/keywords.txt" --list "dictionary=$dir/dictionary.txt"
    --pattern '{typo}.{tld}' "${tlds[@]/#/--tld=}" "${threads[@]}" --no-progress)
  local fuzzers=addition,bitsquatting,cyrillic,homoglyph,hyphenation,insertion,omission,plural,repetition,replacement,subdomain,transposition,vowel-swap,dictionary
  # dnstwist once: every domain in its own process, to its own file, less
  # its own name.
  local t0 t1
  mkdir "$dir/out"
  t0=$(now)
  for k in $(cat "$dir/keywords.txt"); do for t in "${tlds[@]}"; do echo "$k.$t"; done; done |
    DNSTWIST_BIN=$dnstwist FUZZERS=$fuzzers DIR=$dir xargs -P "$(nproc)" -n 1 sh -c \
      '"$DNSTWIST_BIN" --format list --fuzzers "$FUZZERS" --dictionary "$DIR/dictionary.txt" "$0" | grep -vxF "$0" > "$DIR/out/$0"'
  t1=$(now)
  find "$dir/out" -type f -exec cat {} + > "$dir/dnstwist.txt"
  local dt_ns=$((t1 - t0))
  "$domgen" "${domgen_args[@]}" --out "$dir/domgen.txt"
  if ! cmp -s <(sort -u "$dir/dnstwist.txt") <(sort "$dir/domgen.txt"); then
    echo "look-alikes differ from dnstwist's: compare $dir/dnstwist.txt and $dir/domgen.txt" >&2
    exit 1
  fi
  local names dg=()
  names=$(wc -l < "$dir/domgen.txt")
  local dt_names
  dt_names=$(wc -l < "$dir/dnstwist.txt")
  for _ in $(seq "$runs"); do
    t0=$(now); "$domgen" "${domgen_args[@]}" --out "$dir/domgen.txt"; t1=$(now)
    dg+=($((t1 - t0)))
  done
  local dg_med
  dg_med=$(printf '%s\n' "${dg[@]}" | median)
  local rss
  rss=$( { /usr/bin/time -f '%M' "$domgen" "${domgen_args[@]}" --out /dev/null; } 2>&1 | tail -1)
  echo
  printf '%-28s %12s %10s %10s\n' "look-alikes ({typo})" names dnstwist_s domgen_s
  awk -v k="$(wc -l < "$dir/keywords.txt")" -v n="$names" -v m="$dt_names" -v a="$dt_ns" -v b="$dg_med" -v r="$rss" \
    'BEGIN { printf "%-28s %12d %10.1f %10.3f\n", k " keywords x 5 TLDs", n, a/1e9, b/1e9;
             printf "names/s: dnstwist %.0f (%d lines, repeats across keywords included), domgen %.0f: %.0fx; domgen peak RSS %.0f MiB\n",
               m/(a/1e9), m, n/(b/1e9), (n/(b/1e9))/(m/(a/1e9)), r/1024 }'
  rm -rf "$dir"
}
[ "${SKIP_TYPO:-}" = 1 ] || typo_compare

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
