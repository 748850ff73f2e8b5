// RATE commands; see rate_commands.hpp.
#include "services/rate/rate_commands.hpp"

#include "protocol/reply_writer.hpp"
#include "protocol/argument_numbers.hpp"
#include "services/rate/rate_service.hpp"
#include "services/unanswered.hpp"

namespace baton {
namespace {

using rate::rate_decision;

std::string encode(const rate_decision& d, int protocol) {
  std::string bytes;
  protocol::reply_writer out(bytes, protocol);
  out.map(7);
  out.bulk("allowed");
  out.integer(d.allowed ? 1 : 0);
  out.bulk("limited");
  out.integer(d.limited ? 1 : 0);
  out.bulk("remaining");
  out.integer(d.remaining);
  out.bulk("reset_ms");
  out.integer(d.reset_ms);
  out.bulk("retry_after_ms");
  out.integer(d.retry_after_ms);
  out.bulk("degraded");
  out.integer(d.degraded() ? 1 : 0);
  out.bulk("source");
  out.bulk(rate::source_name(d.from));
  return bytes;
}

std::string known_policies(const daemon_context& ctx) {
  std::string names;
  for (const auto& p : ctx.cfg.rate.policies) {
    if (names.size() > 200) return names + ", ...";
    names += (names.empty() ? "" : ", ") + p.name;
  }
  return names.empty() ? "none are configured" : "configured: " + names;
}

} // namespace

void run_rate_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                      client_connection& conn, daemon_context& ctx,
                      client_connection::reply_ticket ticket) {
  auto fail = [&](const std::string& text) { conn.fail(ticket, text); };
  const auto& policy_name = args[2];
  const auto* policy = ctx.rates->find(policy_name);
  if (!policy)
    return fail("ERR unknown rate policy '" + policy_name.substr(0, 64) + "' (" +
                known_policies(ctx) + ")");
  const auto& key = args[3];
  if (key.empty() || key.size() > ctx.cfg.rate.max_key_length)
    return fail("ERR a rate key must be 1 to " + std::to_string(ctx.cfg.rate.max_key_length) +
                " bytes, got " + std::to_string(key.size()));
  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive

  if (spec.id == protocol::command_id::rate_reset) {
    return ctx.rates->reset(*policy, key, [self, ticket](redis_link::redis_reply reply) {
      std::string bytes;
      protocol::reply_writer out(bytes, ticket.protocol);
      if (reply.kind == redis_link::reply_kind::integer)
        out.integer(reply.integer);
      else if (reply.is_unavailable()) {
        auto f = unanswered(reply, "the key's counts may or may not be reset: RESET it again, "
                                   "which is safe");
        out.error(protocol::error_text(f.code, f.why));
      } else
        out.error("ERR redis: " + reply.str);
      self->complete(ticket, std::move(bytes));
    });
  }

  std::int64_t cost = 1;
  for (std::size_t i = 4; i < args.size(); ++i) {
    if (protocol::to_upper(args[i]) == "COST" && i + 1 < args.size()) {
      const auto& text = args[++i];
      if (!parse_non_negative(text, cost) || cost == 0)
        return fail("ERR COST must be a positive integer, got '" + text.substr(0, 32) + "'");
      if (cost > policy->smallest_limit())
        return fail("ERR COST " + text + " exceeds the smallest limit of policy '" + policy->name +
                    "' (" + std::to_string(policy->smallest_limit()) +
                    "); it could never be admitted");
    } else {
      return fail("ERR syntax error near '" + args[i].substr(0, 32) + "'; expected COST n");
    }
  }
  bool charge = spec.id == protocol::command_id::rate_check;
  ctx.rates->check(*policy, key, cost, charge, [self, ticket](rate_decision d) {
    self->complete(ticket, encode(d, ticket.protocol));
  });
}

} // namespace baton
