// The events section; see config_events.hpp.
#include "daemon/config_events.hpp"

namespace baton {

void read_events(checker& c, const YAML::Node& node, events::events_config& e) {
  if (!c.expect_map(node, "events",
                    {"max_length", "max_age_ms", "max_payload_bytes", "max_topic_length",
                     "max_read_count", "max_block_ms", "trim_acknowledged", "dedup_window_ms"}))
    return;
  c.read_size(node, "max_length", 1, 1LL << 32, e.max_length);
  c.read_ms(node, "max_age_ms", 1000, 10LL * 365 * 24 * 3600 * 1000, e.max_age);
  c.read_size(node, "max_payload_bytes", 1, 512LL << 20, e.max_payload_bytes);
  c.read_size(node, "max_topic_length", 1, 4096, e.max_topic_length);
  c.read_size(node, "max_read_count", 1, 100000, e.max_read_count);
  c.read_ms(node, "max_block_ms", 1, 3600LL * 1000, e.max_block);
  c.read_bool(node, "trim_acknowledged", e.trim_acknowledged);
  c.read_ms(node, "dedup_window_ms", 1000, 7LL * 24 * 3600 * 1000, e.dedup_window);
}

} // namespace baton
