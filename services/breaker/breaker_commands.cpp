// BREAKER commands; see breaker_commands.hpp.
#include "services/breaker/breaker_commands.hpp"

#include <charconv>
#include <functional>

#include "protocol/reply_map.hpp"
#include "protocol/reply_writer.hpp"
#include "services/breaker/breaker_service.hpp"

namespace baton {
namespace {

using namespace baton::breaker;
using protocol::error_code;
using protocol::reply_writer;

/// A reply map built field by field, so that its count is never written by hand.
class reply_fields {
public:
  reply_fields& integer(std::string_view key, std::int64_t value) {
    items_.push_back([key, value](reply_writer& out) {
      out.bulk(key);
      out.integer(value);
    });
    return *this;
  }
  reply_fields& text(std::string_view key, std::string value) {
    items_.push_back([key, value = std::move(value)](reply_writer& out) {
      out.bulk(key);
      out.bulk(value);
    });
    return *this;
  }
  reply_fields& nested(std::string_view key, std::function<void(reply_writer&)> value) {
    items_.push_back([key, value = std::move(value)](reply_writer& out) {
      out.bulk(key);
      value(out);
    });
    return *this;
  }
  void write(reply_writer& out) const {
    out.map(items_.size());
    for (const auto& item : items_)
      item(out);
  }

private:
  std::vector<std::function<void(reply_writer&)>> items_;
};

void write_check(reply_writer& out, const check_answer& a) {
  using protocol::field;
  protocol::write_map(out, field("allowed", a.allowed), field("state", state_name(a.state)),
                      field("probe", a.probe), field("next_probe_ms", a.next_probe_ms),
                      field("generation", a.generation), field("degraded", a.degraded),
                      field("fleet", a.fleet));
}

void write_state(reply_writer& out, const breaker_view& v) {
  reply_fields f;
  f.text("name", v.name)
      .text("scope", v.scope)
      .text("state", state_name(v.state))
      .integer("generation", v.generation)
      .integer("calls", static_cast<std::int64_t>(v.window.calls))
      .integer("failures", static_cast<std::int64_t>(v.window.failures))
      .integer("slow", static_cast<std::int64_t>(v.window.slow))
      .text("tripped_by", v.tripped_by)
      .integer("consecutive_trips", v.consecutive_trips)
      .integer("probes_out", v.probes_out)
      .integer("ignored_reports", static_cast<std::int64_t>(v.counters.ignored_reports))
      .integer("degraded", v.degraded);
  if (!v.fleet) return f.text("fleet", "unavailable").write(out);
  auto fleet = *v.fleet;
  f.nested("fleet", [fleet](reply_writer& inner) {
    reply_fields g;
    g.text("state", fleet.state)
        .integer("generation", fleet.generation)
        .integer("open_remaining_ms", fleet.open_remaining_ms)
        .text("tripped_by", fleet.tripped_by)
        .integer("tripped_ago_ms", fleet.tripped_ago_ms)
        .integer("consecutive_trips", fleet.consecutive_trips)
        .text("probe_holder", fleet.probe_holder)
        .nested("trips",
                [fleet](reply_writer& o) {
                  o.map(fleet.trips.size());
                  for (const auto& [node, ago] : fleet.trips) {
                    o.bulk(node);
                    o.integer(ago);
                  }
                })
        .nested("counts", [fleet](reply_writer& o) {
          o.map(fleet.counts.size());
          for (const auto& [node, counts] : fleet.counts) {
            o.bulk(node);
            o.bulk(counts);
          }
        });
    g.write(inner);
  });
  f.write(out);
}

bool parse_latency(const std::string& text, std::chrono::milliseconds& out) {
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || end != text.data() + text.size() || ms < 0 || ms > 86400000LL)
    return false;
  out = std::chrono::milliseconds(ms);
  return true;
}

} // namespace

void run_breaker_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                         client_connection& conn, daemon_context& ctx,
                         client_connection::reply_ticket ticket) {
  using protocol::command_id;
  auto* breakers = ctx.breakers;
  auto answer = [&](const auto& r, auto write) {
    conn.complete(ticket, protocol::encode_result(r, ticket.protocol, write));
  };

  if (spec.id == command_id::breaker_list) {
    auto all = breakers->list();
    std::string bytes;
    reply_writer out(bytes, ticket.protocol);
    out.map(all.size());
    for (const auto& [name, state] : all) {
      out.bulk(name);
      out.bulk(state_name(state));
    }
    return conn.complete(ticket, std::move(bytes));
  }
  const auto& name = args[2];

  if (spec.id == command_id::breaker_check)
    return answer(breakers->check(name), write_check);

  if (spec.id == command_id::breaker_report) {
    auto what = parse_outcome(protocol::to_lower(args[3]));
    if (!what)
      return conn.fail(ticket, error_code::err,
                       "a call's outcome is ok, fail or slow; got '" + args[3].substr(0, 32) + "'");
    std::optional<std::chrono::milliseconds> latency;
    if (args.size() > 5)
      return conn.fail(ticket, error_code::err,
                       "syntax error; expected BREAKER REPORT name ok|fail|slow [latency_ms]");
    if (args.size() == 5) {
      std::chrono::milliseconds ms{0};
      if (!parse_latency(args[4], ms))
        return conn.fail(ticket, error_code::err,
                         "latency_ms must be a whole number of ms from 0 to 86400000; got '" +
                             args[4].substr(0, 32) + "'");
      latency = ms;
    }
    return answer(breakers->report(name, *what, latency),
                  [](reply_writer& out, const reported&) { out.simple("OK"); });
  }

  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive
  if (spec.id == command_id::breaker_state)
    return breakers->state(name, reply_with<breaker_view>(self, ticket, write_state));

  // FORCE (the router checked the caller is an admin)
  auto mode = parse_force_mode(protocol::to_lower(args[3]));
  if (!mode)
    return conn.fail(ticket, error_code::err,
                     "FORCE takes open, closed or auto; got '" + args[3].substr(0, 32) + "'");
  breakers->force(name, *mode, conn.peer().describe(),
                  reply_with<forced>(self, ticket, [](reply_writer& out, const forced& f) {
                    using protocol::field;
                    protocol::write_map(out, field("state", state_name(f.state)),
                                        field("generation", f.generation));
                  }));
}

} // namespace baton
