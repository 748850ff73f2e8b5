// Conversion of hiredis replies; see redis_reply.hpp.
#include "redis/redis_reply.hpp"

#include <hiredis/hiredis.h>

namespace baton::redis_link {

redis_reply redis_reply::from_hiredis(const redisReply& reply) {
  redis_reply result;
  switch (reply.type) {
  case REDIS_REPLY_STRING:
    result.kind = reply_kind::string;
    result.str.assign(reply.str, reply.len);
    break;
  case REDIS_REPLY_STATUS:
    result.kind = reply_kind::status;
    result.str.assign(reply.str, reply.len);
    break;
  case REDIS_REPLY_ERROR:
    result.kind = reply_kind::error;
    result.str.assign(reply.str, reply.len);
    break;
  case REDIS_REPLY_INTEGER:
    result.kind = reply_kind::integer;
    result.integer = reply.integer;
    break;
  case REDIS_REPLY_ARRAY:
    result.kind = reply_kind::array;
    result.elements.reserve(reply.elements);
    for (std::size_t i = 0; i < reply.elements; ++i)
      result.elements.push_back(from_hiredis(*reply.element[i]));
    break;
  default:
    result.kind = reply_kind::nil;
  }
  return result;
}

} // namespace baton::redis_link
