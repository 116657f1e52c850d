#!/usr/bin/env bash
# benches/fsync_always.sh: group commit under `appendfsync always`.
#
# Starts edgekv and redis-server (both appendonly yes, appendfsync always, each in its own
# temporary folder on the same disk), and measures SET throughput with redis-benchmark:
#   - 1 client, one request at a time: every write waits for its own fsync (the baseline);
#   - 50 clients: writes that arrive during an fsync share the next one (group commit).
# Prints requests per second and the ratios. Same run, same disk: quote the ratios.
#
#   EDGEKV_BIN=target/release/edgekv N=20000 ROUNDS=5 bash benches/fsync_always.sh
# Rounds alternate between the servers and each figure is the median of its rounds.
set -euo pipefail
EDGEKV_BIN=${EDGEKV_BIN:-target/release/edgekv}
N=${N:-20000}
N1=${N1:-$((N / 10))}
work=$(mktemp -d)
trap 'redis-cli -p 7871 shutdown nosave >/dev/null 2>&1 || true; redis-cli -p 7872 shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

rps() { # port clients requests
  redis-benchmark -p "$1" -c "$2" -n "$3" -r 100000 -t set -d 100 --csv 2>/dev/null \
    | awk -F'","' '/^"SET"/ {print $2+0}'
}

mkdir -p "$work/e" "$work/r"
"$EDGEKV_BIN" --bind 127.0.0.1 --port 7871 --dir "$work/e" --appendonly yes --appendfsync always >/dev/null 2>&1 &
(cd "$work/r" && redis-server --port 7872 --save '' --appendonly yes --appendfsync always --dir "$work/r" >/dev/null 2>&1 &)
for p in 7871 7872; do
  for _ in $(seq 1 100); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.1; done
done

# Alternate the servers, ROUNDS times, and keep each one's median: the disk's speed drifts.
ROUNDS=${ROUNDS:-5}
med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
E1=""; E50=""; R1=""; R50=""
for _ in $(seq 1 "$ROUNDS"); do
  E1="$E1 $(rps 7871 1 "$N1")"; R1="$R1 $(rps 7872 1 "$N1")"
  E50="$E50 $(rps 7871 50 "$N")"; R50="$R50 $(rps 7872 50 "$N")"
done
echo "# rounds (rps): edgekv 1:$E1 | 50:$E50 ; redis 1:$R1 | 50:$R50"
e1=$(echo "$E1" | med); e50=$(echo "$E50" | med); r1=$(echo "$R1" | med); r50=$(echo "$R50" | med)
echo "# appendfsync always, SET 100-byte values, $(redis-server --version | awk '{print $3}')"
printf "%-14s %12s %12s %10s\n" server "1 client" "50 clients" "50/1"
awk -v a="$e1" -v b="$e50" 'BEGIN {printf "%-14s %12.0f %12.0f %9.1fx\n", "edgekv", a, b, b/a}'
awk -v a="$r1" -v b="$r50" 'BEGIN {printf "%-14s %12.0f %12.0f %9.1fx\n", "redis-server", a, b, b/a}'
awk -v a="$e50" -v b="$r50" 'BEGIN {printf "edgekv/redis at 50 clients: %.2fx\n", a/b}'
