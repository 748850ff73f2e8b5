// Watch commands and lease pushes; see watch_commands.hpp.
#include "daemon/watch_commands.hpp"

#include "actors/lease/lease_keys.hpp"
#include "actors/lease/lease_service.hpp"
#include "actors/lease/lease_watch.hpp"
#include "protocol/reply_writer.hpp"

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <memory>

namespace baton {

using lease::lease_event;

namespace {

/// Watches one connection may hold: bounds what a client can make this node follow.
constexpr std::size_t max_watches_per_connection = 10000;

const std::string lease_topic_prefix = "lease:";
const std::string elect_topic_prefix = "elect:";
/// ELECT runs on the lease "elect:<group>" (elect_commands.cpp).
const std::string elect_lease_prefix = "elect:";

bool is_elect_lease(const std::string& name) {
  return name.rfind(elect_lease_prefix, 0) == 0;
}

// ["lease", event, name, token, node]
push_hub::encoder lease_push(const lease_event& e) {
  return [&e](protocol::reply_writer& out) {
    out.push(5);
    out.bulk("lease");
    out.bulk(lease::to_string(e.what));
    out.bulk(e.name);
    out.integer(e.token);
    out.bulk(e.node);
  };
}

// ["elect", event, group, term, candidate, node]: `leader` when a candidate takes the lead,
// `vacant` when its term ends (resigned, or expired), `lost` when this node could not keep it.
void write_elect_push(protocol::reply_writer& out, const char* event, const std::string& group,
                      std::int64_t term, const std::string& candidate, const std::string& node) {
  out.push(6);
  out.bulk("elect");
  out.bulk(event);
  out.bulk(group);
  out.integer(term);
  out.bulk(candidate);
  out.bulk(node);
}

const char* elect_event_of(lease_event::kind k) {
  switch (k) {
  case lease_event::kind::acquired:
    return "leader";
  case lease_event::kind::lost:
    return "lost";
  default:
    return "vacant";
  }
}

push_hub::encoder elect_push(const lease_event& e) {
  return [&e](protocol::reply_writer& out) {
    write_elect_push(out, elect_event_of(e.what), e.name.substr(elect_lease_prefix.size()), e.token,
                     e.meta, e.node);
  };
}

// The topic a lease event goes to besides "lease:<name>", and its encoding there.
void publish(daemon_context& ctx, const lease_event& e) {
  ctx.pushes.publish(lease_topic_prefix + e.name, lease_push(e));
  if (is_elect_lease(e.name))
    ctx.pushes.publish(elect_topic_prefix + e.name.substr(elect_lease_prefix.size()),
                       elect_push(e));
}

// A holder hears `lost` on its own connection (RESP3) unless it watches the name anyway.
void tell_holder(daemon_context& ctx, const lease_event& e) {
  if (e.connection == 0) return;
  bool elect = is_elect_lease(e.name);
  auto topic = elect ? elect_topic_prefix + e.name.substr(elect_lease_prefix.size())
                     : lease_topic_prefix + e.name;
  if (ctx.pushes.watches(e.connection, topic)) return;
  ctx.pushes.push_to(e.connection, elect ? elect_push(e) : lease_push(e));
}

std::string lease_name_for(const std::string& topic) {
  if (topic.rfind(elect_topic_prefix, 0) == 0)
    return elect_lease_prefix + topic.substr(elect_topic_prefix.size());
  return topic.substr(lease_topic_prefix.size());
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
      ctx.lease_watch->unwatch(lease_name_for(topic));
  });
}

