// Building lease results from Redis' replies, shared by the files of lease_service.
#pragma once

#include <string>

#include "redis/redis_reply.hpp"
#include "services/lease/lease_service.hpp"

namespace baton::lease {

using protocol::error_code;
using protocol::fail;
using protocol::failure;

inline std::int64_t remaining_ms(clock::time_point until, clock::time_point now) {
  return std::chrono::duration_cast<milliseconds>(until - now).count();
}

// A reply that is not what our own script returns: Redis' error, or a bug.
inline failure unexpected(const redis_link::redis_reply& reply) {
  if (reply.is_unavailable()) return fail(error_code::unavailable, reply.str);
  return fail(error_code::unavailable,
              "unexpected reply from redis: " + (reply.str.empty() ? "(no text)" : reply.str));
}

// DENIED for lease `name`, in LEASE's words, as `viewer` may see it: who holds it only for
// the holder's own uid and admins. The holder, so seen, is the context (ELECT words it its own
// way from it).
inline failure denied(const std::string& name, const lease_holder& holder, const caller& viewer) {
  auto h = holder.as_seen_by(viewer);
  bool named = !h.node.empty();
  if (h.state == "lock-delay")
    return fail(error_code::denied,
                "lease '" + name + "' is in lock-delay for " + std::to_string(h.remaining_ms) +
                    " ms after its holder" + (named ? " on node " + h.node : "") + " was lost",
                h);
  return fail(error_code::denied,
              "lease '" + name + "' is held by " +
                  (named ? "node " + h.node + (h.client.empty() ? "" : " (" + h.client + ")")
                         : std::string("another user")) +
                  " under token " + std::to_string(h.token) + " for " +
                  std::to_string(h.remaining_ms) + " ms more",
              h);
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
  h.uid = uid_in_description(h.client);
  return h;
}

inline bool is_status_array(const redis_link::redis_reply& r, std::size_t min_size) {
  return r.kind == redis_link::reply_kind::array && r.elements.size() >= min_size &&
         r.elements[0].kind == redis_link::reply_kind::integer;
}

} // namespace baton::lease
