// What the families that offer Redis pub/sub channels (breaker:<name>, events:<topic>) share:
// Redis' confirmation of a SUBSCRIBE or UNSUBSCRIBE, and UNSUBSCRIBE without channels, which
// drops each of a family's channels a connection holds.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "daemon/client_connection.hpp"
#include "daemon/push_hub.hpp"
#include "protocol/reply_writer.hpp"

namespace baton {

/// [what, channel, count]: what Redis answers for each channel, with the count after it.
inline void write_channel_count(protocol::reply_writer& out, const char* what,
                                const std::string& channel, const client_connection& conn) {
  out.push(3);
  out.bulk(what);
  out.bulk(channel);
  out.integer(static_cast<std::int64_t>(conn.watching()));
}

/// Drops every push_hub topic of `conn` that starts with `message_prefix` (a family's
/// channels: "<message_prefix><name>"), confirming each as "<channel_prefix><name>" and
/// telling `dropped` the name; how many it dropped.
inline std::size_t unsubscribe_family(push_hub& pushes, client_connection& conn,
                                      protocol::reply_writer& out,
                                      const std::string& message_prefix,
                                      const std::string& channel_prefix,
                                      const std::function<void(const std::string&)>& dropped) {
  std::size_t count = 0;
  for (const auto& topic : pushes.topics_of(conn.id())) {
    if (topic.rfind(message_prefix, 0) != 0) continue;
    auto name = topic.substr(message_prefix.size());
    pushes.unsubscribe(topic, conn.id());
    if (dropped) dropped(name);
    write_channel_count(out, "unsubscribe", channel_prefix + name, conn);
    ++count;
  }
  return count;
}

} // namespace baton
