// Idempotency keys; see dedup_service.hpp.
#include "services/dedup/dedup_service.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "services/unanswered.hpp"

namespace baton::dedup {

using redis_link::redis_reply;
using redis_link::reply_kind;

namespace {

using protocol::error_code;
using protocol::fail;
using protocol::failure;
using protocol::result;

failure unexpected(const redis_reply& reply) {
  if (reply.is_unavailable()) return fail(error_code::unavailable, reply.str);
  return fail(error_code::unavailable,
              "unexpected reply from redis: " + (reply.str.empty() ? "(no text)" : reply.str));
}

// {state, result, ms left} as dedup_claim and dedup_get answer it.
result<claim_state> read_state(const redis_reply& r) {
  if (r.kind != reply_kind::array || r.elements.size() != 3 ||
      r.elements[2].kind != reply_kind::integer)
    return unexpected(r);
  const auto& state = r.elements[0].str;
  auto ttl_ms = r.elements[2].integer;
  if (state == "new") return claim_fresh{ttl_ms};
  if (state == "pending") return claim_pending{ttl_ms};
  if (state == "done") return claim_done{r.elements[1].str, ttl_ms};
  return unexpected(r);
}

} // namespace

dedup_service::dedup_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                             dedup_settings settings)
    : redis_(redis), settings_(std::move(settings)), cleanups_(io, redis) {}

std::string dedup_service::redis_key(const std::string& key) const {
  return settings_.prefix + ":dedup:{" + key + "}";
}

std::string dedup_service::owner_for(std::uint64_t connection) const {
  return settings_.node_id + ":" + settings_.run_id + ":" + std::to_string(connection);
}

void dedup_service::forget(const std::string& key) {
  auto it = claims_.find(key);
  if (it == claims_.end()) return;
  auto& keys = by_connection_[it->second.connection];
  keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
  if (keys.empty()) by_connection_.erase(it->second.connection);
  claims_.erase(it);
}

void dedup_service::claim(const std::string& key, milliseconds ttl, std::uint64_t connection,
                          const caller& who, dedup_callback<claim_state> done) {
  auto owner = owner_for(connection);
  auto lapses = std::chrono::steady_clock::now() + ttl;
  auto request_id = std::to_string(++request_sequence_);
  redis_.run_script("dedup_claim", {redis_key(key)},
                    {owner, std::to_string(ttl.count()), request_id},
                    [this, key, owner, request_id, connection, uid = who.uid, lapses,
                     done = std::move(done)](redis_reply reply) {
                      // No answer in time: the claim may stand in Redis with nobody to finish
                      // it, and every retry would hear `pending` until its TTL. Release it (by
                      // this request's owner id, on the same connection, so after the claim)
                      // and say that nothing was claimed.
                      if (reply.is_unavailable())
                        return release_unanswered(key, owner, request_id, reply.str, done);
                      auto state = read_state(reply);
                      if (state && std::holds_alternative<claim_fresh>(*state)) {
                        forget(key); // an earlier claim of ours that ran out
                        if (claims_.size() >= sweep_at_) sweep_lapsed();
                        claims_[key] = {owner, connection, uid, lapses};
                        by_connection_[connection].push_back(key);
                      }
                      done(std::move(state));
                    });
}

void dedup_service::release_unanswered(const std::string& key, const std::string& owner,
                                       const std::string& request_id, const std::string& why,
                                       const dedup_callback<claim_state>& done) {
  if (auto it = claims_.find(key); it != claims_.end() && it->second.owner == owner)
    return done(
        fail(error_code::unavailable, "redis did not answer in time (" + why +
                                          "); this connection's earlier claim on the key stands"));
  cleanups_.run("dedup-release " + request_id, "dedup_release", {redis_key(key)},
                {owner, request_id}, [why, done](const redis_reply& r) {
                  done(fail(error_code::unavailable,
                            "redis did not answer in time (" + why + "); nothing is claimed: " +
                                (r.kind == reply_kind::integer
                                     ? "a claim made meanwhile was released; claim again"
                                     : "a claim Redis may have made is released as soon as "
                                       "Redis answers")));
                });
}

void dedup_service::complete(const std::string& key, const std::string& result, milliseconds ttl,
                             const caller& who, dedup_callback<stored> done) {
  auto it = claims_.find(key);
  if (it == claims_.end())
    return done(fail(error_code::notheld,
                     "no connection of this daemon holds a claim on this key; DEDUP CLAIM it "
                     "first (a claim is released when its connection closes)"));
  if (!who.owns(it->second.uid))
    return done(fail(error_code::noperm,
                     "the claim on this key is another user's; only its uid may complete it"));
  auto owner = it->second.owner;
  redis_.run_script(
      "dedup_done", {redis_key(key)}, {owner, result, std::to_string(ttl.count())},
      [this, key, owner, done = std::move(done)](redis_reply reply) {
        if (reply.is_unavailable())
          // Sent, it may have landed: the claim stays this daemon's, and the same DONE
          // sent again learns which (lua/dedup_done.lua answers "stored" again). Never
          // sent: UNAVAILABLE, nothing stored.
          return done(unanswered(reply, "the result may or may not be stored: send the "
                                        "same DEDUP DONE again, which is safe"));
        if (reply.kind != reply_kind::array || reply.elements.empty())
          return done(unexpected(reply));
        auto still = claims_.find(key);
        if (still != claims_.end() && still->second.owner == owner) forget(key);
        const auto& verdict = reply.elements[0].str;
        if (verdict == "stored") return done(stored{});
        if (verdict == "done") return done(fail(error_code::notheld, "the key is already done"));
        return done(fail(error_code::notheld,
                         "the claim ran out and another caller claimed the key since"));
      });
}

void dedup_service::get(const std::string& key, dedup_callback<std::optional<claim_state>> done) {
  redis_.run_script("dedup_get", {redis_key(key)}, {}, [done = std::move(done)](redis_reply reply) {
    if (reply.kind == reply_kind::array && reply.elements.empty())
      return done(std::optional<claim_state>());
    auto state = read_state(reply);
    if (!state) return done(std::move(state).error());
    done(std::optional<claim_state>(std::move(state).value()));
  });
}

void dedup_service::sweep_lapsed() {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::string> lapsed;
  for (const auto& [key, claim] : claims_)
    if (claim.lapses <= now) lapsed.push_back(key);
  for (const auto& key : lapsed)
    forget(key);
  sweep_at_ = std::max<std::size_t>(1024, claims_.size() * 2);
}

void dedup_service::connection_closed(std::uint64_t connection) {
  if (stopping_) return; // a second `new` must not start while this client still works
  auto it = by_connection_.find(connection);
  if (it == by_connection_.end()) return;
  auto keys = std::move(it->second);
  by_connection_.erase(it);
  for (const auto& key : keys) {
    auto claim = claims_.find(key);
    if (claim == claims_.end()) continue;
    auto owner = claim->second.owner;
    claims_.erase(claim);
    redis_.run_script("dedup_release", {redis_key(key)}, {owner}, [key](redis_reply reply) {
      if (reply.is_error())
        log::warn("dedup", "could not release a claim whose connection closed; it ends at its ttl",
                  {{"key", key}, {"why", reply.str}});
    });
  }
}

} // namespace baton::dedup
