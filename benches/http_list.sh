#!/usr/bin/env bash
# benches/http_list.sh: a 1,000-key page of a key list through each HTTP surface.
#
# For each binary of EDGEKV_BINS (space-separated; several compare builds in one run, their
# rounds interleaved), starts edgekv (appendonly no) pinned to core 0, puts 10,000 keys with
# metadata (half of them expiring) in a Workers KV namespace with one KV.BULKPUT, and loads it
# from core 1 with wrk (Debian's package) through
#   - the REST API v4:  GET /client/v4/accounts/a/storage/kv/namespaces/<id>/keys?limit=1000
#   - the workerd binding protocol: GET /?key_count_limit=1000 with X-Edgekv-Namespace: <title>
# (the first page, every time). Prints requests/s and p99 of each, median of ROUNDS.
#
#   EDGEKV_BINS="old/edgekv target/release/edgekv" ROUNDS=3 SECS=8 bash benches/http_list.sh
set -euo pipefail
EDGEKV_BINS=${EDGEKV_BINS:-target/release/edgekv}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-8}
CONNS=${CONNS:-50}
RESP=7893
HTTP=7894
work=$(mktemp -d)
trap 'redis-cli -p $RESP shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# The bulk body: {"key":"key:00000","value":"v","metadata":{...}[,"expiration_ttl":86400]}.
awk 'BEGIN {
  printf "[";
  for (i = 0; i < 10000; i++) {
    if (i) printf ",";
    printf "{\"key\":\"key:%05d\",\"value\":\"v\",\"metadata\":{\"user\":\"u%d\",\"plan\":\"pro\",\"createdAt\":%d,\"tags\":[\"a\",\"b\"]}", i, i, 1700000000 + i;
    if (i % 2) printf ",\"expiration_ttl\":86400";
    printf "}";
  }
  printf "]";
}' >"$work/bulk.json"

serve() { # binary
  rm -rf "$work/data" && mkdir "$work/data"
  taskset -c 0 "$1" --bind 127.0.0.1 --port $RESP --http-port $HTTP --dir "$work/data" --appendonly no >/dev/null 2>&1 &
  for _ in $(seq 1 100); do redis-cli -p $RESP ping >/dev/null 2>&1 && break; sleep 0.1; done
  id=$(redis-cli -p $RESP KV.NAMESPACE CREATE bench | awk 'prev == "id" {print; exit} {prev = $0}')
  local index
  index=$(redis-cli -p $RESP KV.NAMESPACE GET bench | awk 'prev == "index" {print; exit} {prev = $0}')
  redis-cli -p $RESP -n "$index" -x KV.BULKPUT <"$work/bulk.json" | grep -q 10000 ||
    { echo "bulk put failed" >&2; exit 1; }
  rest="http://127.0.0.1:$HTTP/client/v4/accounts/a/storage/kv/namespaces/$id/keys?limit=1000"
  binding="http://127.0.0.1:$HTTP/?key_count_limit=1000"
  [ "$(curl -s "$rest" | grep -o '"name"' | wc -l)" = 1000 ] || { echo "REST list failed" >&2; exit 1; }
  [ "$(curl -s -H 'X-Edgekv-Namespace: bench' "$binding" | grep -o '"name"' | wc -l)" = 1000 ] ||
    { echo "binding list failed" >&2; exit 1; }
}
stop() {
  redis-cli -p $RESP shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do redis-cli -p $RESP ping >/dev/null 2>&1 || break; sleep 0.1; done
}

# shellcheck source=benches/wrk_lib.sh
. "$(dirname "$0")/wrk_lib.sh"

declare -A R B
for _ in $(seq 1 "$ROUNDS"); do
  for bin in $EDGEKV_BINS; do
    serve "$bin"
    R[$bin]="${R[$bin]:-}$(wrk_run "$rest")"$'\n'
    B[$bin]="${B[$bin]:-}$(wrk_run "$binding" "X-Edgekv-Namespace: bench")"$'\n'
    stop
  done
done
show() { # name rounds
  local rps p99
  rps=$(echo "$2" | awk 'NF {print $1}' | med)
  p99=$(echo "$2" | awk 'NF {print $2}' | med)
  printf '%-40s %8.0f req/s   p99 %7.2f ms\n' "$1" "$rps" "$p99"
}
echo "# 10,000 keys, pages of 1,000; $CONNS connections, ${SECS}s per round, median of $ROUNDS rounds; server on core 0, client on core 1"
for bin in $EDGEKV_BINS; do
  show "$bin: REST API v4 list" "${R[$bin]}"
  show "$bin: workerd binding list" "${B[$bin]}"
done
