#!/usr/bin/env bash
# benches/http_get.sh: GET of a 100-byte value through each HTTP surface, next to RESP.
#
# Starts edgekv (appendonly no) pinned to core 0, puts one 100-byte value in a Workers KV
# namespace, and loads it from core 1 with wrk (Debian's package) through
#   - the REST API v4:  GET /client/v4/accounts/a/storage/kv/namespaces/<id>/values/k
#   - the workerd binding protocol: GET /k?urlencoded=true with X-Edgekv-Namespace: <title>
# and, for comparison in the same run, redis-benchmark's GET of a 100-byte value over RESP.
# Same clients (50 connections) for all. Prints requests/s and p99 of each, median of ROUNDS.
#
#   EDGEKV_BIN=target/release/edgekv ROUNDS=3 SECS=10 bash benches/http_get.sh
set -euo pipefail
EDGEKV_BIN=${EDGEKV_BIN:-target/release/edgekv}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
CONNS=${CONNS:-50}
RESP=7891
HTTP=7892
work=$(mktemp -d)
trap 'redis-cli -p $RESP shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

taskset -c 0 "$EDGEKV_BIN" --bind 127.0.0.1 --port $RESP --http-port $HTTP --dir "$work" --appendonly no >/dev/null 2>&1 &
for _ in $(seq 1 100); do redis-cli -p $RESP ping >/dev/null 2>&1 && break; sleep 0.1; done

value=$(head -c 100 /dev/zero | tr '\0' v)
id=$(redis-cli -p $RESP KV.NAMESPACE CREATE bench | awk 'prev == "id" {print; exit} {prev = $0}')
printf 'SELECT bench\nKV.PUT k %s\n' "$value" | redis-cli -p $RESP >/dev/null
rest="http://127.0.0.1:$HTTP/client/v4/accounts/a/storage/kv/namespaces/$id/values/k"
binding="http://127.0.0.1:$HTTP/k?urlencoded=true"
[ "$(curl -s "$rest")" = "$value" ] || { echo "REST GET did not return the value" >&2; exit 1; }
[ "$(curl -s -H 'X-Edgekv-Namespace: bench' "$binding")" = "$value" ] || { echo "binding GET failed" >&2; exit 1; }

# shellcheck source=benches/wrk_lib.sh
. "$(dirname "$0")/wrk_lib.sh"
resp_run() {
  redis-cli -p $RESP SET key:__rand_int__ "$value" >/dev/null
  taskset -c 1 redis-benchmark -p $RESP -c "$CONNS" -n $((SECS * 60000)) -t get -d 100 --csv 2>/dev/null |
    awk -F'","' '/^"GET"/ {gsub(/"/, "", $7); print $2 + 0, $7 + 0}'
}

R=""; B=""; P=""
for _ in $(seq 1 "$ROUNDS"); do
  R="$R$(wrk_run "$rest")"$'\n'
  B="$B$(wrk_run "$binding" "X-Edgekv-Namespace: bench")"$'\n'
  P="$P$(resp_run)"$'\n'
done
show() { # name rounds
  local rps p99
  rps=$(echo "$2" | awk 'NF {print $1}' | med)
  p99=$(echo "$2" | awk 'NF {print $2}' | med)
  printf '%-28s %10.0f req/s   p99 %6.2f ms\n' "$1" "$rps" "$p99"
}
echo "# $CONNS connections, ${SECS}s per round, median of $ROUNDS rounds; server on core 0, client on core 1"
show "REST API v4 (wrk)" "$R"
show "workerd binding (wrk)" "$B"
show "RESP GET (redis-benchmark)" "$P"
