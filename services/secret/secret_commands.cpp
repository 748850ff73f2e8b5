// SECRET commands; see secret_commands.hpp.
#include "services/secret/secret_commands.hpp"

#include <openssl/crypto.h>

#include "daemon/config_secrets.hpp"
#include "daemon/watch_limits.hpp"
#include "protocol/reply_writer.hpp"
#include "services/secret/secret_access.hpp"
#include "services/secret/secret_service.hpp"

namespace baton {
namespace {

using protocol::command_id;
using protocol::result;

void write_degraded(protocol::reply_writer& out, bool degraded) {
  out.bulk("degraded");
  out.integer(degraded ? 1 : 0);
}

void write_info(protocol::reply_writer& out, const std::string& name,
                const std::optional<secret::secret_info>& info) {
  if (!info) return out.null();
  const auto& r = info->record;
  out.map(7);
  out.bulk("name");
  out.bulk(name);
  out.bulk("current");
  out.integer(r.current);
  out.bulk("pending");
  out.integer(r.pending);
  out.bulk("epoch");
  out.integer(r.epoch);
  out.bulk("rotated_at_ms");
  out.integer(r.rotated_at_ms);
  out.bulk("versions");
  out.array(r.versions.size());
  for (auto it = r.versions.rbegin(); it != r.versions.rend(); ++it) {
    const auto& v = it->second;
    auto uses = info->uses.find(it->first);
    out.map(8);
    out.bulk("version");
    out.integer(it->first);
    out.bulk("state");
    out.bulk(v.state);
    out.bulk("kek");
    out.bulk(v.sealed.kek_id);
    out.bulk("created_ms");
    out.integer(v.created_ms);
    out.bulk("promoted_ms");
    out.integer(v.promoted_ms);
    out.bulk("grace_until_ms");
    out.integer(v.grace_until_ms);
    out.bulk("retired_ms");
    out.integer(v.retired_ms);
    out.bulk("uses");
    out.integer(uses == info->uses.end() ? 0 : uses->second);
  }
  out.bulk("nodes");
  out.array(info->nodes.size());
  for (const auto& n : info->nodes) {
    out.map(3);
    out.bulk("node");
    out.bulk(n.node);
    out.bulk("version");
    out.integer(n.version);
    out.bulk("acked_ms_ago");
    out.integer(n.age_ms);
  }
}

void write_value(protocol::reply_writer& out, const std::optional<secret::secret_value>& a) {
  if (!a) return out.null();
  out.map(4);
  out.bulk("value");
  out.bulk(a->value);
  out.bulk("version");
  out.integer(a->version);
  out.bulk("state");
  out.bulk(a->state);
  write_degraded(out, a->degraded);
}

void write_verdict(protocol::reply_writer& out,
                   const std::optional<secret::verify_verdict>& verdict) {
  if (!verdict) return out.null();
  const auto* match = std::get_if<secret::secret_match>(&*verdict);
  out.map(4);
  out.bulk("match");
  out.integer(match ? 1 : 0);
  out.bulk("version");
  out.integer(match ? match->version : 0);
  out.bulk("state");
  if (match)
    out.bulk(match->state);
  else
    out.null();
  write_degraded(out,
                 match ? match->degraded : std::get<secret::secret_no_match>(*verdict).degraded);
}

void write_changed(protocol::reply_writer& out, const secret::secret_changed& c) {
  out.map(4);
  out.bulk("version");
  out.integer(c.version);
  out.bulk("previous");
  out.integer(c.previous);
  out.bulk("epoch");
  out.integer(c.epoch);
  out.bulk("finished_pending");
  out.integer(c.finished_pending ? 1 : 0);
}

void write_totals(protocol::reply_writer& out, const secret::rewrap_totals& t) {
  out.map(3);
  out.bulk("rewrapped");
  out.integer(t.rewrapped);
  out.bulk("already");
  out.integer(t.already);
  out.bulk("failed");
  out.integer(t.skipped);
}

secret_verb verb_of(command_id id) {
  switch (id) {
  case command_id::secret_get:
    return secret_verb::get;
  case command_id::secret_verify:
    return secret_verb::verify;
  case command_id::secret_put:
  case command_id::secret_rotate:
  case command_id::secret_rewrap:
    return secret_verb::admin;
  default:
    return secret_verb::look;
  }
}

void watch(const protocol::command_spec& spec, std::vector<std::string>& args,
           client_connection& conn, daemon_context& ctx, client_connection::reply_ticket ticket) {
  std::string bytes;
  protocol::reply_writer out(bytes, ticket.protocol);
  if (spec.id == command_id::secret_unwatch) {
    std::vector<std::string> topics;
    if (args.size() == 2) {
      for (const auto& topic : ctx.pushes.topics_of(conn.id()))
        if (topic.rfind(secret_topic_prefix, 0) == 0) topics.push_back(topic);
    } else {
      for (std::size_t i = 2; i < args.size(); ++i)
        topics.push_back(secret_topic_prefix + args[i]);
    }
    for (const auto& topic : topics)
      ctx.pushes.unsubscribe(topic, conn.id());
    out.integer(static_cast<std::int64_t>(conn.watching()));
    return conn.complete(ticket, std::move(bytes));
  }
  if (conn.watching() + args.size() - 2 > max_watches_per_connection)
    return conn.fail(ticket, "ERR a connection watches at most " +
                                 std::to_string(max_watches_per_connection) + " topics");
  std::vector<std::string> topics;
  for (std::size_t i = 2; i < args.size(); ++i)
    topics.push_back(secret_topic_prefix + args[i]);
  if (!ctx.pushes.room_for(conn.id(), topics)) return conn.fail(ticket, ctx.pushes.limit_error());
  for (const auto& topic : topics)
    ctx.pushes.subscribe(topic, conn.id());
  // Answer once every name is in the cache: from then on each new version is pushed.
  auto self = conn.shared_from_this();
  auto left = std::make_shared<std::size_t>(args.size() - 2);
  for (std::size_t i = 2; i < args.size(); ++i)
    ctx.secrets->follow(args[i], [self, ticket, left] {
      if (--*left != 0) return;
      std::string reply;
      protocol::reply_writer w(reply, ticket.protocol);
      w.integer(static_cast<std::int64_t>(self->watching()));
      self->complete(ticket, std::move(reply));
    });
}

} // namespace

void connect_secret_pushes(daemon_context& ctx) {
  if (!ctx.secrets) return;
  ctx.secrets->on_changed(
      [&ctx](const std::string& name, std::int64_t version, std::int64_t epoch) {
        ctx.pushes.publish(secret_topic_prefix + name, [&](protocol::reply_writer& out) {
          out.push(5);
          out.bulk("secret");
          out.bulk("rotated");
          out.bulk(name);
          out.integer(version);
          out.integer(epoch);
        });
      });
  ctx.secrets->on_collect_watched([&ctx] {
    std::vector<std::string> names;
    for (const auto& topic : ctx.pushes.topics_with_prefix(secret_topic_prefix))
      names.push_back(topic.substr(std::string_view(secret_topic_prefix).size()));
    return names;
  });
}

void run_secret_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                        client_connection& conn, daemon_context& ctx,
                        client_connection::reply_ticket ticket) {
  auto fail = [&](const std::string& text) { conn.fail(ticket, text); };
  if (!ctx.secrets)
    return fail("ERR secrets are off on this daemon: the config names no secrets.keks");
  const auto& config = ctx.secrets->config();
  auto verb = verb_of(spec.id);
  // Every name is checked (syntax, then access) before anything runs.
  std::vector<std::string> names;
  if (spec.id == command_id::secret_watch || spec.id == command_id::secret_unwatch) {
    names.assign(args.begin() + 2, args.end());
  } else if (args.size() > 2) {
    names.push_back(args[2]);
  }
  secret::secret_caller who{static_cast<std::int64_t>(conn.peer().uid), conn.peer().pid};
  for (const auto& name : names) {
    if (!is_secret_name(name, config.max_name_length))
      return fail("ERR a secret name is 1 to " + std::to_string(config.max_name_length) +
                  " letters, digits, '-', '_', '.', '/' or ':'; got '" + name.substr(0, 64) + "'");
    if (spec.id == command_id::secret_unwatch) continue;
    if (!secret_allowed(config, ctx.access, conn.peer(), verb, name)) {
      ctx.secrets->audit(who, protocol::to_lower(spec.verb), name, "refused");
      return fail("NOPERM " + conn.peer().describe() + " may not " + verb_name(verb) + " secret '" +
                  name + "'");
    }
  }
  if (spec.id == command_id::secret_rewrap && names.empty() && !ctx.access.is_admin(conn.peer())) {
    ctx.secrets->audit(who, "rewrap", "*", "refused");
    return fail("NOPERM " + conn.peer().describe() +
                " may not rewrap every secret: it needs an admin group");
  }
  if (spec.id == command_id::secret_watch || spec.id == command_id::secret_unwatch)
    return watch(spec, args, conn, ctx, ticket);

  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive
  std::string name = names.empty() ? std::string() : names.front();
  auto& service = *ctx.secrets;
  switch (spec.id) {
  case command_id::secret_get:
    return service.get(name, who, [self, ticket](result<std::optional<secret::secret_value>> r) {
      auto bytes = protocol::encode_result(r, ticket.protocol, write_value);
      if (r && *r) OPENSSL_cleanse((*r)->value.data(), (*r)->value.size());
      self->complete(ticket, std::move(bytes));
    });
  case command_id::secret_verify: {
    auto candidate = std::move(args[3]);
    OPENSSL_cleanse(args[3].data(), args[3].size());
    return service.verify(
        name, std::move(candidate), who,
        reply_with<std::optional<secret::verify_verdict>>(self, ticket, write_verdict));
  }
  case command_id::secret_info:
    return service.info(
        name, who,
        reply_with<std::optional<secret::secret_info>>(
            self, ticket,
            [name](protocol::reply_writer& out, const std::optional<secret::secret_info>& info) {
              write_info(out, name, info);
            }));
  case command_id::secret_put:
  case command_id::secret_rotate: {
    std::optional<secret::secure_bytes> value;
    if (spec.id == command_id::secret_put) {
      value = secret::secure_bytes(args[3]);
    } else if (args.size() == 5 && protocol::to_upper(args[3]) == "VALUE") {
      value = secret::secure_bytes(args[4]);
    } else if (args.size() != 3) {
      return fail("ERR syntax error; expected SECRET ROTATE name [VALUE v]");
    }
    for (auto& a : args)
      OPENSSL_cleanse(a.data(), a.size());
    if (value && (value->empty() || value->size() > config.max_value_bytes))
      return fail("ERR a secret value is 1 to " + std::to_string(config.max_value_bytes) +
                  " bytes (secrets.max_value_bytes), got " + std::to_string(value->size()));
    bool hooks = spec.id == command_id::secret_rotate;
    return service.change(name, std::move(value), hooks, protocol::to_lower(spec.verb), who,
                          reply_with<secret::secret_changed>(self, ticket, write_changed));
  }
  case command_id::secret_rewrap:
    return service.rewrap(names.empty() ? std::nullopt : std::optional<std::string>(name), who,
                          reply_with<secret::rewrap_totals>(self, ticket, write_totals));
  default:
    return fail("ERR internal error: not a secret command");
  }
}

} // namespace baton
