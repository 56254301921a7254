#!/usr/bin/env bash
# One PostgreSQL against a 3-node Citus cluster, one after the other on one
# machine: rows/s of `domgen generate` and of 1, 2 and 4 `domgen worker`
# processes (each with CONNECTIONS connections) writing NAMES rows of one
# spec into generated_domains (emptied with TRUNCATE and followed by a
# CHECKPOINT on every node before each run), (a) on a single PostgreSQL 15
# and (b) on Citus (a coordinator and two workers, domgen's tables placed
# by `domgen migrate --distribute`). Each server is a throwaway cluster in
# a temporary directory (removed at exit), reached over loopback TCP with
# sslmode=disable, all four with the settings of `domgen db start`
# (max_wal_size 4GB, checkpoint_timeout 15min, shared_buffers 128MB);
# Citus's nodes talk to each other with its defaults (TLS on). The runs
# alternate: each cell's run k on PostgreSQL and on Citus back to back,
# the order flipped every run, so the machine's noise falls on both.
# Prints the median of RUNS runs per cell and Citus's time as a share of
# PostgreSQL's, then the CPU per row of domgen's processes (/usr/bin/time)
# and of each server (its postmaster's and children's utime + stime in
# /proc, exited backends included) and the WAL each server wrote per row
# (pg_current_wal_lsn), read before and after each run. Then one more,
# untimed, run of 2 workers on each, with pg_stat_activity sampled on
# every node (state, wait_event_type/wait_event of the client backends,
# every SAMPLE seconds): the share of samples per wait, "CPU" where a
# backend is active and not waiting. The servers run as postgres when
# the script runs as root. docs/scaling.md shows a run and reads it.
#
#   benches/citus.sh [NAMES] [BATCH] [CONNECTIONS] [RUNS]   (default 20000000 50000 2 3)
#
#   DOMGEN   the binary (default: built first, in $CARGO_TARGET_DIR or target/)
#   PG_BIN   PostgreSQL's programs (default /usr/lib/postgresql/15/bin);
#            Citus must be installed for it (scripts/test-citus builds it)
#   SAMPLE   seconds between pg_stat_activity samples (default 0.5; 0: none)
set -euo pipefail
names=${1:-20000000}
batch=${2:-50000}
connections=${3:-2}
runs=${4:-3}
sample=${SAMPLE:-0.5}
pattern='{alnum:5}x.com' # 60,466,176 names; --limit takes the first NAMES
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
cd "$(dirname "$0")/.."
if [ -z "${DOMGEN:-}" ]; then
  cargo build --release --quiet
  DOMGEN=${CARGO_TARGET_DIR:-target}/release/domgen
fi
domgen=$(realpath "$DOMGEN")
[ -f "$("$pg_bin/pg_config" --pkglibdir)/citus.so" ] || {
  echo "error: no citus.so for the PostgreSQL in $pg_bin: scripts/test-citus builds and installs it" >&2
  exit 1
}

