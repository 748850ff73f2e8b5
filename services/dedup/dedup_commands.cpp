// DEDUP commands; see dedup_commands.hpp.
#include "services/dedup/dedup_commands.hpp"

#include "protocol/reply_writer.hpp"
#include "services/dedup/dedup_service.hpp"
#include "protocol/argument_numbers.hpp"

namespace baton {
namespace {

using dedup::claim_state;
using protocol::reply_writer;
using protocol::result;

void write_state(reply_writer& out, const char* status, const std::string* result,
                 std::int64_t ttl_ms) {
  out.map(3);
  out.bulk("status");
  out.bulk(status);
  out.bulk("result");
  if (result)
    out.bulk(*result);
  else
    out.null();
  out.bulk("ttl_ms");
  out.integer(ttl_ms);
}

void write_claim(reply_writer& out, const claim_state& state) {
  if (const auto* fresh = std::get_if<dedup::claim_fresh>(&state))
    return write_state(out, "new", nullptr, fresh->ttl_ms);
  if (const auto* pending = std::get_if<dedup::claim_pending>(&state))
    return write_state(out, "pending", nullptr, pending->ttl_ms);
  const auto& done = std::get<dedup::claim_done>(state);
  write_state(out, "done", &done.result, done.ttl_ms);
}

void write_key(reply_writer& out, const std::optional<claim_state>& state) {
  if (!state) return out.null();
  write_claim(out, *state);
}

void write_ok(reply_writer& out, const dedup::stored&) {
  out.simple("OK");
}

} // namespace

void run_dedup_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket) {
  auto fail = [&](const std::string& text) { conn.fail(ticket, text); };
  const auto& limits = ctx.cfg.dedup;
  const auto& key = args[2];
  if (key.empty() || key.size() > limits.max_key_length)
    return fail("ERR an idempotency key must be 1 to " + std::to_string(limits.max_key_length) +
                " bytes, got " + std::to_string(key.size()));
  auto read_ttl = [&](const std::string& text, std::chrono::milliseconds& out) {
    std::int64_t ms = 0;
    if (!parse_non_negative(text, ms) || ms < 10 || ms > limits.max_ttl.count()) return false;
    out = std::chrono::milliseconds(ms);
    return true;
  };
  auto ttl_error = "ERR ttl_ms must be an integer from 10 to " +
                   std::to_string(limits.max_ttl.count()) + " (dedup.max_ttl_ms)";
  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive
  auto& service = *ctx.dedup;
  switch (spec.id) {
  case protocol::command_id::dedup_claim: {
    std::chrono::milliseconds ttl{0};
    if (!read_ttl(args[3], ttl)) return fail(ttl_error);
    auto reply = reply_with<claim_state>(self, ticket, write_claim);
    return service.claim(key, ttl, conn.id(), ctx.access.caller_for(conn.peer()),
                         [self, reply, &service](result<claim_state> r) {
                           // A claim granted after its connection closed has nobody to finish it.
                           if (r && std::holds_alternative<dedup::claim_fresh>(*r) &&
                               self->is_closed())
                             return service.connection_closed(self->id());
                           reply(std::move(r));
                         });
  }
  case protocol::command_id::dedup_done: {
    if (args.size() > 5) return fail("ERR wrong number of arguments for 'dedup done' command");
    const auto& result = args[3];
    if (result.size() > limits.max_result_bytes)
      return fail("ERR result is " + std::to_string(result.size()) + " bytes; at most " +
                  std::to_string(limits.max_result_bytes) + " (dedup.max_result_bytes)");
    auto ttl = limits.result_ttl;
    if (args.size() == 5 && !read_ttl(args[4], ttl)) return fail(ttl_error);
    return service.complete(key, result, ttl, ctx.access.caller_for(conn.peer()),
                            reply_with<dedup::stored>(self, ticket, write_ok));
  }
  case protocol::command_id::dedup_get:
    return service.get(key, reply_with<std::optional<claim_state>>(self, ticket, write_key));
  default:
    return fail("ERR internal error: not a dedup command");
  }
}

} // namespace baton
