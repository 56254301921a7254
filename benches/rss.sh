#!/usr/bin/env bash
# Whole-process peak RSS of `domgen generate --out /dev/null` at 10k, 1M and
# 100M names (GNU time's maximum resident set), and the 100M/1M ratio; then
# of `domgen count` over a file of 1M random keywords (lowercase, 5-14
# letters, a fixed awk seed), with its time.
# Targets: 10k names <= 8 MiB; 100M <= 1.1 x 1M; 1M keywords <= 40 MiB and
# <= 0.4 s.
#
#   benches/rss.sh [PATTERN]      (default '{alnum:8}.com')
set -euo pipefail
cd "$(dirname "$0")/.."
pattern=${1:-'{alnum:8}.com'}
cargo build --release --quiet
[ -x /usr/bin/time ] || { echo "GNU time not found: apt-get install time" >&2; exit 1; }
declare -A rss
for n in 10000 1000000 100000000; do
  kib=$(/usr/bin/time -f %M target/release/domgen generate --pattern "$pattern" \
        --limit "$n" --no-progress --out /dev/null 2>&1 >/dev/null | tail -1)
  rss[$n]=$kib
  awk -v n="$n" -v k="$kib" 'BEGIN { printf "%12d names: peak RSS %6.2f MiB\n", n, k / 1024 }'
done
awk -v a="${rss[100000000]}" -v b="${rss[1000000]}" 'BEGIN { printf "100M / 1M: %.3fx\n", a / b }'
kw=$(mktemp --suffix=.txt)
trap 'rm -f "$kw"' EXIT
awk 'BEGIN { srand(17); for (i = 0; i < 1000000; i++) { n = 5 + int(rand() * 10); w = "";
       for (j = 0; j < n; j++) w = w sprintf("%c", 97 + int(rand() * 26)); print w } }' >"$kw"
read -r secs kib < <(/usr/bin/time -f '%e %M' target/release/domgen count --keywords-file "$kw" \
      --pattern '{keyword}.{tld}' --tld com 2>&1 >/dev/null | tail -1)
awk -v k="$kib" -v s="$secs" -v b="$(stat -c %s "$kw")" \
  'BEGIN { printf "1M keywords (%d-byte file), count: peak RSS %6.2f MiB, %.2f s\n", b, k / 1024, s }'
