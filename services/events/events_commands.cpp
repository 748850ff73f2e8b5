// EVENTS commands; see events_commands.hpp.
#include "services/events/events_commands.hpp"

#include "daemon/watch_limits.hpp"
#include "protocol/argument_numbers.hpp"
#include "protocol/reply_writer.hpp"
#include "services/events/events_channel_commands.hpp"
#include "services/events/events_service.hpp"

namespace baton {
namespace {

using protocol::command_id;
using protocol::reply_writer;

void write_events(reply_writer& out, const events::event_list& list) {
  out.array(list.size());
  for (const auto& e : list) {
    out.array(2);
    out.bulk(e.id);
    out.bulk(e.payload);
  }
}

/// Names: topics, groups and consumers are 1 to max_topic_length bytes without spaces or
/// braces (a topic is a Redis hash tag, and news carries it as text).
bool plain(const std::string& name, std::size_t max) {
  return !name.empty() && name.size() <= max && name.find_first_of("{} \r\n") == std::string::npos;
}

/// A PUBLISH's DEDUP key: an order id, a UUID, a hash.
constexpr std::size_t max_dedup_key_length = 256;

/// A watcher catching up reads its next batch only while its unsent output is under this: a
/// backlog is pushed as fast as the client reads it, never piled up until it is cut off.
constexpr std::size_t catch_up_mark = 1 << 20;

} // namespace

void connect_events_pushes(daemon_context& ctx) {
  if (!ctx.events) return;
  ctx.events->on_push(
      [&ctx](std::uint64_t connection, const std::string& topic, const events::event_list& list) {
        // One follower per connection and topic, by EVENTS WATCH or by SUBSCRIBE events:<topic>.
        bool message = ctx.pushes.watches(connection, events_message_prefix + topic);
        for (const auto& e : list)
          ctx.pushes.push_to(connection, [&](reply_writer& out) {
            if (message) return write_event_message(out, topic, e.id, e.payload);
            out.push(4);
            out.bulk("event");
            out.bulk(topic);
            out.bulk(e.id);
            out.bulk(e.payload);
          });
        return ctx.pushes.buffered(connection) < catch_up_mark;
      });
  auto* service = ctx.events;
  ctx.on_client_closed.push_back([service](std::uint64_t id) { service->connection_closed(id); });
}

void run_events_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                        client_connection& conn, daemon_context& ctx,
                        client_connection::reply_ticket ticket) {
  auto fail = [&](const std::string& text) { conn.fail(ticket, text); };
  const auto& limits = ctx.cfg.events;
  auto& service = *ctx.events;
  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive
  // READ and GROUP READ: [COUNT n] [BLOCK ms] from `at` on.
  auto read_options = [&](std::size_t at, std::size_t& count,
                          std::chrono::milliseconds& block) -> std::optional<std::string> {
    for (; at < args.size(); at += 2) {
      auto option = protocol::to_upper(args[at]);
      std::int64_t n = 0;
      if (at + 1 >= args.size()) return "ERR syntax error at '" + args[at] + "'";
      if (option == "COUNT") {
        if (!parse_non_negative(args[at + 1], n) || n < 1 ||
            static_cast<std::size_t>(n) > limits.max_read_count)
          return "ERR COUNT must be 1 to " + std::to_string(limits.max_read_count) +
                 " (events.max_read_count)";
        count = static_cast<std::size_t>(n);
      } else if (option == "BLOCK") {
        if (!parse_non_negative(args[at + 1], n) || n > limits.max_block.count())
          return "ERR BLOCK must be 0 to " + std::to_string(limits.max_block.count()) +
                 " ms (events.max_block_ms)";
        block = std::chrono::milliseconds(n);
      } else {
        return "ERR syntax error at '" + args[at] + "'";
      }
    }
    return std::nullopt;
  };
  auto name_error = [&](const char* what, const std::string& name) {
    return std::string("ERR a ") + what + " is 1 to " + std::to_string(limits.max_topic_length) +
           " bytes without spaces or braces, got '" + name.substr(0, 64) + "'";
  };

  if (spec.id == command_id::events_publish) {
    const auto& topic = args[2];
    if (!plain(topic, limits.max_topic_length)) return fail(name_error("topic", topic));
    if (args[3].size() > limits.max_payload_bytes)
      return fail("ERR the payload is " + std::to_string(args[3].size()) + " bytes; at most " +
                  std::to_string(limits.max_payload_bytes) + " (events.max_payload_bytes)");
    // EVENTS PUBLISH topic payload [DEDUP key]
    std::string dedup;
    if (args.size() > 4) {
      if (args.size() != 6 || protocol::to_upper(args[4]) != "DEDUP")
        return fail("ERR syntax error at '" + args[4].substr(0, 64) +
                    "' (EVENTS PUBLISH topic payload [DEDUP key])");
      dedup = args[5];
      if (!plain(dedup, max_dedup_key_length))
        return fail("ERR a dedup key is 1 to " + std::to_string(max_dedup_key_length) +
                    " bytes without spaces or braces, got '" + dedup.substr(0, 64) + "'");
    }
    return service.publish(
        topic, args[3], dedup,
        reply_with<std::string>(self, ticket,
                                [](reply_writer& out, const std::string& id) { out.bulk(id); }));
  }
  if (spec.id == command_id::events_unwatch) {
    std::vector<std::string> topics;
    if (args.size() == 2) {
      for (const auto& t : ctx.pushes.topics_of(conn.id()))
        if (t.rfind(events_watch_prefix, 0) == 0)
          topics.push_back(t.substr(events_watch_prefix.size()));
    } else {
      topics.assign(args.begin() + 2, args.end());
    }
    for (const auto& topic : topics) // a topic followed by SUBSCRIBE is UNSUBSCRIBE's
      if (ctx.pushes.unsubscribe(events_watch_prefix + topic, conn.id()))
        service.unwatch(conn.id(), topic);
    std::string bytes;
    reply_writer out(bytes, ticket.protocol);
    out.integer(static_cast<std::int64_t>(conn.watching()));
    return conn.complete(ticket, std::move(bytes));
  }
  if (spec.id == command_id::events_watch) {
    // EVENTS WATCH topic [FROM id]
    const auto& topic = args[2];
    if (!plain(topic, limits.max_topic_length)) return fail(name_error("topic", topic));
    std::string from = "$";
    if (args.size() == 5 && protocol::to_upper(args[3]) == "FROM") {
      from = args[4];
      if (from != "$" && !events::valid_event_id(from))
        return fail("ERR not an event id: '" + from.substr(0, 64) + "' ($, 0 or an id)");
    } else if (args.size() != 3) {
      return fail("ERR syntax error: EVENTS WATCH topic [FROM id]");
    }
    auto push_topic = events_watch_prefix + topic;
    if (ctx.pushes.watches(conn.id(), events_message_prefix + topic))
      return fail("ERR this connection follows '" + topic + "' by SUBSCRIBE events:" + topic +
                  "; UNSUBSCRIBE it first");
    if (!ctx.pushes.watches(conn.id(), push_topic)) {
      if (conn.watching() + 1 > max_watches_per_connection)
        return fail("ERR a connection watches at most " +
                    std::to_string(max_watches_per_connection) + " topics");
      if (!ctx.pushes.room_for(conn.id(), {push_topic})) return fail(ctx.pushes.limit_error());
    }
    // Subscribed first, so that the connection takes pushes (watch mode) by the time the
    // first events come; a WATCH that fails gives it back.
    ctx.pushes.subscribe(push_topic, conn.id());
    return service.watch(conn.id(), topic, from,
                         [self, ticket, push_topic, topic, &ctx](protocol::result<std::string> r) {
                           std::string bytes;
                           reply_writer out(bytes, ticket.protocol);
                           if (!r) {
                             // A WATCH again of the same topic took over: that one stands.
                             if (!ctx.events->following(self->id(), topic))
                               ctx.pushes.unsubscribe(push_topic, self->id());
                             out.error(r.error());
                           } else {
                             out.array(2);
                             out.bulk(*r);
                             out.integer(static_cast<std::int64_t>(self->watching()));
                           }
                           self->complete(ticket, std::move(bytes));
                         });
  }
  if (spec.id == command_id::events_read) {
    // EVENTS READ topic FROM id [COUNT n] [BLOCK ms]
    const auto& topic = args[2];
    if (!plain(topic, limits.max_topic_length)) return fail(name_error("topic", topic));
    if (protocol::to_upper(args[3]) != "FROM")
      return fail("ERR syntax error: EVENTS READ topic FROM id [COUNT n] [BLOCK ms]");
    const auto& from = args[4];
    if (from != "$" && !events::valid_event_id(from))
      return fail("ERR not an event id: '" + from.substr(0, 64) +
                  "' (an id as PUBLISH answers it, 0 for the oldest kept, or $ for only new)");
    std::size_t count = 100;
    std::chrono::milliseconds block{0};
    if (auto e = read_options(5, count, block)) return fail(*e);
    return service.read(topic, from, count, block,
                        reply_with<events::event_list>(self, ticket, write_events));
  }
  // EVENTS GROUP CREATE|READ|ACK|CLAIM topic group ...
  auto verb = protocol::to_upper(args[2]);
  if (verb != "CREATE" && verb != "READ" && verb != "ACK" && verb != "CLAIM")
    return fail("ERR unknown EVENTS GROUP verb '" + args[2].substr(0, 32) +
                "' (CREATE, READ, ACK or CLAIM)");
  if (args.size() < 5)
    return fail("ERR wrong number of arguments for 'events group " + protocol::to_lower(verb) +
                "'");
  const auto& topic = args[3];
  const auto& group = args[4];
  if (!plain(topic, limits.max_topic_length)) return fail(name_error("topic", topic));
  if (!plain(group, limits.max_topic_length)) return fail(name_error("group", group));
  if (verb == "CREATE") {
    // CREATE topic group [FROM $|0|id]
    std::string from = "$";
    if (args.size() == 7 && protocol::to_upper(args[5]) == "FROM") {
      from = args[6];
      if (from != "$" && !events::valid_event_id(from))
        return fail("ERR not an event id: '" + from.substr(0, 64) + "' ($, 0 or an id)");
    } else if (args.size() != 5) {
      return fail("ERR syntax error: EVENTS GROUP CREATE topic group [FROM $|0|id]");
    }
    return service.group_create(topic, group, from,
                                reply_with<bool>(self, ticket, [](reply_writer& out, bool made) {
                                  out.integer(made ? 1 : 0);
                                }));
  }
  if (verb == "ACK") {
    if (args.size() < 6)
      return fail("ERR wrong number of arguments for 'events group ack': topic group id...");
    std::vector<std::string> ids(args.begin() + 5, args.end());
    if (ids.size() > limits.max_read_count)
      return fail("ERR at most " + std::to_string(limits.max_read_count) + " ids in one ACK");
    for (const auto& id : ids)
      if (id == "0" || !events::valid_event_id(id))
        return fail("ERR not an event id: '" + id.substr(0, 64) + "'");
    return service.group_ack(
        topic, group, ids,
        reply_with<std::int64_t>(self, ticket,
                                 [](reply_writer& out, std::int64_t n) { out.integer(n); }));
  }
  if (args.size() < 6)
    return fail("ERR wrong number of arguments for 'events group " + protocol::to_lower(verb) +
                "': topic group consumer ...");
  const auto& consumer = args[5];
  if (!plain(consumer, limits.max_topic_length)) return fail(name_error("consumer", consumer));
  std::size_t count = 100;
  if (verb == "READ") {
    // READ topic group consumer [COUNT n] [BLOCK ms]
    std::chrono::milliseconds block{0};
    if (auto e = read_options(6, count, block)) return fail(*e);
    return service.group_read(topic, group, consumer, count, block,
                              reply_with<events::event_list>(self, ticket, write_events));
  }
  // CLAIM topic group consumer min_idle_ms [COUNT n]
  std::int64_t idle = 0;
  if (args.size() < 7 || !parse_non_negative(args[6], idle))
    return fail("ERR syntax error: EVENTS GROUP CLAIM topic group consumer min_idle_ms "
                "[COUNT n]");
  std::chrono::milliseconds ignored{0};
  if (auto e = read_options(7, count, ignored)) return fail(*e);
  return service.group_claim(topic, group, consumer, std::chrono::milliseconds(idle), count,
                             reply_with<events::event_list>(self, ticket, write_events));
}

} // namespace baton
