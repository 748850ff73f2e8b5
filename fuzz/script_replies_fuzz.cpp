// Fuzzes the decoders of Redis scripts' replies with any reply Redis could send: the input is
// RESP, read by hiredis' reader and copied into a redis_reply as the link does, so every shape
// (errors, nil, wrong types, wrong sizes, nesting) reaches the decoders. Each reply is also
// given as baton's own `unavailable`. Decoders covered: see fuzz/README.md.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/lease/grant_announcement.hpp"
#include "model/lease/task_lease.hpp"
#include "model/membership/node_list.hpp"
#include "model/secret/secret_record.hpp"
#include "redis/redis_reply.hpp"
#include "redis/redis_time.hpp"
#include "services/lease/lease_outcomes.hpp"
#include "services/rate/rate_reply.hpp"

namespace {

using baton::redis_link::redis_reply;

// lease_acquire's and lease_info's replies as lease_service reads them (its callbacks check
// the shape, then read the holder with the shared helpers).
void read_lease_replies(const redis_reply& r) {
  using namespace baton::lease;
  if (is_status_array(r, 3)) {
    if (r.elements[0].integer == 0 && r.elements.size() >= 7) {
      // As another uid sees it and as the holder's own: both ways of writing the refusal.
      auto holder = holder_from(r, 1);
      denied("fuzz", holder, baton::caller{holder.uid + 1, false});
      denied("fuzz", holder, baton::caller{holder.uid, false});
    }
  } else {
    unexpected(r);
  }
  if (r.kind == baton::redis_link::reply_kind::array && r.elements.size() >= 8 &&
      !r.elements[0].str.empty())
    holder_from(r, 0);
}

void decode_all(const redis_reply& r) {
  baton::lease::task_lease lease{"fuzz", "fuzz/lease", "owner", "node", ""};
  baton::lease::read_task_lease_reply(r, lease);
  std::vector<baton::membership::node_record> nodes;
  std::string why;
  baton::membership::parse_node_list(r, nodes, why);
  baton::secret::secret_record record;
  baton::secret::parse_record(r, record);
  read_lease_replies(r);
  baton::rate::rate_decision decision;
  baton::rate::read_rate_reply(r, decision);
  baton::redis_link::read_redis_time_us(r);
  // Pub/sub payloads are bulk strings: a grant announcement on a lease's watch channel.
  baton::lease::parse_grant_announcement(r.str);
}

// hiredis 0.14 allocates an array's elements when it reads the count, before they arrive
// (Redis is trusted to send what it announces), so "*750000000" would allocate 6 GB in the
// reader, not in baton's code. Inputs with a '*' before a large number anywhere are skipped
// (where hiredis' reader sees a line start is its business).
bool announces_huge_array(const std::uint8_t* data, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] != '*') continue;
    std::size_t count = 0, j = i + 1;
    while (j < size && data[j] >= '0' && data[j] <= '9' && count <= 65536)
      count = count * 10 + (data[j++] - '0');
    if (count > 65536) return true;
  }
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (announces_huge_array(data, size)) return 0;
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, reinterpret_cast<const char*>(data), size);
  // A few replies per input: pipelined calls read one reply after another.
  for (int i = 0; i < 8; ++i) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader, &raw) != REDIS_OK || raw == nullptr) break;
    auto reply = redis_reply::from_hiredis(*static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    decode_all(reply);
    decode_all(redis_reply::unavailable(reply.str));
  }
  redisReaderFree(reader);
  return 0;
}
