// SESSION commands; see session_commands.hpp.
#include "services/session/session_commands.hpp"

#include <nlohmann/json.hpp>

#include "protocol/reply_writer.hpp"
#include "protocol/argument_numbers.hpp"
#include "services/membership/membership_service.hpp"
#include "services/session/session_service.hpp"

namespace baton {
namespace {

using protocol::command_id;
using session::session_view;

void write_view(protocol::reply_writer& out, const session_view& v) {
  out.map(10);
  out.bulk("id");
  out.bulk(v.id);
  out.bulk("user");
  out.bulk(v.user);
  out.bulk("owner");
  out.bulk(v.owner);
  out.bulk("epoch");
  out.integer(v.epoch);
  out.bulk("meta");
  out.bulk(v.meta);
  out.bulk("created_ms");
  out.integer(v.created_ms);
  out.bulk("touched_ms");
  out.integer(v.touched_ms);
  out.bulk("ttl_ms");
  out.integer(v.ttl_ms);
  out.bulk("expires_in_ms");
  out.integer(v.expires_in_ms);
  out.bulk("state_version");
  out.integer(v.state_version);
}

void write_opened(protocol::reply_writer& out, const session_view& v) {
  out.map(5);
  out.bulk("id");
  out.bulk(v.id);
  out.bulk("token");
  out.bulk(v.token);
  out.bulk("owner");
  out.bulk(v.owner);
  out.bulk("epoch");
  out.integer(v.epoch);
  out.bulk("ttl_ms");
  out.integer(v.ttl_ms);
}

void write_found(protocol::reply_writer& out, const std::optional<session_view>& v) {
  if (!v) return out.null();
  write_view(out, *v);
}

void write_touched(protocol::reply_writer& out, const std::optional<session::touched_session>& t) {
  if (!t) return out.null();
  out.map(3);
  out.bulk("owner");
  out.bulk(t->owner);
  out.bulk("epoch");
  out.integer(t->epoch);
  out.bulk("ttl_ms");
  out.integer(t->ttl_ms);
}

void write_closed(protocol::reply_writer& out, const session::closed_session& c) {
  out.integer(c.existed ? 1 : 0);
}

void write_list(protocol::reply_writer& out, const std::vector<session_view>& sessions) {
  out.array(sessions.size());
  for (const auto& s : sessions)
    write_view(out, s);
}

void write_state(protocol::reply_writer& out, const session::session_state& s) {
  out.map(2);
  out.bulk("state_version");
  out.integer(s.version);
  out.bulk("state");
  if (s.plaintext)
    out.bulk(*s.plaintext);
  else
    out.null();
}

void write_resumed(protocol::reply_writer& out, const session_view& v) {
  out.map(9);
  out.bulk("id");
  out.bulk(v.id);
  out.bulk("user");
  out.bulk(v.user);
  out.bulk("owner");
  out.bulk(v.owner);
  out.bulk("epoch");
  out.integer(v.epoch);
  out.bulk("meta");
  out.bulk(v.meta);
  out.bulk("ttl_ms");
  out.integer(v.ttl_ms);
  out.bulk("state_version");
  out.integer(v.state_version);
  out.bulk("state");
  if (v.state)
    out.bulk(*v.state);
  else
    out.null();
  out.bulk("token");
  out.bulk(v.token);
}

bool is_session_id(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// OPEN on a draining node: say so, and name an active node to open it on instead.
void refuse_draining(daemon_context& ctx, std::shared_ptr<client_connection> self,
                     client_connection::reply_ticket ticket) {
  auto node_id = ctx.cfg.node_id;
  ctx.members->list(
      "", [self, ticket, node_id](bool, std::vector<membership::node_record> nodes, std::string) {
        std::string suggestion = "no active node is known";
        for (const auto& n : nodes)
          if (n.state == "active" && n.id != node_id) {
            suggestion = "open it on node " + n.id + " (" + n.address + ")";
            break;
          }
        self->fail(ticket, "DRAINING this node is draining for a deploy; " + suggestion);
      });
}

} // namespace

void connect_session_pushes(daemon_context& ctx) {
  auto message = [&ctx](const std::string& text) {
    ctx.pushes.publish(session_message_topic, [&](protocol::reply_writer& out) {
      out.push(3);
      out.bulk("message");
      out.bulk(session_channel);
      out.bulk(text);
    });
  };
  // A handoff-out's token resumes the session: only connections of the uid that opened it
  // hear it. Admins hear that it moved, without the token; other uids hear nothing.
  ctx.sessions->on_handoff_out([&ctx](const session::session_service::handoff_out& h) {
    auto text = "handoff-out " + h.id + " " + h.target + " " + h.address;
    push_hub::encoder message_with_token = [&](protocol::reply_writer& out) {
      out.push(3);
      out.bulk("message");
      out.bulk(session_channel);
      out.bulk(text + " " + h.token);
    };
    push_hub::encoder message_without = [&](protocol::reply_writer& out) {
      out.push(3);
      out.bulk("message");
      out.bulk(session_channel);
      out.bulk(text);
    };
    auto push_of = [&](bool with_token) {
      return [&h, with_token](protocol::reply_writer& out) {
        out.push(with_token ? 6 : 5);
        out.bulk("session");
        out.bulk("handoff-out");
        out.bulk(h.id);
        out.bulk(h.target);
        out.bulk(h.address);
        if (with_token) out.bulk(h.token);
      };
    };
    push_hub::encoder push_with_token = push_of(true), push_without = push_of(false);
    auto choose = [&](const push_hub::encoder& with, const push_hub::encoder& without) {
      return [&](const client_connection& conn) -> const push_hub::encoder* {
        auto who = ctx.access.caller_for(conn.peer());
        if (who.owns(h.uid)) return &with;
        return who.admin ? &without : nullptr;
      };
    };
    ctx.pushes.publish_each(session_message_topic, choose(message_with_token, message_without));
    ctx.pushes.publish_each(session_topic, choose(push_with_token, push_without));
  });
  ctx.sessions->on_handoff_in([&ctx, message](const std::string& id, const std::string& from) {
    message("handoff-in " + id + " " + from);
    ctx.pushes.publish(session_topic, [&](protocol::reply_writer& out) {
      out.push(4);
      out.bulk("session");
      out.bulk("handoff-in");
      out.bulk(id);
      out.bulk(from);
    });
  });
}

void run_session_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                         client_connection& conn, daemon_context& ctx,
                         client_connection::reply_ticket ticket) {
  auto fail = [&](const std::string& text) { conn.fail(ticket, text); };
  if (!ctx.sessions)
    return fail("ERR sessions are off on this daemon: they need secrets.keks (state is "
                "encrypted and resume tokens are signed)");
  const auto& limits = ctx.cfg.sessions;
  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive
  auto id = spec.id;
  auto& service = *ctx.sessions;
  auto who = ctx.access.caller_for(conn.peer());
  if (id == command_id::session_watch || id == command_id::session_unwatch) {
    if (args.size() != 2)
      return fail("ERR wrong number of arguments for 'session " + protocol::to_lower(spec.verb) +
                  "' command");
    if (id == command_id::session_watch && !ctx.pushes.room_for(conn.id(), {session_topic}))
      return fail(ctx.pushes.limit_error());
    if (id == command_id::session_watch)
      ctx.pushes.subscribe(session_topic, conn.id());
    else
      ctx.pushes.unsubscribe(session_topic, conn.id());
    std::string bytes;
    protocol::reply_writer out(bytes, ticket.protocol);
    out.integer(static_cast<std::int64_t>(conn.watching()));
    return conn.complete(ticket, std::move(bytes));
  }
  if (id == command_id::session_open || id == command_id::session_list) {
    const auto& user = args[2];
    if (user.empty() || user.size() > limits.max_user_length)
      return fail("ERR a user is 1 to " + std::to_string(limits.max_user_length) + " bytes, got " +
                  std::to_string(user.size()));
    if (id == command_id::session_list) {
      if (args.size() != 3) return fail("ERR wrong number of arguments for 'session list' command");
      return service.list(user, who,
                          reply_with<std::vector<session_view>>(self, ticket, write_list));
    }
    auto ttl = limits.default_ttl;
    std::string meta = "{}";
    for (std::size_t i = 3; i < args.size(); ++i) {
      std::int64_t ms = 0;
      if (protocol::to_upper(args[i]) == "META" && i + 1 < args.size()) {
        meta = args[++i];
        if (meta.size() > limits.max_meta_bytes)
          return fail("ERR META is " + std::to_string(meta.size()) + " bytes; at most " +
                      std::to_string(limits.max_meta_bytes) + " (sessions.max_meta_bytes)");
        if (nlohmann::json::parse(meta, nullptr, false).is_discarded())
          return fail("ERR META must be JSON");
      } else if (i == 3 && parse_non_negative(args[i], ms)) {
        if (ms < 1000 || ms > limits.max_ttl.count())
          return fail("ERR ttl_ms must be from 1000 to " + std::to_string(limits.max_ttl.count()) +
                      " (sessions.max_ttl_ms)");
        ttl = std::chrono::milliseconds(ms);
      } else {
        return fail("ERR syntax error near '" + args[i].substr(0, 32) +
                    "'; expected SESSION OPEN user [ttl_ms] [META json]");
      }
    }
    if (ctx.draining) return refuse_draining(ctx, self, ticket);
    return service.open(user, ttl, meta, who, reply_with<session_view>(self, ticket, write_opened));
  }
  if (id == command_id::session_resume) {
    if (args.size() != 3) return fail("ERR wrong number of arguments for 'session resume' command");
    return service.resume(args[2], who, reply_with<session_view>(self, ticket, write_resumed));
  }
  const auto& session_id = args[2];
  if (!is_session_id(session_id))
    return fail("ERR a session id is 32 lowercase hex digits, as SESSION OPEN gave it");
  switch (id) {
  case command_id::session_get:
    if (args.size() != 3) break;
    return service.get(session_id, who,
                       reply_with<std::optional<session_view>>(self, ticket, write_found));
  case command_id::session_touch:
    if (args.size() != 3) break;
    return service.touch(
        session_id, who,
        reply_with<std::optional<session::touched_session>>(self, ticket, write_touched));
  case command_id::session_close:
    if (args.size() != 3) break;
    return service.close(session_id, who,
                         reply_with<session::closed_session>(self, ticket, write_closed));
  case command_id::session_state_op:
    if (args.size() == 3)
      return service.read_state(session_id, who,
                                reply_with<session::session_state>(self, ticket, write_state));
    if (args.size() == 5 && protocol::to_upper(args[3]) == "SET") {
      if (args[4].size() > limits.max_state_bytes)
        return fail("ERR state is " + std::to_string(args[4].size()) + " bytes; at most " +
                    std::to_string(limits.max_state_bytes) + " (sessions.max_state_bytes)");
      return service.write_state(session_id, std::move(args[4]), who,
                                 reply_with<session::session_state>(self, ticket, write_state));
    }
    return fail("ERR syntax error; expected SESSION STATE id [SET blob]");
  default:
    break;
  }
  fail("ERR wrong number of arguments for 'session " + protocol::to_lower(spec.verb) + "' command");
}

} // namespace baton
