// Watch commands and lease pushes; see watch_commands.hpp.
#include "daemon/watch_commands.hpp"

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <memory>

#include "daemon/watch_limits.hpp"
#include "daemon/watch_targets.hpp"
#include "model/lease/lease_keys.hpp"
#include "protocol/reply_writer.hpp"
#include "services/breaker/breaker_watch_commands.hpp"
#include "services/events/events_channel_commands.hpp"
#include "services/lease/lease_service.hpp"
#include "services/lease/lease_watch.hpp"
#include "services/session/session_commands.hpp"

namespace baton {

using lease::lease_event;
using style = watch_target::style;

namespace {

// SUBSCRIBE sessions / UNSUBSCRIBE sessions: the session events as pub/sub messages. Answered
// here because they follow no lease; true if the command was one of these.
bool session_channel_command(const protocol::command_spec& spec,
                             const std::vector<std::string>& args, client_connection& conn,
                             daemon_context& ctx, client_connection::reply_ticket ticket) {
  bool subscribe = spec.id == protocol::command_id::subscribe;
  if (args.size() != 2 || args[1] != session_channel) return false;
  if (subscribe && !ctx.sessions) {
    conn.fail(ticket, "ERR sessions are off on this daemon: they need secrets.keks");
    return true;
  }
  if (subscribe && !ctx.access.allows(conn.peer(), "session", protocol::naming::owned)) {
    conn.fail(ticket, "NOPERM " + conn.peer().describe() + " may not watch 'sessions'");
    return true;
  }
  if (subscribe && !ctx.pushes.room_for(conn.id(), {session_message_topic})) {
    conn.fail(ticket, ctx.pushes.limit_error());
    return true;
  }
  if (subscribe)
    ctx.pushes.subscribe(session_message_topic, conn.id());
  else
    ctx.pushes.unsubscribe(session_message_topic, conn.id());
  std::string bytes;
  protocol::reply_writer out(bytes, ticket.protocol);
  out.push(3);
  out.bulk(subscribe ? "subscribe" : "unsubscribe");
  out.bulk(session_channel);
  out.integer(static_cast<std::int64_t>(conn.watching()));
  conn.complete(ticket, std::move(bytes));
  return true;
}

// Every target that hears of a lease event: the lease and, for an election lease, its group,
// each in both styles.
std::vector<watch_target> targets_of(const std::string& lease) {
  std::vector<watch_target> targets;
  for (auto how : {style::watch, style::message}) {
    targets.push_back({how, false, lease});
    if (is_elect_lease(lease)) targets.push_back({how, true, group_of(lease)});
  }
  return targets;
}

// A lease's watchers of another uid hear that it changed hands, not where (its node); an
// election's leader is public to its group (as ELECT LEADER is).
void publish(daemon_context& ctx, const lease_event& e) {
  for (const auto& target : targets_of(e.name)) {
    push_hub::encoder full = [&](protocol::reply_writer& out) {
      write_event(out, target, event_name(target, e.what), e.token, e.node, e.meta);
    };
    if (target.elect) {
      ctx.pushes.publish(target.topic(), full);
      continue;
    }
    push_hub::encoder redacted = [&](protocol::reply_writer& out) {
      write_event(out, target, event_name(target, e.what), e.token, "", "");
    };
    ctx.pushes.publish_each(target.topic(), [&](const client_connection& conn) {
      return ctx.access.caller_for(conn.peer()).may_see(e.uid) ? &full : &redacted;
    });
  }
}

// A holder hears `lost` on its own connection (RESP3) unless it watches the lease anyway.
void tell_holder(daemon_context& ctx, const lease_event& e) {
  if (e.connection == 0) return;
  auto targets = targets_of(e.name);
  for (const auto& target : targets)
    if (ctx.pushes.watches(e.connection, target.topic())) return;
  watch_target own{style::watch, is_elect_lease(e.name),
                   is_elect_lease(e.name) ? group_of(e.name) : e.name};
  ctx.pushes.push_to(e.connection, [&](protocol::reply_writer& out) {
    write_event(out, own, event_name(own, e.what), e.token, e.node, e.meta);
  });
}

// -- starting to watch -------------------------------------------------------------------

// One WATCH or SUBSCRIBE on its way: it answers once every target is followed without a gap
// (subscribed in Redis, and the holder read), so that nothing after the reply is missed.
struct pending_watch {
  std::shared_ptr<client_connection> conn;
  client_connection::reply_ticket ticket;
  bool subscribe_reply = false; ///< SUBSCRIBE: Redis' reply shape
  std::vector<watch_target> targets;
  std::size_t left = 0;
  bool finished = false;
  std::unique_ptr<boost::asio::steady_timer> budget;
  std::size_t reserved = 0; ///< room held in push_hub while it follows the names
};

std::vector<std::string> topics_of(const std::vector<watch_target>& targets) {
  std::vector<std::string> topics;
  for (const auto& target : targets)
    topics.push_back(target.topic());
  return topics;
}

void finish_watch(daemon_context& ctx, pending_watch& w, bool in_time) {
  if (w.finished) return;
  w.finished = true;
  w.budget->cancel();
  ctx.pushes.release(w.conn->peer().uid, w.reserved); // what it subscribes counts from here
  std::string bytes;
  protocol::reply_writer out(bytes, w.ticket.protocol);
  if (!in_time || w.conn->is_closed()) {
    for (const auto& target : w.targets)
      ctx.lease_watch->unwatch(target.lease());
    out.error("UNAVAILABLE could not follow them through redis in time; nothing is watched");
    return w.conn->complete(w.ticket, std::move(bytes));
  }
  // Asked again: other WATCHes of the same uid may have ended while this one waited.
  if (!ctx.pushes.room_for(w.conn->id(), topics_of(w.targets))) {
    for (const auto& target : w.targets)
      ctx.lease_watch->unwatch(target.lease());
    out.error(ctx.pushes.limit_error());
    return w.conn->complete(w.ticket, std::move(bytes));
  }
  // All at once on this thread: no event can fall between the reply and the first push.
  for (const auto& target : w.targets) {
    if (!ctx.pushes.subscribe(target.topic(), w.conn->id()))
      ctx.lease_watch->unwatch(target.lease()); // it already watched this one
    if (w.subscribe_reply) {
      out.push(3);
      out.bulk("subscribe");
      out.bulk(target.channel());
      out.integer(static_cast<std::int64_t>(w.conn->watching()));
    }
  }
  if (!w.subscribe_reply) out.integer(static_cast<std::int64_t>(w.conn->watching()));
  w.conn->complete(w.ticket, std::move(bytes));
  // A group's watcher hears who leads it now, then every change.
  for (const auto& target : w.targets) {
    if (!target.elect) continue;
    auto h = ctx.lease_watch->known(target.lease());
    ctx.pushes.push_to(w.conn->id(), [&](protocol::reply_writer& push) {
      write_event(push, target, h.token != 0 ? "leader" : "vacant", h.token, h.node, h.meta);
    });
  }
}

void start_watch(daemon_context& ctx, std::shared_ptr<pending_watch> w) {
  w->budget = std::make_unique<boost::asio::steady_timer>(ctx.io);
  w->budget->expires_after(ctx.cfg.redis.connect_timeout + ctx.cfg.redis.call_timeout);
  w->budget->async_wait([&ctx, w](const boost::system::error_code& ec) {
    if (!ec) finish_watch(ctx, *w, false);
  });
  w->left = w->targets.size();
  for (const auto& target : w->targets)
    ctx.lease_watch->watch(target.lease());
  for (const auto& target : w->targets)
    ctx.lease_watch->when_followed(target.lease(), [&ctx, w] {
      if (--w->left == 0) finish_watch(ctx, *w, true);
    });
}

// Which of the six commands: starting or stopping, pub/sub shaped or not, groups or leases.
struct command_kind {
  bool start = false;
  bool pubsub = false; ///< SUBSCRIBE|UNSUBSCRIBE: Redis' reply shapes, channels as names
  bool elect = false;  ///< ELECT WATCH|UNWATCH
};

command_kind kind_of(protocol::command_id id) {
  using protocol::command_id;
  return {id == command_id::lease_watch || id == command_id::elect_watch ||
              id == command_id::subscribe,
          id == command_id::subscribe || id == command_id::unsubscribe,
          id == command_id::elect_watch || id == command_id::elect_unwatch};
}

// The targets a command names, without repeats; or the reason it is refused.
std::string targets_of_command(command_kind kind, const std::vector<std::string>& args,
                               client_connection& conn, daemon_context& ctx,
                               std::vector<watch_target>& targets) {
  std::size_t first = kind.pubsub ? 1 : 2; // SUBSCRIBE channel… vs LEASE WATCH name…
  for (std::size_t i = first; i < args.size(); ++i) {
    watch_target target{style::watch, kind.elect, args[i]};
    if (kind.pubsub) {
      auto found = target_of_channel(args[i]);
      if (!found && (args[i].rfind("events:", 0) == 0 || args[i].rfind("breaker:", 0) == 0))
        return "ERR events:<topic> and breaker:<name> channels go in a SUBSCRIBE of their own, "
               "not with '" +
               args[i].substr(0, 64) + "' beside other channels";
      if (!found)
        return "ERR baton's channels are lease:<name>, elect:<group>, breaker:<name>, "
               "events:<topic> and sessions, not '" +
               args[i].substr(0, 64) + "'";
      target = *found;
      if (!ctx.access.allows(conn.peer(), target.elect ? "elect" : "lease", protocol::naming::one,
                             {target.name}))
        return "NOPERM " + conn.peer().describe() + " may not watch '" + args[i].substr(0, 64) +
               "'";
    }
    auto problem = lease::check_name(target.lease(), ctx.cfg.leases.max_name_length);
    if (!problem.empty())
      return "ERR " + std::string(target.elect ? "group" : "lease") + " '" +
             target.name.substr(0, 64) + "': " + problem;
    auto same = [&](const watch_target& t) { return t.topic() == target.topic(); };
    if (std::none_of(targets.begin(), targets.end(), same)) targets.push_back(std::move(target));
  }
  return {};
}

void stop_watching(daemon_context& ctx, client_connection& conn, command_kind kind,
                   std::vector<watch_target> targets, protocol::reply_writer& out) {
  bool others_stopped = false;
  if (targets.empty()) { // without names: all of this command's kind
    if (kind.pubsub && ctx.pushes.unsubscribe(session_message_topic, conn.id())) {
      others_stopped = true;
      out.push(3);
      out.bulk("unsubscribe");
      out.bulk(session_channel);
      out.integer(static_cast<std::int64_t>(conn.watching()));
    }
    if (kind.pubsub && unsubscribe_breaker_channels(ctx, conn, out) > 0) others_stopped = true;
    if (kind.pubsub && unsubscribe_events_channels(ctx, conn, out) > 0) others_stopped = true;
    for (const auto& topic : ctx.pushes.topics_of(conn.id())) {
      auto target = target_of_topic(topic);
      if (!target) continue; // not a lease's (SECRET UNWATCH's, SESSION UNWATCH's)
      bool ours = kind.pubsub ? target->how == style::message
                              : target->how == style::watch && target->elect == kind.elect;
      if (ours) targets.push_back(*target);
    }
  }
  for (const auto& target : targets) {
    if (ctx.pushes.unsubscribe(target.topic(), conn.id())) ctx.lease_watch->unwatch(target.lease());
    if (kind.pubsub) {
      out.push(3);
      out.bulk("unsubscribe");
      out.bulk(target.channel());
      out.integer(static_cast<std::int64_t>(conn.watching()));
    }
  }
  if (!kind.pubsub) {
    out.integer(static_cast<std::int64_t>(conn.watching()));
  } else if (targets.empty() && !others_stopped) {
    out.push(3); // as Redis answers UNSUBSCRIBE with nothing subscribed
    out.bulk("unsubscribe");
    out.null();
    out.integer(0);
  }
}

} // namespace

void connect_lease_pushes(daemon_context& ctx) {
  ctx.leases->on_event([&ctx](const lease_event& e) {
    ctx.lease_watch->observe(e); // releases and lost verdicts for this node's watchers
    if (e.what == lease_event::kind::lost) tell_holder(ctx, e);
  });
  ctx.lease_watch->on_event([&ctx](const lease_event& e) { publish(ctx, e); });
  ctx.on_client_closed.push_back([&ctx](std::uint64_t connection) {
    for (const auto& topic : ctx.pushes.detach(connection))
      if (auto target = target_of_topic(topic)) ctx.lease_watch->unwatch(target->lease());
  });
}

void run_watch_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket) {
  if (session_channel_command(spec, args, conn, ctx, ticket)) return;
  if (breaker_channel_command(spec, args, conn, ctx, ticket)) return;
  if (events_channel_command(spec, args, conn, ctx, ticket)) return;
  std::string bytes;
  protocol::reply_writer out(bytes, ticket.protocol);
  std::vector<watch_target> targets;
  // All names are checked before any is watched: a bad one changes nothing.
  auto kind = kind_of(spec.id);
  if (auto problem = targets_of_command(kind, args, conn, ctx, targets); !problem.empty()) {
    out.error(problem);
    return conn.complete(ticket, std::move(bytes));
  }
  if (!kind.start) {
    stop_watching(ctx, conn, kind, std::move(targets), out);
    return conn.complete(ticket, std::move(bytes));
  }
  if (conn.watching() + targets.size() > max_watches_per_connection) {
    out.error("ERR a connection watches at most " + std::to_string(max_watches_per_connection) +
              " leases and groups");
    return conn.complete(ticket, std::move(bytes));
  }
  if (!ctx.redis.reachable()) {
    out.error("UNAVAILABLE redis is unreachable; nothing is watched");
    return conn.complete(ticket, std::move(bytes));
  }
  auto reserved = ctx.pushes.reserve(conn.id(), topics_of(targets));
  if (!reserved) {
    out.error(ctx.pushes.limit_error());
    return conn.complete(ticket, std::move(bytes));
  }
  auto w = std::make_shared<pending_watch>();
  w->reserved = *reserved;
  w->conn = conn.shared_from_this();
  w->ticket = ticket;
  w->subscribe_reply = kind.pubsub;
  w->targets = std::move(targets);
  start_watch(ctx, std::move(w));
}

} // namespace baton
