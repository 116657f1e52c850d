# benches/wrk_lib.sh: what the HTTP benches share; sourced, needs CONNS and SECS.
# wrk runs on core 1 (the server is pinned to core 0 by the caller).

# wrk's "Requests/sec" and the 99% line of --latency, in ms.
wrk_run() { # url [header]
  local out
  if [ $# -gt 1 ]; then
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -H "$2" "$1")
  else
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "$1")
  fi
  local errs
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/' || true)
  [ -z "$errs" ] || { echo "wrk reported errors: $errs" >&2; exit 1; }
  local rps p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms/, "", v)} else if (v ~ /s$/) {sub(/s/, "", v); v *= 1000}; print v}')
  echo "$rps $p99"
}

# The median of numbers, one per line.
med() { sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