namespace {

// One LEASE|ELECT WATCH on its way: it answers once every name is followed without a gap
// (subscribed, and the holder read), so that nothing that happens after the reply is missed.
struct pending_watch {
  std::shared_ptr<client_connection> conn;
  client_connection::reply_ticket ticket;
  bool elect = false;
  std::vector<std::string> names; ///< as the client gave them, without repeats
  std::size_t left = 0;
  bool finished = false;
  std::unique_ptr<boost::asio::steady_timer> budget;
};

std::string lease_of(const pending_watch& w, const std::string& name) {
  return w.elect ? elect_lease_prefix + name : name;
}

void finish_watch(daemon_context& ctx, pending_watch& w, bool in_time) {
  if (w.finished) return;
  w.finished = true;
  w.budget->cancel();
  std::string bytes;
  protocol::reply_writer out(bytes, w.ticket.protocol);
  if (!in_time || w.conn->is_closed()) {
    for (const auto& name : w.names)
      ctx.lease_watch->unwatch(lease_of(w, name));
    out.error("UNAVAILABLE could not follow the names through redis in time; nothing is watched");
    return w.conn->complete(w.ticket, std::move(bytes));
  }
  // All at once on this thread: no event can fall between the reply and the first push.
  for (const auto& name : w.names)
    if (!ctx.pushes.subscribe((w.elect ? elect_topic_prefix : lease_topic_prefix) + name,
                              w.conn->id()))
      ctx.lease_watch->unwatch(lease_of(w, name)); // it already watched this one
  out.integer(static_cast<std::int64_t>(w.conn->watching()));
  w.conn->complete(w.ticket, std::move(bytes));
  if (!w.elect) return;
  // ELECT WATCH answers with each group's leader as it is now, then with every change.
  for (const auto& group : w.names) {
    auto h = ctx.lease_watch->known(elect_lease_prefix + group);
    ctx.pushes.push_to(w.conn->id(), [&](protocol::reply_writer& push) {
      write_elect_push(push, h.token != 0 ? "leader" : "vacant", group, h.token, h.meta, h.node);
    });
  }
}

void start_watch(daemon_context& ctx, std::shared_ptr<pending_watch> w) {
  w->budget = std::make_unique<boost::asio::steady_timer>(ctx.io);
  w->budget->expires_after(ctx.cfg.redis.connect_timeout + ctx.cfg.redis.call_timeout);
  w->budget->async_wait([&ctx, w](const boost::system::error_code& ec) {
    if (!ec) finish_watch(ctx, *w, false);
  });
  w->left = w->names.size();
  for (const auto& name : w->names)
    ctx.lease_watch->watch(lease_of(*w, name));
  for (const auto& name : w->names)
    ctx.lease_watch->snapshot(lease_of(*w, name), [&ctx, w](const lease::known_holder&) {
      if (--w->left == 0) finish_watch(ctx, *w, true);
    });
}

} // namespace

void run_watch_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket) {
  std::string bytes;
  protocol::reply_writer out(bytes, ticket.protocol);
  bool watch =
      spec.id == protocol::command_id::lease_watch || spec.id == protocol::command_id::elect_watch;
  bool elect = spec.id == protocol::command_id::elect_watch ||
               spec.id == protocol::command_id::elect_unwatch;
  const auto& own_prefix = elect ? elect_topic_prefix : lease_topic_prefix;
  std::vector<std::string> names;
  for (auto it = args.begin() + 2; it != args.end(); ++it)
    if (std::find(names.begin(), names.end(), *it) == names.end()) names.push_back(*it);
  if (!watch) {
    // UNWATCH: the named ones of this kind, or all of this kind without names.
    if (names.empty())
      for (const auto& topic : ctx.pushes.topics_of(conn.id()))
        if (topic.rfind(own_prefix, 0) == 0) names.push_back(topic.substr(own_prefix.size()));
    for (const auto& name : names)
      if (ctx.pushes.unsubscribe(own_prefix + name, conn.id()))
        ctx.lease_watch->unwatch(lease_name_for(own_prefix + name));
    out.integer(static_cast<std::int64_t>(conn.watching()));
    return conn.complete(ticket, std::move(bytes));
  }
  // All names are checked before any is watched: a bad one changes nothing.
  for (const auto& name : names) {
    auto problem =
        lease::check_name(elect ? elect_lease_prefix + name : name, ctx.cfg.leases.max_name_length);
    if (!problem.empty()) {
      out.error("ERR " + std::string(elect ? "group" : "lease") + " '" + name.substr(0, 64) +
                "': " + problem);
      return conn.complete(ticket, std::move(bytes));
    }
  }
  if (conn.watching() + names.size() > max_watches_per_connection) {
    out.error("ERR a connection watches at most " + std::to_string(max_watches_per_connection) +
              " leases and groups");
    return conn.complete(ticket, std::move(bytes));
  }
  if (!ctx.redis.status().reachable()) {
    out.error("UNAVAILABLE redis is unreachable; nothing is watched");
    return conn.complete(ticket, std::move(bytes));
  }
  auto w = std::make_shared<pending_watch>();
  w->conn = conn.shared_from_this();
  w->ticket = ticket;
  w->elect = elect;
  w->names = std::move(names);
  start_watch(ctx, std::move(w));
}

} // namespace baton
