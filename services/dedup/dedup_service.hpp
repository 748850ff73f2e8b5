// Idempotency keys as this daemon's clients see them: DEDUP CLAIM|DONE|GET. Redis holds each
// key's state (lua/dedup_*.lua); this service remembers which of its connections hold which
// pending claims, so that any connection of this daemon can complete a claim (an app's
// connection pool) and a claim is released the moment its connection closes before DONE.
//
// Runs on the I/O thread, like the lease and rate services.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "model/caller.hpp"
#include "protocol/result.hpp"
#include "redis/cleanup_retrier.hpp"
#include "redis/redis_pool.hpp"

namespace baton::dedup {

using std::chrono::milliseconds;

struct dedup_settings {
  std::string prefix = "baton";
  std::string node_id = "node";
  std::string run_id = "run"; ///< random per daemon start, as for leases
};

/// The state of a key, as CLAIM and GET find it: each is a success of CLAIM.
struct claim_fresh { ///< this caller is the first: do the work, then DONE
  std::int64_t ttl_ms = 0;
};
struct claim_pending { ///< another caller is working on it
  std::int64_t ttl_ms = 0;
};
struct claim_done { ///< finished: `result` is what DONE stored
  std::string result;
  std::int64_t ttl_ms = 0;
};
using claim_state = std::variant<claim_fresh, claim_pending, claim_done>;

/// DONE: the result is stored.
struct stored {};

/// The failures of a dedup call: unavailable (Redis could not answer in time), notheld (DONE
/// without a claim of this daemon's on the key, or another caller took it).
template <class T>
using dedup_callback = std::function<void(protocol::result<T>)>;

class dedup_service {
public:
  dedup_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                dedup_settings settings);

  /// A fresh claim is `who`'s uid's: any of its connections on this daemon may complete it.
  void claim(const std::string& key, milliseconds ttl, std::uint64_t connection, const caller& who,
             dedup_callback<claim_state> done);
  /// NOPERM when the claim is another uid's (an app must not finish another's work).
  void complete(const std::string& key, const std::string& result, milliseconds ttl,
                const caller& who, dedup_callback<stored> done);
  /// nullopt: no such key.
  void get(const std::string& key, dedup_callback<std::optional<claim_state>> done);
  /// Releases the pending claims the connection holds (it closed before DONE). Not once the
  /// daemon is stopping: then the connection was closed by the daemon, not by a client that
  /// gave up, and the client may still be doing the work; its claims last their TTL.
  void connection_closed(std::uint64_t connection);
  void stopping() { stopping_ = true; }

private:
  std::string redis_key(const std::string& key) const;
  std::string owner_for(std::uint64_t connection) const;
  void forget(const std::string& key);
  /// Drops records of claims whose TTL ran out without DONE or a close (a pooled connection
  /// that forgot them): Redis has already let them go.
  void sweep_lapsed();

  void release_unanswered(const std::string& key, const std::string& owner,
                          const std::string& request_id, const std::string& why,
                          const dedup_callback<claim_state>& done);
  std::uint64_t request_sequence_ = 0; ///< ids of this daemon run's claims

  redis_link::redis_pool& redis_;
  dedup_settings settings_;
  redis_link::cleanup_retrier cleanups_;
  struct claim_record {
    std::string owner;
    std::uint64_t connection = 0;
    std::int64_t uid = caller::unknown_uid;
    std::chrono::steady_clock::time_point lapses;
  };
  std::unordered_map<std::string, claim_record> claims_; ///< pending claims made here
  std::unordered_map<std::uint64_t, std::vector<std::string>> by_connection_;
  std::size_t sweep_at_ = 1024; ///< sweep when this many claims are recorded
  bool stopping_ = false;
};

} // namespace baton::dedup
