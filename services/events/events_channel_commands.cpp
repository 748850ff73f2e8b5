// SUBSCRIBE events:<topic>; see events_channel_commands.hpp.
#include "services/events/events_channel_commands.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include "daemon/pubsub_channels.hpp"
#include "daemon/watch_limits.hpp"
#include "services/events/events_service.hpp"

namespace baton {
namespace {

using protocol::command_id;
using protocol::error_code;

const std::string events_channel_prefix = "events:";

/// A SUBSCRIBE on its way. First every topic's newest id is read (where "from now" begins);
/// only when all are known is anything subscribed, so a SUBSCRIBE that fails changes nothing,
/// and its reply goes out before the first message (followers start after it is written).
struct pending_subscribe {
  std::shared_ptr<client_connection> conn;
  client_connection::reply_ticket ticket;
  std::vector<std::string> channels;       ///< as named, repeats kept (one reply each)
  std::map<std::string, std::string> from; ///< topic -> its newest id
  std::size_t left = 0;
  std::optional<protocol::failure> failed;
};

void finish_subscribe(daemon_context& ctx, pending_subscribe& s) {
  auto& conn = *s.conn;
  if (s.failed) return conn.fail(s.ticket, s.failed->code, s.failed->why);
  if (conn.is_closed()) return;
  // Asked again: other watches of the same uid may have taken the room meanwhile.
  std::vector<std::string> push_topics;
  for (const auto& [topic, from] : s.from)
    if (!ctx.pushes.watches(conn.id(), events_message_prefix + topic))
      push_topics.push_back(events_message_prefix + topic);
  if (!ctx.pushes.room_for(conn.id(), push_topics))
    return conn.fail(s.ticket, ctx.pushes.limit_error());
  // As Redis answers: a confirmation per channel named, each with the count after it.
  std::string bytes;
  protocol::reply_writer out(bytes, s.ticket.protocol);
  std::vector<std::string> started;
  for (const auto& channel : s.channels) {
    auto topic = channel.substr(events_channel_prefix.size());
    if (ctx.pushes.subscribe(events_message_prefix + topic, conn.id())) started.push_back(topic);
    write_channel_count(out, "subscribe", channel, conn);
  }
  conn.complete(s.ticket, std::move(bytes));
  for (const auto& topic : started) // after the reply: no message can come before it
    ctx.events->watch(conn.id(), topic, s.from[topic], [](protocol::result<std::string>) {});
}

} // namespace

void write_event_message(protocol::reply_writer& out, const std::string& topic,
                         const std::string& id, const std::string& payload) {
  out.push(3);
  out.bulk("message");
  out.bulk(events_channel_prefix + topic);
  out.bulk(id + " " + payload);
}

bool events_channel_command(const protocol::command_spec& spec,
                            const std::vector<std::string>& args, client_connection& conn,
                            daemon_context& ctx, client_connection::reply_ticket ticket) {
  if (!ctx.events || args.size() < 2) return false;
  for (std::size_t i = 1; i < args.size(); ++i)
    if (args[i].rfind(events_channel_prefix, 0) != 0) return false;
  bool subscribe = spec.id == command_id::subscribe;
  std::vector<std::string> topics; // without repeats
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto topic = args[i].substr(events_channel_prefix.size());
    if (topic.empty() || topic.size() > ctx.cfg.events.max_topic_length ||
        topic.find_first_of("{} \r\n") != std::string::npos) {
      conn.fail(ticket, error_code::err,
                "a topic is 1 to " + std::to_string(ctx.cfg.events.max_topic_length) +
                    " bytes without spaces or braces, got '" + topic.substr(0, 64) + "'");
      return true;
    }
    if (subscribe && !ctx.access.allows(conn.peer(), "events", protocol::naming::one, {topic})) {
      conn.fail(ticket, error_code::noperm,
                conn.peer().describe() + " may not watch '" + args[i].substr(0, 64) + "'");
      return true;
    }
    if (subscribe && ctx.pushes.watches(conn.id(), events_watch_prefix + topic)) {
      conn.fail(ticket, error_code::err,
                "this connection follows '" + topic + "' by EVENTS WATCH; UNWATCH it first");
      return true;
    }
    if (std::find(topics.begin(), topics.end(), topic) == topics.end())
      topics.push_back(std::move(topic));
  }

  if (!subscribe) { // as Redis answers: one confirmation per channel named
    std::string bytes;
    protocol::reply_writer out(bytes, ticket.protocol);
    for (std::size_t i = 1; i < args.size(); ++i) {
      auto topic = args[i].substr(events_channel_prefix.size());
      if (ctx.pushes.unsubscribe(events_message_prefix + topic, conn.id()))
        ctx.events->unwatch(conn.id(), topic);
      write_channel_count(out, "unsubscribe", args[i], conn);
    }
    conn.complete(ticket, std::move(bytes));
    return true;
  }

  std::vector<std::string> push_topics;
  for (const auto& topic : topics)
    if (!ctx.pushes.watches(conn.id(), events_message_prefix + topic))
      push_topics.push_back(events_message_prefix + topic);
  if (conn.watching() + push_topics.size() > max_watches_per_connection) {
    conn.fail(ticket, error_code::err,
              "a connection watches at most " + std::to_string(max_watches_per_connection) +
                  " topics");
    return true;
  }
  if (!ctx.pushes.room_for(conn.id(), push_topics)) {
    conn.fail(ticket, ctx.pushes.limit_error());
    return true;
  }
  auto s = std::make_shared<pending_subscribe>();
  s->conn = conn.shared_from_this();
  s->ticket = ticket;
  s->channels.assign(args.begin() + 1, args.end());
  s->left = topics.size();
  for (const auto& topic : topics)
    ctx.events->newest(topic, [s, topic, &ctx](protocol::result<std::string> r) {
      if (!r && !s->failed) s->failed = r.error();
      if (r) s->from[topic] = *r;
      if (--s->left == 0) finish_subscribe(ctx, *s);
    });
  return true;
}

std::size_t unsubscribe_events_channels(daemon_context& ctx, client_connection& conn,
                                        protocol::reply_writer& out) {
  return unsubscribe_family(ctx.pushes, conn, out, events_message_prefix, events_channel_prefix,
                            [&](const std::string& topic) {
                              if (ctx.events) ctx.events->unwatch(conn.id(), topic);
                            });
}

} // namespace baton
