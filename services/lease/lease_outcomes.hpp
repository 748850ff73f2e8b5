// Building lease outcomes from Redis' replies, shared by the files of lease_service.
#pragma once

#include <string>

#include "redis/redis_reply.hpp"
#include "services/lease/lease_service.hpp"

namespace baton::lease {

inline lease_outcome make(lease_outcome::kind what, std::string why = {}) {
  lease_outcome o;
  o.what = what;
  o.why = std::move(why);
  return o;
}

inline std::int64_t remaining_ms(clock::time_point until, clock::time_point now) {
  return std::chrono::duration_cast<milliseconds>(until - now).count();
}

// A reply that is not what our own script returns: Redis' error, or a bug.
inline lease_outcome unexpected(const redis_link::redis_reply& reply) {
  if (reply.is_unavailable()) return make(lease_outcome::kind::unavailable, reply.str);
  return make(lease_outcome::kind::unavailable,
              "unexpected reply from redis: " + (reply.str.empty() ? "(no text)" : reply.str));
}

// lease_acquire's refusal and lease_info share a layout from `offset` on:
// state, owner, node, client, token, remaining_ms. The caller checked the size.
inline lease_holder holder_from(const redis_link::redis_reply& r, std::size_t offset) {
  lease_holder h;
  h.state = r.elements[offset].str;
  h.owner = r.elements[offset + 1].str;
  h.node = r.elements[offset + 2].str;
  h.client = r.elements[offset + 3].str;
  h.token = r.elements[offset + 4].integer;
  h.remaining_ms = r.elements[offset + 5].integer;
  return h;
}

inline bool is_status_array(const redis_link::redis_reply& r, std::size_t min_size) {
  return r.kind == redis_link::reply_kind::array && r.elements.size() >= min_size &&
         r.elements[0].kind == redis_link::reply_kind::integer;
}

} // namespace baton::lease
