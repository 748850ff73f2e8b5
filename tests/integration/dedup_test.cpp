// Idempotency keys through real batond processes against a real redis-server: one `new`
// across the fleet, pending while the first works, the stored result for duplicates, release
// when the claimer's connection closes, completion from another connection of the same
// daemon, Redis down, and bad input.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <thread>

#include "protocol/resp_client.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_batond.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::field;
using test::text_field;
using namespace std::chrono_literals;

TEST_CASE("one new claim across two daemons: duplicates see pending, then the result",
          "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  std::atomic<int> fresh{0}, pending{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 32; ++i)
    clients.emplace_back([&, i] {
      resp_client c(i % 2 ? a.socket_path() : b.socket_path());
      auto r = c.call({"DEDUP", "CLAIM", "payment-42", "10000"});
      auto status = text_field(r, "status");
      ++(status == "new" ? fresh : status == "pending" ? pending : other);
      if (status == "new") {
        // Still pending for everyone else until DONE; keep the connection open till then.
        CHECK(c.call({"DEDUP", "DONE", "payment-42", "charged ch_1"}).str == "OK");
      }
    });
  for (auto& t : clients)
    t.join();
  CHECK(fresh == 1);
  CHECK(pending + other == 31);
  resp_client late(a.socket_path());
  auto r = late.call({"DEDUP", "CLAIM", "payment-42", "10000"});
  CHECK(text_field(r, "status") == "done");
  CHECK(text_field(r, "result") == "charged ch_1");
  CHECK(field(r, "ttl_ms") > 24 * 3600 * 1000 - 60000); // the default result_ttl_ms
  auto got = late.call({"DEDUP", "GET", "payment-42"});
  CHECK(text_field(got, "status") == "done");
  CHECK(late.call({"DEDUP", "GET", "never-claimed"}).kind == resp_value::type::null);
}

TEST_CASE("a claim whose connection closes before DONE is released for a retry", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client retry(b.socket_path());
  {
    resp_client worker(a.socket_path());
    REQUIRE(text_field(worker.call({"DEDUP", "CLAIM", "job-7", "60000"}), "status") == "new");
    CHECK(text_field(retry.call({"DEDUP", "CLAIM", "job-7", "60000"}), "status") == "pending");
  } // the worker crashes (its connection closes) without DONE
  CHECK(test::eventually([&] {
    return text_field(retry.call({"DEDUP", "CLAIM", "job-7", "60000"}), "status") == "new";
  }));
  CHECK(retry.call({"DEDUP", "DONE", "job-7", "ok"}).str == "OK");
}

// The chaos harness's idempotency workload: a daemon that stops closes its clients'
// connections, and releasing their claims then let a second worker start the same job.
TEST_CASE("a claim whose daemon stops (SIGTERM) is kept until its TTL, not released",
          "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client worker(a.socket_path());
  REQUIRE(text_field(worker.call({"DEDUP", "CLAIM", "job-8", "2000"}), "status") == "new");
  auto t = std::chrono::steady_clock::now();
  CHECK(a.stop() == 0);
  CHECK(worker.closed_by_peer());
  resp_client retry(b.socket_path());
  auto r = retry.call({"DEDUP", "CLAIM", "job-8", "60000"});
  if (std::chrono::steady_clock::now() - t < 1500ms) { // well inside the claim's 2 s
    CHECK(text_field(r, "status") == "pending");
  }
  // The worker may still finish: it ends at its TTL, and then a retry may start.
  CHECK(test::eventually(
      [&] {
        return text_field(retry.call({"DEDUP", "CLAIM", "job-8", "60000"}), "status") == "new";
      },
      5000));
  CHECK(std::chrono::steady_clock::now() - t >= 1800ms);
}

TEST_CASE("any connection of the claiming daemon completes: other daemons may not", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client claimer(a.socket_path()), pooled(a.socket_path()), elsewhere(b.socket_path());
  REQUIRE(text_field(claimer.call({"DEDUP", "CLAIM", "k", "60000"}), "status") == "new");
  auto refused = elsewhere.call({"DEDUP", "DONE", "k", "forged"});
  CHECK(refused.kind == resp_value::type::error);
  CHECK(refused.str.rfind("NOTHELD", 0) == 0);
  CHECK(pooled.call({"DEDUP", "DONE", "k", "real", "5000"}).str == "OK");
  auto r = elsewhere.call({"DEDUP", "GET", "k"});
  CHECK(text_field(r, "result") == "real");
  CHECK(field(r, "ttl_ms") <= 5000);
  // Finished is final: the claimer's connection closing does not undo it.
  claimer.call({"QUIT"});
  std::this_thread::sleep_for(100ms);
  CHECK(text_field(elsewhere.call({"DEDUP", "GET", "k"}), "status") == "done");
}

TEST_CASE("bad dedup input gets clear errors: Redis down answers UNAVAILABLE in budget") {
  test::test_redis redis;
  test::temp_dir dir;
  auto config = dir.file("dedup.yaml");
  std::ofstream(config) << "redis:\n  call_timeout_ms: 200\n"
                        << "dedup:\n  max_key_length: 8\n  max_result_bytes: 16\n"
                        << "  max_ttl_ms: 60000\n  result_ttl_ms: 30000\n";
  test::test_batond a(redis.unix_url(), {"--config", config});
  resp_client c(a.socket_path());
  auto error_of = [&](std::vector<std::string> args) {
    auto r = c.call(args);
    CHECK(r.kind == resp_value::type::error);
    return r.str;
  };
  CHECK(error_of({"DEDUP", "CLAIM", "123456789", "1000"}).find("1 to 8 bytes") !=
        std::string::npos);
  CHECK(error_of({"DEDUP", "CLAIM", "", "1000"}).find("1 to 8 bytes") != std::string::npos);
  CHECK(error_of({"DEDUP", "CLAIM", "k", "0"}).find("ttl_ms must be") != std::string::npos);
  CHECK(error_of({"DEDUP", "CLAIM", "k", "-5"}).find("ttl_ms must be") != std::string::npos);
  CHECK(error_of({"DEDUP", "CLAIM", "k", "60001"}).find("ttl_ms must be") != std::string::npos);
  CHECK(error_of({"DEDUP", "CLAIM", "k"}).find("wrong number of arguments") != std::string::npos);
  REQUIRE(text_field(c.call({"DEDUP", "CLAIM", "k", "1000"}), "status") == "new");
  CHECK(error_of({"DEDUP", "DONE", "k", std::string(17, 'r')}).find("at most 16") !=
        std::string::npos);
  CHECK(error_of({"DEDUP", "DONE", "k", "r", "x"}).find("ttl_ms must be") != std::string::npos);
  CHECK(error_of({"DEDUP", "DONE", "k", "r", "100", "extra"}).find("wrong number") !=
        std::string::npos);
  // The refusals left the claim pending and ours.
  CHECK(c.call({"DEDUP", "DONE", "k", "fits"}).str == "OK");
  CHECK(field(c.call({"DEDUP", "GET", "k"}), "ttl_ms") <= 30000);

  redis.pause();
  auto start = std::chrono::steady_clock::now();
  auto r = c.call({"DEDUP", "CLAIM", "k2", "1000"});
  auto took = std::chrono::steady_clock::now() - start;
  redis.resume();
  CHECK(r.kind == resp_value::type::error);
  CHECK(r.str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(took < 200ms + 300ms);
}
