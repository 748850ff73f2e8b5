// Breaker pushes; see breaker_watch_commands.hpp.
#include "services/breaker/breaker_watch_commands.hpp"

#include "daemon/pubsub_channels.hpp"
#include "daemon/watch_limits.hpp"
#include "services/breaker/breaker_service.hpp"

namespace baton {
namespace {

using breaker::breaker_state;
using breaker::state_name;
using protocol::command_id;
using protocol::error_code;

const std::string breaker_channel_prefix = "breaker:";
const std::string watch_prefix = "breaker-watch:";         ///< BREAKER WATCH's topic of a name
const std::string breaker_message_prefix = "msg:breaker:"; ///< SUBSCRIBE's topic of a name

void write_watch_push(protocol::reply_writer& out, const std::string& name, breaker_state state,
                      std::int64_t generation, const std::string& node) {
  out.push(5);
  out.bulk("breaker");
  out.bulk(state_name(state));
  out.bulk(name);
  out.integer(generation);
  out.bulk(node);
}

void write_message_push(protocol::reply_writer& out, const std::string& name, breaker_state state,
                        std::int64_t generation, const std::string& node) {
  out.push(3);
  out.bulk("message");
  out.bulk(breaker_channel_prefix + name);
  out.bulk(std::string(state_name(state)) + " " + std::to_string(generation) + " " + node);
}

} // namespace

void connect_breaker_pushes(daemon_context& ctx) {
  if (!ctx.breakers) return;
  ctx.breakers->on_change([&ctx](const std::string& name, breaker_state state,
                                 std::int64_t generation, const std::string& node) {
    ctx.pushes.publish(watch_prefix + name, [&](protocol::reply_writer& out) {
      write_watch_push(out, name, state, generation, node);
    });
    ctx.pushes.publish(breaker_message_prefix + name, [&](protocol::reply_writer& out) {
      write_message_push(out, name, state, generation, node);
    });
  });
}

void run_breaker_watch(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket) {
  std::string bytes;
  protocol::reply_writer out(bytes, ticket.protocol);
  if (spec.id == command_id::breaker_unwatch) {
    std::vector<std::string> topics;
    if (args.size() == 2) {
      for (const auto& topic : ctx.pushes.topics_of(conn.id()))
        if (topic.rfind(watch_prefix, 0) == 0) topics.push_back(topic);
    } else {
      for (std::size_t i = 2; i < args.size(); ++i)
        topics.push_back(watch_prefix + args[i]);
    }
    for (const auto& topic : topics)
      ctx.pushes.unsubscribe(topic, conn.id());
    out.integer(static_cast<std::int64_t>(conn.watching()));
    return conn.complete(ticket, std::move(bytes));
  }
  // Every name is checked before any is watched: a bad one changes nothing.
  std::vector<std::pair<breaker_state, std::int64_t>> now;
  for (std::size_t i = 2; i < args.size(); ++i) {
    auto state = ctx.breakers->peek(args[i]);
    if (!state) return conn.fail(ticket, state.error().code, state.error().why);
    now.push_back(*state);
  }
  if (conn.watching() + args.size() - 2 > max_watches_per_connection)
    return conn.fail(ticket, error_code::err,
                     "a connection watches at most " + std::to_string(max_watches_per_connection) +
                         " topics");
  std::vector<std::string> topics;
  for (std::size_t i = 2; i < args.size(); ++i)
    topics.push_back(watch_prefix + args[i]);
  if (!ctx.pushes.room_for(conn.id(), topics)) return conn.fail(ticket, ctx.pushes.limit_error());
  for (const auto& topic : topics)
    ctx.pushes.subscribe(topic, conn.id());
  out.integer(static_cast<std::int64_t>(conn.watching()));
  conn.complete(ticket, std::move(bytes));
  // Then the state each is in now, so that a watcher needs no CHECK to start from.
  for (std::size_t i = 2; i < args.size(); ++i)
    ctx.pushes.push_to(conn.id(), [&](protocol::reply_writer& w) {
      write_watch_push(w, args[i], now[i - 2].first, now[i - 2].second, ctx.cfg.node_id);
    });
}

bool breaker_channel_command(const protocol::command_spec& spec,
                             const std::vector<std::string>& args, client_connection& conn,
                             daemon_context& ctx, client_connection::reply_ticket ticket) {
  if (!ctx.breakers || args.size() < 2) return false;
  for (std::size_t i = 1; i < args.size(); ++i)
    if (args[i].rfind(breaker_channel_prefix, 0) != 0) return false;
  bool subscribe = spec.id == command_id::subscribe;
  if (subscribe) {
    for (std::size_t i = 1; i < args.size(); ++i) {
      auto name = std::string_view(args[i]).substr(breaker_channel_prefix.size());
      if (!ctx.access.allows(conn.peer(), "breaker", protocol::naming::one, {name})) {
        conn.fail(ticket, error_code::noperm,
                  conn.peer().describe() + " may not watch '" + args[i].substr(0, 64) + "'");
        return true;
      }
    }
    for (std::size_t i = 1; i < args.size(); ++i) {
      auto state = ctx.breakers->peek(args[i].substr(breaker_channel_prefix.size()));
      if (!state) {
        conn.fail(ticket, state.error().code, state.error().why);
        return true;
      }
    }
    if (conn.watching() + args.size() - 1 > max_watches_per_connection) {
      conn.fail(ticket, error_code::err,
                "a connection watches at most " + std::to_string(max_watches_per_connection) +
                    " topics");
      return true;
    }
    std::vector<std::string> topics;
    for (std::size_t i = 1; i < args.size(); ++i)
      topics.push_back(breaker_message_prefix + args[i].substr(breaker_channel_prefix.size()));
    if (!ctx.pushes.room_for(conn.id(), topics)) {
      conn.fail(ticket, ctx.pushes.limit_error());
      return true;
    }
  }
  std::string bytes;
  protocol::reply_writer out(bytes, ticket.protocol);
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto topic = breaker_message_prefix + args[i].substr(breaker_channel_prefix.size());
    if (subscribe)
      ctx.pushes.subscribe(topic, conn.id());
    else
      ctx.pushes.unsubscribe(topic, conn.id());
    write_channel_count(out, subscribe ? "subscribe" : "unsubscribe", args[i], conn);
  }
  conn.complete(ticket, std::move(bytes));
  return true;
}

std::size_t unsubscribe_breaker_channels(daemon_context& ctx, client_connection& conn,
                                         protocol::reply_writer& out) {
  return unsubscribe_family(ctx.pushes, conn, out, breaker_message_prefix, breaker_channel_prefix,
                            nullptr);
}

} // namespace baton