# PostgreSQL refuses to run as root: the servers run as postgres then.
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
dir=$(mktemp -d /tmp/domgen-citus-bench.XXXXXX)
chmod 755 "$dir"
nodes=() # data directories, stopped at exit
declare -A data_of # port -> data directory
cleanup() {
  for data in "${nodes[@]}"; do as_server "$pg_bin/pg_ctl" -D "$data" stop -m immediate >/dev/null 2>&1 || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

start_node() { # name port [preload]
  local data=$dir/$1
  mkdir "$data"
  [ "$(id -u)" != 0 ] || chown postgres: "$data"
  as_server "$pg_bin/initdb" -D "$data" -U domgen --auth=trust >/dev/null
  cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$data'
max_wal_size = '4GB'
checkpoint_timeout = '15min'
shared_buffers = '128MB'
${3:+shared_preload_libraries = '$3'}
CONF
  nodes+=("$data")
  data_of[$2]=$data
  as_server "$pg_bin/pg_ctl" -D "$data" -l "$data/server.log" -w start >/dev/null
  psql "$(url "$2" postgres)" -qc "CREATE DATABASE domgen"
}
url() { echo "host=127.0.0.1 port=$1 user=domgen dbname=${2:-domgen} sslmode=disable"; }

pg=$(free_port)
start_node pg "$pg"
coordinator=$(free_port)
start_node coordinator "$coordinator" citus
w1=$(free_port)
start_node worker1 "$w1" citus
w2=$(free_port)
start_node worker2 "$w2" citus
for port in "$coordinator" "$w1" "$w2"; do psql "$(url "$port")" -qc "CREATE EXTENSION citus"; done
psql "$(url "$coordinator")" -qAt >/dev/null <<SQL
SELECT citus_set_coordinator_host('127.0.0.1', $coordinator);
SELECT citus_add_node('127.0.0.1', $w1);
SELECT citus_add_node('127.0.0.1', $w2);
SQL
"$domgen" migrate --database-url "$(url "$pg")" >/dev/null
"$domgen" migrate --distribute --database-url "$(url "$coordinator")"
echo "PostgreSQL $(psql "$(url "$pg")" -tAc "SHOW server_version"), Citus $(psql "$(url "$coordinator")" -tAc "SELECT split_part(citus_version(), ' ', 2)")"

declare -A url_of=([pg]=$(url "$pg") [citus]=$(url "$coordinator"))
declare -A ports_of=([pg]="$pg" [citus]="$coordinator $w1 $w2")
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

empty() { # target
  psql "${url_of[$1]}" -qc "TRUNCATE generated_domains"
  for port in ${ports_of[$1]}; do psql "$(url "$port")" -qc "CHECKPOINT"; done
}

tck=$(getconf CLK_TCK)
node_cpu() { # port: CPU seconds of the node's server processes so far, exited backends included
  local pm
  pm=$(head -1 "${data_of[$1]}/postmaster.pid")
  { # /proc/PID/stat after "(comm) ": utime, stime, cutime, cstime are fields 12-15.
    sed 's/.*) //' "/proc/$pm/stat" | awk '{print $12 + $13 + $14 + $15}'
    for child in $(ps -o pid= --ppid "$pm"); do
      sed 's/.*) //' "/proc/$child/stat" 2>/dev/null | awk '{print $12 + $13}' || true
    done
  } | awk -v t="$tck" '{s += $1} END {print s / t}'
}
stats() { # target: per node, its CPU seconds and the bytes of WAL it has written, so far
  for port in ${ports_of[$1]}; do
    echo "$(node_cpu "$port") $(psql "$(url "$port")" -tAc "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")"
  done
}

check() { # target
  local count
  count=$(psql "${url_of[$1]}" -tAc "SELECT count(*) FROM generated_domains")
  [ "$count" = "$names" ] || { echo "error: $1 has $count rows, not $names" >&2; exit 1; }
}

# Prints the run's nanoseconds, the CPU seconds of domgen's processes, then
# each node's CPU seconds and WAL bytes (read before the check, which reads
# every row).
run() { # target writer (generate, or the number of workers)
  local u=${url_of[$1]} t0 t1 before after
  local timed=(/usr/bin/time -f '%U %S' -a -o "$dir/client.cpu")
  : >"$dir/client.cpu"
  if [ "$2" = generate ]; then
    before=$(stats "$1")
    t0=$(now)
    "${timed[@]}" "$domgen" generate --pattern "$pattern" --limit "$names" --batch-size "$batch" \
      --connections "$connections" --no-progress --database-url "$u" >/dev/null
    t1=$(now)
  else
    local id pids=()
    id=$(cat /proc/sys/kernel/random/uuid)
    "$domgen" plan --pattern "$pattern" --limit "$names" --campaign-id "$id" --batch-size "$batch" \
      --database-url "$u" >/dev/null
    before=$(stats "$1")
    t0=$(now)
    for w in $(seq "$2"); do
      "${timed[@]}" "$domgen" worker --campaign-id "$id" --worker-id "w$w" --connections "$connections" \
        --no-progress --database-url "$u" >/dev/null &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    t1=$(now)
  fi
  sleep 0.5 # the servers' backends end after their clients
  after=$(stats "$1")
  check "$1"
  echo "$((t1 - t0)) $(awk '{s += $1 + $2} END {print s}' "$dir/client.cpu")" \
    "$(paste -d' ' <(echo "$after") <(echo "$before") | awk '{printf "%s %s ", $1 - $3, $2 - $4}')"
}

writers=(generate 1 2 4)
declare -A times cpu wal
echo "$names rows of $pattern, batches of $batch, $connections connections per process, median of $runs, $(nproc) cores"
for r in $(seq "$runs"); do
  for w in "${writers[@]}"; do
    if [ $((r % 2)) = 1 ]; then order=(pg citus); else order=(citus pg); fi
    for target in "${order[@]}"; do
      empty "$target"
      line=$(run "$target" "$w")
      read -r t client server server_wal w1_cpu w1_wal w2_cpu w2_wal <<<"$line"
      times[$target.$w]+="$t "
      cpu[$target.$w.client]+="$client "
      cpu[$target.$w.server]+="$server "
      wal[$target.$w.server]+="$server_wal "
      if [ -n "${w1_cpu:-}" ]; then
        # Both workers: a campaign's rows land on one, whichever its shard is on.
        cpu[$target.$w.workers]+="$(awk -v a="$w1_cpu" -v b="$w2_cpu" 'BEGIN {print a + b}') "
        wal[$target.$w.workers]+="$(awk -v a="$w1_wal" -v b="$w2_wal" 'BEGIN {print a + b}') "
      fi
      awk -v r="$r" -v g="$target" -v w="$w" -v t="$t" -v n="$names" -v c="$client" -v s="$server" \
        -v sw="$server_wal" -v k1="${w1_cpu:-}" -v k2="${w2_cpu:-}" -v l1="${w1_wal:-}" -v l2="${w2_wal:-}" \
        'BEGIN { printf "  run %d %-6s %-8s %8.3f s %10.0f rows/s  CPU s / WAL MB: domgen %.1f, %s %.1f / %.0f%s\n",
                 r, g, w, t/1e9, n/(t/1e9), c, (g == "pg" ? "server" : "coordinator"), s, sw/1e6,
                 (k1 == "" ? "" : sprintf(", workers %.1f / %.0f + %.1f / %.0f", k1, l1/1e6, k2, l2/1e6)) }' >&2
    done
  done
