// What EVENTS is configured with: how much of each topic's stream Redis keeps (by length and
// by age), how large an event may be, and the limits of a read. Parsed and checked by
// daemon/config_events.cpp.
#pragma once

#include <chrono>
#include <cstddef>

namespace baton::events {

using std::chrono::milliseconds;

struct events_config {
  std::size_t max_length = 100000;               ///< events kept per topic (about: trimmed ~)
  milliseconds max_age{7LL * 24 * 3600 * 1000};  ///< older events are trimmed on publish
  std::size_t max_payload_bytes = 64 * 1024;
  std::size_t max_topic_length = 128;
  std::size_t max_read_count = 1000; ///< COUNT of a READ
  milliseconds max_block{60000};     ///< BLOCK of a READ
  /// After each ACK, entries that every group of the topic has acknowledged are trimmed.
  bool trim_acknowledged = false;
  /// How long a PUBLISH's DEDUP key is remembered: the same key again within it appends
  /// nothing and answers the first id (JetStream's duplicate window has the same default).
  milliseconds dedup_window{120000};

  bool operator==(const events_config& o) const {
    return max_length == o.max_length && max_age == o.max_age &&
           max_payload_bytes == o.max_payload_bytes && max_topic_length == o.max_topic_length &&
           max_read_count == o.max_read_count && max_block == o.max_block &&
           trim_acknowledged == o.trim_acknowledged && dedup_window == o.dedup_window;
  }
};

} // namespace baton::events
