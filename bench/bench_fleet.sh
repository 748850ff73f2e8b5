# Sourced by the benchmarks that need a fleet: a private redis-server and 3 batond daemons with
# bench/bench.yaml (a random KEK in the environment), in $dir, stopped and removed on exit.
# Needs $build and $here set; sets $dir and the daemons' sockets $dir/baton-{1,2,3}.sock.
dir=$(mktemp -d /tmp/baton-bench-XXXXXX)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
BATON_BENCH_KEK=$(openssl rand -hex 32)
export BATON_BENCH_KEK
redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no \
  --logfile "$dir/redis.log" &
until redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1; do sleep 0.05; done
for n in 1 2 3; do
  "$build/batond" --config "$here/bench.yaml" --socket "$dir/baton-$n.sock" \
    --redis "unix://$dir/redis.sock" --http off --node-id "bench-$n" 2>"$dir/batond-$n.log" &
  pids+=($!)
done
for n in 1 2 3; do
  until redis-cli -s "$dir/baton-$n.sock" PING >/dev/null 2>&1; do sleep 0.05; done
done
