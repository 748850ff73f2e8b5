// A Redis link (redis_pool) driven by the test thread, against a real redis-server: open it,
// call, run scripts, and drive the event loop until a condition holds.
#pragma once

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis/redis_pool.hpp"

namespace baton::test {

using namespace std::chrono_literals;
using redis_link::clock;
using redis_link::link_counters;
using redis_link::link_settings;
using redis_link::milliseconds;
using redis_link::redis_pool;
using redis_link::redis_reply;
using redis_link::tls_options;

struct link_fixture {
  boost::asio::io_context io;
  link_counters counters;
  std::unique_ptr<redis_pool> pool;

  /// The link with short backoffs, for tests; `adjust` changes any setting before it starts.
  void open(const std::string& url, milliseconds budget = 100ms, tls_options tls = {},
            std::string user = "", std::string password = "", std::size_t connections = 2,
            const std::function<void(link_settings&)>& adjust = nullptr) {
    link_settings s;
    std::string error;
    s.endpoint = *redis_link::parse_redis_url(url, error);
    s.endpoint.username = user;
    s.endpoint.password = password;
    s.tls = tls;
    s.call_timeout = budget;
    s.connect_timeout = 500ms;
    s.reconnect_min = 20ms;
    s.reconnect_max = 200ms;
    s.breaker_cooldown = 50ms;
    s.connections = connections;
    if (adjust) adjust(s);
    pool = std::make_unique<redis_pool>(io, s, counters);
    pool->start();
  }

  // Drives the event loop until `n` replies arrived or `limit` passed.
  void drive(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
    auto until = clock::now() + limit;
    while (!done() && clock::now() < until) {
      if (io.stopped()) io.restart();
      io.run_one_for(10ms);
    }
  }

  redis_reply call(const std::vector<std::string>& args) {
    std::optional<redis_reply> result;
    pool->call(args, [&](redis_reply r) { result = std::move(r); });
    drive([&] { return result.has_value(); });
    REQUIRE(result);
    return *result;
  }

  redis_reply script(const std::string& name, const std::vector<std::string>& keys = {},
                     const std::vector<std::string>& args = {}) {
    std::optional<redis_reply> result;
    pool->run_script(name, keys, args, [&](redis_reply r) { result = std::move(r); });
    drive([&] { return result.has_value(); });
    REQUIRE(result);
    return *result;
  }

  void wait_ready() {
    drive([&] { return pool->status().ready == pool->status().connections; });
    REQUIRE(pool->status().ready > 0);
  }
};

} // namespace baton::test
