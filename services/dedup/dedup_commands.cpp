// DEDUP commands; see dedup_commands.hpp.
#include "services/dedup/dedup_commands.hpp"

#include "protocol/reply_writer.hpp"
#include "services/dedup/dedup_service.hpp"
#include "services/lease/lease_commands.hpp"

namespace baton {
namespace {

using dedup::dedup_outcome;

std::string encode(const dedup_outcome& o, int protocol) {
  std::string bytes;
  protocol::reply_writer out(bytes, protocol);
  auto state = [&](const char* status) {
    out.map(3);
    out.bulk("status");
    out.bulk(status);
    out.bulk("result");
    if (o.what == dedup_outcome::kind::done)
      out.bulk(o.result);
    else
      out.null();
    out.bulk("ttl_ms");
    out.integer(o.ttl_ms);
  };
  switch (o.what) {
  case dedup_outcome::kind::fresh:
    state("new");
    break;
  case dedup_outcome::kind::pending:
    state("pending");
    break;
  case dedup_outcome::kind::done:
    state("done");
    break;
  case dedup_outcome::kind::absent:
    out.null();
    break;
  case dedup_outcome::kind::stored:
    out.simple("OK");
    break;
  case dedup_outcome::kind::not_held:
    out.error("NOTHELD " + o.why);
    break;
  case dedup_outcome::kind::unavailable:
    out.error("UNAVAILABLE " + o.why);
    break;
  }
  return bytes;
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
  auto reply = [self, ticket](dedup_outcome o) {
    self->complete(ticket, encode(o, ticket.protocol));
  };
  auto& service = *ctx.dedup;
  switch (spec.id) {
  case protocol::command_id::dedup_claim: {
    std::chrono::milliseconds ttl{0};
    if (!read_ttl(args[3], ttl)) return fail(ttl_error);
    return service.claim(key, ttl, conn.id(), [self, ticket, &service](dedup_outcome o) {
      // A claim granted after its connection closed has nobody to finish it.
      if (o.what == dedup_outcome::kind::fresh && self->is_closed())
        return service.connection_closed(self->id());
      self->complete(ticket, encode(o, ticket.protocol));
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
    return service.complete(key, result, ttl, reply);
  }
  case protocol::command_id::dedup_get:
    return service.get(key, reply);
  default:
    return fail("ERR internal error: not a dedup command");
  }
}

} // namespace baton
