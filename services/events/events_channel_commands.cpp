// SUBSCRIBE events:<topic>; see events_channel_commands.hpp.
#include "services/events/events_channel_commands.hpp"

#include <algorithm>
#include <memory>

#include "services/events/events_service.hpp"

namespace baton {
namespace {

using protocol::command_id;
using protocol::error_code;

const std::string channel_prefix = "events:";
/// Topics one connection may follow, as for leases and breakers.
constexpr std::size_t max_watches_per_connection = 10000;

void write_count(protocol::reply_writer& out, const char* what, const std::string& channel,
                 const client_connection& conn) {
  out.push(3);
  out.bulk(what);
  out.bulk(channel);
  out.integer(static_cast<std::int64_t>(conn.watching()));
}

/// A SUBSCRIBE on its way: it answers once every new topic's follower knows where it starts.
struct pending_subscribe {
  std::shared_ptr<client_connection> conn;
  client_connection::reply_ticket ticket;
  std::vector<std::string> topics;     ///< as named, without repeats
  std::vector<std::string> new_topics; ///< not followed by this connection before
  std::size_t left = 0;
  std::optional<protocol::failure> failed;
};

void finish_subscribe(daemon_context& ctx, pending_subscribe& s) {
  auto& conn = *s.conn;
  if (s.failed) { // all or none: the topics this SUBSCRIBE began to follow are let go
    for (const auto& topic : s.new_topics)
      if (ctx.pushes.unsubscribe(events_message_prefix + topic, conn.id()))
        ctx.events->unwatch(conn.id(), topic);
    return conn.fail(s.ticket, s.failed->code, s.failed->why);
  }
  // Counted as Redis counts them: each confirmation with the channels subscribed up to it.
  std::string bytes;
  protocol::reply_writer out(bytes, s.ticket.protocol);
  auto count = conn.watching() - s.new_topics.size();
  for (const auto& topic : s.topics) {
    if (std::find(s.new_topics.begin(), s.new_topics.end(), topic) != s.new_topics.end())
      ++count;
    out.push(3);
    out.bulk("subscribe");
    out.bulk(channel_prefix + topic);
    out.integer(static_cast<std::int64_t>(count));
  }
  conn.complete(s.ticket, std::move(bytes));
}

} // namespace

void write_event_message(protocol::reply_writer& out, const std::string& topic,
                         const std::string& id, const std::string& payload) {
  out.push(3);
  out.bulk("message");
  out.bulk(channel_prefix + topic);
  out.bulk(id + " " + payload);
}

bool events_channel_command(const protocol::command_spec& spec,
                            const std::vector<std::string>& args, client_connection& conn,
                            daemon_context& ctx, client_connection::reply_ticket ticket) {
  if (!ctx.events || args.size() < 2) return false;
  for (std::size_t i = 1; i < args.size(); ++i)
    if (args[i].rfind(channel_prefix, 0) != 0) return false;
  bool subscribe = spec.id == command_id::subscribe;
  auto s = std::make_shared<pending_subscribe>();
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto topic = args[i].substr(channel_prefix.size());
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
    if (std::find(s->topics.begin(), s->topics.end(), topic) == s->topics.end())
      s->topics.push_back(std::move(topic));
  }

  if (!subscribe) {
    std::string bytes;
    protocol::reply_writer out(bytes, ticket.protocol);
    for (const auto& topic : s->topics) {
      if (ctx.pushes.unsubscribe(events_message_prefix + topic, conn.id()))
        ctx.events->unwatch(conn.id(), topic);
      write_count(out, "unsubscribe", channel_prefix + topic, conn);
    }
    conn.complete(ticket, std::move(bytes));
    return true;
  }

  std::vector<std::string> push_topics;
  for (const auto& topic : s->topics)
    if (!ctx.pushes.watches(conn.id(), events_message_prefix + topic)) {
      s->new_topics.push_back(topic);
      push_topics.push_back(events_message_prefix + topic);
    }
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
  s->conn = conn.shared_from_this();
  s->ticket = ticket;
  s->left = s->new_topics.size();
  if (s->left == 0) {
    finish_subscribe(ctx, *s);
    return true;
  }
  // Subscribed first, so that the connection takes pushes by the time the first events come.
  for (const auto& topic : push_topics)
    ctx.pushes.subscribe(topic, conn.id());
  for (const auto& topic : s->new_topics)
    ctx.events->watch(conn.id(), topic, "$", [s, &ctx](protocol::result<std::string> r) {
      if (!r && !s->failed) s->failed = r.error();
      if (--s->left == 0) finish_subscribe(ctx, *s);
    });
  return true;
}

std::size_t unsubscribe_events_channels(daemon_context& ctx, client_connection& conn,
                                        protocol::reply_writer& out) {
  std::size_t dropped = 0;
  for (const auto& topic : ctx.pushes.topics_of(conn.id())) {
    if (topic.rfind(events_message_prefix, 0) != 0) continue;
    auto name = topic.substr(events_message_prefix.size());
    ctx.pushes.unsubscribe(topic, conn.id());
    if (ctx.events) ctx.events->unwatch(conn.id(), name);
    write_count(out, "unsubscribe", channel_prefix + name, conn);
    ++dropped;
  }
  return dropped;
}

} // namespace baton
