// Acquisitions that Redis did not answer within their budget; part of lease_service (see
// lease_service.hpp). Such a call may have been granted in Redis, and nobody would track the
// grant: the name stayed taken until its TTL (up to a day) and the client, told UNAVAILABLE,
// could not know whether to count on it. Now the daemon abandons the grant (by the owner id
// of the client's connection, which names this request's grant and nothing else) and answers
// once that is done: UNAVAILABLE then means "not yours, and nobody's on your account".
#include "common/log.hpp"
#include "model/lease/lease_keys.hpp"
#include "services/lease/lease_outcomes.hpp"
#include "services/lease/lease_service.hpp"

namespace baton::lease {

using redis_link::redis_reply;
using redis_link::reply_kind;

void lease_service::resolve_unanswered(const acquire_request& request, const std::string& owner,
                                       const std::string& request_id, const redis_reply& reply,
                                       const lease_callback<lease_grant>& done) {
  auto why = reply.str.empty() ? std::string("no answer in time") : reply.str;
  if (auto it = held_.find(request.name);
      it != held_.end() && it->second.connection == request.connection) {
    // A re-acquire: the earlier grant stands, whatever this one did (Redis never shortens it).
    return done(fail(error_code::unavailable, "redis did not answer in time (" + why +
                                                  "); the lease is still yours under token " +
                                                  std::to_string(it->second.token) +
                                                  " until its earlier end"));
  }
  auto name = request.name;
  // Sent from the reply's callback, so on the same Redis connection as the acquire
  // (redis_pool keeps a client's calls together): Redis runs it after the acquire.
  // The request's id, not only its owner: a stale abandon retried later must not take a
  // grant the same connection got since (the chaos harness's lease checker caught that).
  cleanups_.run("lease-abandon " + request_id, "lease_abandon",
                {keys_for(settings_.prefix, name).lease,
                 abandoned_key(settings_.prefix, name, owner, request_id)},
                {owner, events_channel(settings_.prefix), name, request_id,
                 std::to_string(request.ttl.count())},
                [this, name, why, done](const redis_reply& r) {
                  bool landed = r.kind == reply_kind::integer;
                  if (landed && r.integer > 0) {
                    log::info("lease", "abandoned a grant whose answer came too late",
                              {{"lease", name}, {"token", std::to_string(r.integer)}});
                    wake(name);
                  }
                  // Certain either way for the caller: it holds nothing.
                  done(fail(error_code::unavailable,
                            "redis did not answer in time (" + why + "); the lease is not yours: " +
                                (landed ? "any grant made meanwhile was released"
                                        : "a grant Redis may have made is released as soon as "
                                          "Redis answers")));
                });
}

} // namespace baton::lease
