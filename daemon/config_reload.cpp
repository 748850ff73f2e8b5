// Config reload; see config_reload.hpp.
#include "daemon/config_reload.hpp"

#include "common/log.hpp"

namespace baton {

std::vector<std::string> apply_reload(daemon_context& ctx, const config& next) {
  std::vector<std::string> needs_restart;
  auto& cur = ctx.cfg;
  auto differs = [&](const char* key, bool changed) {
    if (changed) needs_restart.emplace_back(key);
  };
  differs("node_id", cur.node_id != next.node_id);
  differs("prefix", cur.prefix != next.prefix);
  differs("state_dir", cur.state_dir != next.state_dir);
  differs("socket.path", cur.socket.path != next.socket.path);
  differs("socket.mode", cur.socket.mode != next.socket.mode);
  differs("socket.group", cur.socket.group != next.socket.group);
  differs("socket limits", cur.socket.max_request_bytes != next.socket.max_request_bytes ||
                               cur.socket.max_arguments != next.socket.max_arguments ||
                               cur.socket.max_pipeline != next.socket.max_pipeline ||
                               cur.socket.max_clients != next.socket.max_clients ||
                               cur.socket.max_watches_per_uid != next.socket.max_watches_per_uid);
  differs("http", cur.http.enabled != next.http.enabled || cur.http.listen != next.http.listen ||
                      cur.http.max_connections != next.http.max_connections ||
                      cur.http.ui != next.http.ui);
  const auto& a = cur.redis;
  const auto& b = next.redis;
  differs("redis endpoint and credentials",
          a.url != b.url || a.username != b.username || a.password != b.password ||
              a.database != b.database || a.connections != b.connections ||
              a.tls_ca_file != b.tls_ca_file || a.tls_cert_file != b.tls_cert_file ||
              a.tls_key_file != b.tls_key_file || a.tls_server_name != b.tls_server_name ||
              a.tls_verify != b.tls_verify || a.sentinel_username != b.sentinel_username ||
              a.sentinel_password != b.sentinel_password ||
              a.sentinel_refresh != b.sentinel_refresh ||
              a.sentinel_failover_hold != b.sentinel_failover_hold ||
              a.cluster_refresh != b.cluster_refresh);
  differs("redis health_interval_ms", a.health_interval != b.health_interval);
  differs("redis wait_replicas, wait_timeout_ms and wait_short",
          a.wait_replicas != b.wait_replicas || a.wait_timeout != b.wait_timeout ||
              a.wait_required != b.wait_required);
  differs("redis timeouts other than call_timeout_ms",
          a.connect_timeout != b.connect_timeout || a.dead_connection != b.dead_connection ||
              a.reconnect_min != b.reconnect_min || a.reconnect_max != b.reconnect_max ||
              a.breaker_failures != b.breaker_failures || a.breaker_cooldown != b.breaker_cooldown);
  differs("leases", cur.leases.lock_delay != next.leases.lock_delay ||
                        cur.leases.max_name_length != next.leases.max_name_length ||
                        cur.leases.min_ttl != next.leases.min_ttl ||
                        cur.leases.max_ttl != next.leases.max_ttl);
  differs("rate", cur.rate.max_key_length != next.rate.max_key_length ||
                      cur.rate.budget != next.rate.budget ||
                      cur.rate.policies != next.rate.policies);
  differs("dedup", cur.dedup.max_key_length != next.dedup.max_key_length ||
                       cur.dedup.max_result_bytes != next.dedup.max_result_bytes ||
                       cur.dedup.max_ttl != next.dedup.max_ttl ||
                       cur.dedup.result_ttl != next.dedup.result_ttl);
  // KEKs are read once at start (their files may be gone by now, on purpose).
  differs("secrets", cur.secrets != next.secrets);
  differs("breakers", cur.breakers != next.breakers);
  differs("state", !(cur.state == next.state));
  differs("cache", !(cur.cache == next.cache));
  differs("events", !(cur.events == next.events));
  differs("membership", cur.membership.address != next.membership.address ||
                            cur.membership.heartbeat != next.membership.heartbeat ||
                            cur.membership.ttl != next.membership.ttl);
  const auto& sa = cur.sessions;
  const auto& sb = next.sessions;
  differs("sessions",
          sa.default_ttl != sb.default_ttl || sa.max_ttl != sb.max_ttl ||
              sa.max_state_bytes != sb.max_state_bytes || sa.max_meta_bytes != sb.max_meta_bytes ||
              sa.max_user_length != sb.max_user_length ||
              sa.handoff_deadline != sb.handoff_deadline || sa.drain_delay != sb.drain_delay ||
              sa.handoff_strategy != sb.handoff_strategy || sa.max_per_user != sb.max_per_user ||
              sa.max_per_node != sb.max_per_node);
  // The drift margin is in every lease's validity, and the keeper's: a lease granted before a
  // reload and renewed after it must not be judged by two margins, so it waits for a restart.
  differs("runtime", cur.runtime.worker_threads != next.runtime.worker_threads ||
                         cur.runtime.scheduler != next.runtime.scheduler ||
                         cur.runtime.drift_margin != next.runtime.drift_margin ||
                         cur.runtime.drift_fraction != next.runtime.drift_fraction);

  // What can change now.
  log::set_level(next.log.level);
  log::set_format(next.log.format);
  cur.log = next.log;
  cur.access = next.access;
  ctx.access = access_policy(next.access);
  cur.redis.call_timeout = next.redis.call_timeout;
  ctx.redis.set_call_timeout(next.redis.call_timeout);
  return needs_restart;
}

} // namespace baton
