// Request counters and histograms; see request_metrics.hpp.
#include "metrics/request_metrics.hpp"

#include <algorithm>

namespace baton::metrics {

std::string result_name(result r) {
  if (r == result_ok || r >= result_count) return "ok";
  auto code = protocol::all_error_codes[r - 1];
  if (code == protocol::error_code::err) return "error";
  std::string name(protocol::code_word(code));
  for (auto& c : name)
    c = static_cast<char>(c - 'A' + 'a');
  return name;
}

result result_of_error(std::string_view text) {
  auto code = protocol::parse_error_code(text).value_or(protocol::error_code::err);
  return 1 + static_cast<std::size_t>(code);
}

request_metrics::request_metrics(std::vector<std::string> families)
    : families_(std::move(families)) {
  if (std::find(families_.begin(), families_.end(), "unknown") == families_.end())
    families_.push_back("unknown");
  slots_ = std::make_unique<family_slot[]>(families_.size());
}

std::size_t request_metrics::family_index(std::string_view family) const {
  for (std::size_t i = 0; i < families_.size(); ++i)
    if (families_[i] == family) return i;
  return family_index("unknown");
}

void request_metrics::record(std::size_t family, result r, std::chrono::nanoseconds latency) {
  auto& slot = slots_[family];
  slot.by_result[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  double seconds = std::chrono::duration<double>(latency).count();
  std::size_t b = 0;
  while (b < latency_buckets.size() && seconds > latency_buckets[b])
    ++b;
  slot.buckets[b].fetch_add(1, std::memory_order_relaxed);
  slot.count.fetch_add(1, std::memory_order_relaxed);
  slot.sum_ns.fetch_add(static_cast<std::uint64_t>(latency.count()), std::memory_order_relaxed);
}

std::uint64_t request_metrics::requests(std::size_t family, result r) const {
  return slots_[family].by_result[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
}

std::uint64_t request_metrics::bucket(std::size_t family, std::size_t b) const {
  return slots_[family].buckets[b].load(std::memory_order_relaxed);
}

std::uint64_t request_metrics::observations(std::size_t family) const {
  return slots_[family].count.load(std::memory_order_relaxed);
}

double request_metrics::latency_sum_seconds(std::size_t family) const {
  return static_cast<double>(slots_[family].sum_ns.load(std::memory_order_relaxed)) / 1e9;
}

} // namespace baton::metrics