done

printf '\n| writer, %s rows | PostgreSQL | rows/s | Citus (3 nodes) | rows/s | Citus / PostgreSQL |\n|---|---|---|---|---|---|\n' "$names"
for w in "${writers[@]}"; do
  a=$(printf '%s\n' ${times[pg.$w]} | median)
  b=$(printf '%s\n' ${times[citus.$w]} | median)
  if [ "$w" = generate ]; then what="\`generate\` × $connections connections"; else what="$w worker(s) × $connections connections"; fi
  awk -v w="$what" -v n="$names" -v a="$a" -v b="$b" '
    function commas(x,  s, r) { s = sprintf("%.0f", x); while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } return s r }
    BEGIN { printf "| %s | %.2f s | %s | %.2f s | %s | %.2f× the time |\n", w, a/1e9, commas(n/(a/1e9)), b/1e9, commas(n/(b/1e9)), b/a }'
done

# CPU per row: where the work goes. On PostgreSQL the server's; on Citus
# the coordinator's and the two workers' together.
printf '\n| CPU µs / WAL bytes per row (median) | domgen, PostgreSQL | server | domgen, Citus | coordinator | worker nodes |\n|---|---|---|---|---|---|\n'
per_row() { printf '%s\n' ${cpu[$1]} | median | awk -v n="$names" '{printf "%.2f µs", $1 / n * 1e6}'; }
wal_row() { printf '%s\n' ${wal[$1]} | median | awk -v n="$names" '{printf "%.0f B", $1 / n}'; }
for w in "${writers[@]}"; do
  if [ "$w" = generate ]; then what="\`generate\`"; else what="$w worker(s)"; fi
  echo "| $what | $(per_row pg.$w.client) | $(per_row pg.$w.server), $(wal_row pg.$w.server) |" \
    "$(per_row citus.$w.client) | $(per_row citus.$w.server), $(wal_row citus.$w.server) |" \
    "$(per_row citus.$w.workers), $(wal_row citus.$w.workers) |"
done

[ "$sample" != 0 ] || exit 0
# What the backends wait on, sampled during one more run of 2 workers.
for target in pg citus; do
  samples=$dir/samples.$target
  : >"$samples"
  empty "$target"
  (
    while :; do
      for port in ${ports_of[$target]}; do
        psql "$(url "$port")" -tA -F '|' -c "
          SELECT '$port', state, coalesce(wait_event_type || '/' || wait_event, 'CPU')
          FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
            AND datname = 'domgen' AND state IN ('active', 'idle in transaction')" >>"$samples" 2>/dev/null || true
      done
      sleep "$sample"
    done
  ) &
  sampler=$!
  run "$target" 2 >/dev/null
  kill "$sampler"
  wait "$sampler" 2>/dev/null || true
  echo
  echo "$target, 2 workers: pg_stat_activity of the client backends, share of samples per node"
  for port in ${ports_of[$target]}; do
    case $port in "$coordinator") node=coordinator ;; "$w1") node=worker1 ;; "$w2") node=worker2 ;; *) node=postgres ;; esac
    awk -F '|' -v p="$port" -v node="$node" '$1 == p { n++; c[$2 ", " $3]++ }
      END { if (!n) { printf "  %-11s (no busy client backend sampled)\n", node; exit }
            for (k in c) printf "  %-11s %5.1f %%  %s\n", node, 100*c[k]/n, k }' "$samples" | sort -k2,2nr
  done
done
