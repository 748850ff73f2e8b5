#!/usr/bin/env bash
# redis-cli as a real client of batond: plain commands, RESP3, errors, pipelined input
# (--pipe), and INFO, against a private redis-server. Usage: redis_cli_test.sh BATOND
set -euo pipefail
batond=$1
dir=$(mktemp -d /tmp/baton-cli-XXXXXX)
cleanup() {
  [[ -n ${daemon_pid:-} ]] && kill "$daemon_pid" 2>/dev/null || true
  [[ -n ${redis_pid:-} ]] && kill -9 "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no \
  --logfile "$dir/redis.log" &
redis_pid=$!
until redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1; do sleep 0.05; done
"$batond" --socket "$dir/baton.sock" --redis "unix://$dir/redis.sock" --http off 2>"$dir/batond.log" &
daemon_pid=$!
for _ in $(seq 200); do
  redis-cli -s "$dir/baton.sock" INFO redis 2>/dev/null | grep -q '^redis_reachable:1' && break
  sleep 0.05
done

failures=0
expect() { # expect NAME EXPECTED ACTUAL
  if [[ $2 == "$3" ]]; then echo "ok   $1"; else echo "FAIL $1: expected [$2], got [$3]"; failures=$((failures + 1)); fi
}
cli() { redis-cli -s "$dir/baton.sock" "$@"; }

expect "PING" "PONG" "$(cli PING)"
expect "ECHO" "hello world" "$(cli ECHO 'hello world')"
expect "unknown command" "ERR unknown command 'NOPE', with args beginning with: 'x' " "$(cli NOPE x)"
expect "wrong arity" "ERR wrong number of arguments for 'echo' command" "$(cli ECHO)"
expect "RESP3 HELLO" "1" "$(cli -3 HELLO 3 | grep -c "^proto 3$")"
expect "CLIENT SETNAME/GETNAME in one session" "$(printf 'OK\nme')" "$(printf 'CLIENT SETNAME me\nCLIENT GETNAME\n' | cli)"
expect "INFO has the node" "1" "$(cli INFO server | grep -c '^node_id:')"
expect "DEBUG RTT answers a map" "redis_time_us" "$(cli DEBUG RTT | head -1)"
expect "COMMAND COUNT" "21" "$(cli COMMAND COUNT)"
pipe_out=$( (for i in $(seq 1000); do printf '*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n' ${#i} "$i"; done) | cli --pipe)
expect "--pipe of 1000 commands" "errors: 0, replies: 1000" "$(echo "$pipe_out" | tail -1)"
# Redis goes away: redis-cli gets a clear error, batond stays up.
kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; redis_pid=
expect "DEBUG RTT with Redis down" "UNAVAILABLE" "$(cli DEBUG RTT | cut -d' ' -f1)"
expect "PING with Redis down" "PONG" "$(cli PING)"

echo "$(( 12 - failures )) passed, $failures failed"
[[ $failures -eq 0 ]]
