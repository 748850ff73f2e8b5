// How the daemon shows the Redis health sampler's last sample (model/redis_health): Prometheus
// metrics for /metrics, the "redis_health" section of INFO (which batonctl redis reads), and
// JSON for the fleet page. A failed sample shows only the sampler's own counters and the
// error: the server's figures then are unknown, not zero.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

#include "model/redis_health/redis_health.hpp"

namespace baton {

/// Appends baton_redis_health_* and baton_redis_server_* metrics; nothing without a sample.
void render_redis_health_metrics(const redis_health::health_sample* sample, std::string& out);
/// INFO's "# Redis health" lines (key:value\r\n), or a line saying sampling is off.
std::string redis_health_info(const redis_health::health_sample* sample, std::int64_t now_unix_ms);
/// The fleet page's "health" object; null without a sample.
nlohmann::json redis_health_json(const redis_health::health_sample* sample,
                                 std::int64_t now_unix_ms);

} // namespace baton
