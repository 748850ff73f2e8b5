// A reply from Redis, copied out of hiredis' reader into a plain value type that can cross
// threads and actor mailboxes. `unavailable` is baton's own kind: the link could not get an
// answer within its budget (Redis down, slow, breaker open); `str` says why, and `sent` whether
// the call had left for Redis (so Redis may have run it) or certainly never did.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct redisReply;

namespace baton::redis_link {

enum class reply_kind { string, status, error, integer, nil, array, unavailable };

struct redis_reply {
  reply_kind kind = reply_kind::nil;
  std::string str;
  std::int64_t integer = 0;
  std::vector<redis_reply> elements;
  /// For `unavailable`: the call was written (or queued to be written) on a connection before
  /// the answer was given up, so Redis may have run it, or may still. False: it never left
  /// (no connection, breaker open, queue full), and certainly did not run.
  bool sent = false;

  bool is_error() const { return kind == reply_kind::error || kind == reply_kind::unavailable; }
  bool is_unavailable() const { return kind == reply_kind::unavailable; }
  /// Unavailable after it was sent: the outcome of a state change is unknown.
  bool outcome_unknown() const { return kind == reply_kind::unavailable && sent; }

  static redis_reply unavailable(std::string why) {
    redis_reply r;
    r.kind = reply_kind::unavailable;
    r.str = std::move(why);
    return r;
  }
  /// Unavailable for a call that had been sent: Redis may have run it.
  static redis_reply unanswered(std::string why) {
    auto r = unavailable(std::move(why));
    r.sent = true;
    return r;
  }

  /// Converts a hiredis reply tree (RESP2) into a value.
  static redis_reply from_hiredis(const redisReply& reply);
};

/// Every message type needs inspect for CAF; a reply is plain data.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, redis_reply& x) {
  return f(x.kind, x.str, x.integer, x.elements, x.sent);
}

} // namespace baton::redis_link
