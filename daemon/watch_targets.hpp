// What a client can watch, and how its events are written. A connection follows leases and
// election groups in one of two styles:
// - `LEASE WATCH name` / `ELECT WATCH group`: structured pushes
//   ["lease", event, name, token, node] and ["elect", event, group, term, candidate, node];
// - `SUBSCRIBE lease:<name>` / `SUBSCRIBE elect:<group>`: Redis pub/sub messages
//   ["message", channel, "<event> <token> <node>"] (elect: "<event> <term> <node> <candidate>"),
//   so the pub/sub helpers of every Redis client library receive baton's events unchanged.
// Each (style, kind, name) is one push_hub topic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/lease/lease_event.hpp"
#include "protocol/reply_writer.hpp"

namespace baton {

struct watch_target {
  enum class style { watch, message };
  style how = style::watch;
  bool elect = false;
  std::string name; ///< the lease name, or the group

  /// "lease:<name>" or "elect:<group>": the pub/sub channel, and the watch-style topic.
  std::string channel() const;
  /// The push_hub topic (message style: "msg:" + channel).
  std::string topic() const;
  /// The lease followed: the name, or "elect:<group>".
  std::string lease() const;
};

/// The target of a push_hub topic (inverse of watch_target::topic); empty for topics of the
/// hub that follow no lease (SECRET WATCH, SESSION WATCH, SUBSCRIBE sessions).
std::optional<watch_target> target_of_topic(const std::string& topic);
/// A SUBSCRIBE channel's target; empty for a channel baton has no events for.
std::optional<watch_target> target_of_channel(const std::string& channel);
/// Election leases are "elect:<group>".
bool is_elect_lease(const std::string& lease);
std::string group_of(const std::string& elect_lease);
std::string elect_lease(const std::string& group);

/// Writes one event for a target: what happened, the token (term), and the holder's node and
/// META (the candidate).
void write_event(protocol::reply_writer& out, const watch_target& target, const char* event,
                 std::int64_t token, const std::string& node, const std::string& meta);
/// The event's name for a target: lease events as they are; for a group `leader` (acquired),
/// `lost`, or `vacant` (released or expired).
const char* event_name(const watch_target& target, lease::lease_event::kind what);

} // namespace baton
