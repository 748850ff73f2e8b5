// Request counters and histograms; see request_metrics.hpp.
#include "metrics/request_metrics.hpp"

#include <algorithm>

namespace baton::metrics {

const char* result_name(result r) {
  switch (r) {
  case result::ok:
    return "ok";
  case result::unavailable:
    return "unavailable";
  case result::noperm:
    return "noperm";
  default:
    return "error";
  }
}

result result_of_error(std::string_view text) {
  if (text.rfind("UNAVAILABLE", 0) == 0) return result::unavailable;
  if (text.rfind("NOPERM", 0) == 0) return result::noperm;
  return result::error;
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
