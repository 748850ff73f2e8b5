// Rate-limit counters; see rate_counters.hpp.
#include "services/rate/rate_counters.hpp"

#include "metrics/exposition.hpp"

namespace baton::rate {

void rate_counters::render(std::string& out) const {
  metrics::exposition e(out);
  auto family = [&](const char* name, const char* help,
                    std::atomic<std::uint64_t> policy_counters::*member) {
    e.declare(name, "counter", help);
    for (std::size_t i = 0; i < names_.size(); ++i)
      e.sample(std::string(name) + "{policy=\"" + metrics::escape_label(names_[i]) + "\"}",
               (slots_[i].*member).load(std::memory_order_relaxed));
  };
  family("baton_rate_allowed_total", "RATE CHECK requests allowed, by policy.",
         &policy_counters::allowed);
  family("baton_rate_limited_total",
         "RATE CHECK requests over the limit, by policy (shadow policies count them too).",
         &policy_counters::limited);
  family("baton_rate_cache_denials_total",
         "Refusals answered from this host's over-limit cache without Redis, by policy.",
         &policy_counters::cache_hits);
  family("baton_rate_shadow_passed_total",
         "Requests a shadow policy would have refused but allowed, by policy.",
         &policy_counters::shadow_passed);
  family("baton_rate_degraded_total",
         "RATE answers given by the failure mode because Redis could not answer in time.",
         &policy_counters::degraded);
}

} // namespace baton::rate
