# What the package tests share (sourced): a scratch directory, the processes they start and
# stop at the end (also on failure), a private redis-server, and how a step and a failure
# print. A test may define `extra_cleanup` to undo more (the package test purges the package).
# Needs `work_name` set before sourcing.
work=$(mktemp -d "/tmp/baton-${work_name}-XXXXXX")
chmod 0755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if declare -F extra_cleanup >/dev/null; then extra_cleanup; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "--- $*"; }
# Starts redis-server on the Unix socket $1 (any user may connect) and waits for it.
start_redis() {
  redis-server --port 0 --unixsocket "$1" --unixsocketperm 777 --save '' --appendonly no \
    --logfile "$work/redis.log" --daemonize no &
  pids+=($!)
  for _ in $(seq 100); do [[ -S $1 ]] && break; sleep 0.05; done
  [[ -S $1 ]] || fail "redis-server did not start (see $work/redis.log)"
}
