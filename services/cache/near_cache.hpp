// One namespace's near cache: the entries this daemon read from Redis lately, kept in memory
// within a byte budget (least recently used first out), each until the earlier of its Redis
// TTL and the namespace's near TTL. Fills race invalidations: a read sent to Redis before a
// write and answered after the write's invalidation arrived carries the old value, so a fill
// is admitted only if no invalidation of its key (or a pattern or flush covering it) arrived
// since it was begun. Pure bookkeeping with the time passed in: tested on virtual time.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace baton::cache {

using clock = std::chrono::steady_clock;

/// What a hit hands out.
struct near_hit {
  const std::string* value = nullptr;
  clock::time_point expires; ///< its Redis TTL's end
};

struct near_stats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;     ///< pushed out by the byte budget
  std::uint64_t invalidations = 0; ///< entries dropped by an invalidation or flush
  std::uint64_t fills_refused = 0; ///< fills an invalidation overtook (not cached)
};

class near_cache {
public:
  explicit near_cache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  /// A fresh entry (its near TTL not over), or nullopt; counts a hit or a miss.
  std::optional<near_hit> get(const std::string& key, clock::time_point now);
  /// An entry still within its Redis TTL, however old: what is served, marked degraded, while
  /// Redis cannot be asked. Counts a hit or a miss.
  std::optional<near_hit> get_stale(const std::string& key, clock::time_point now);

  /// A ticket for a read of `key` about to be sent to Redis; `admit` takes it back.
  std::uint64_t begin_fill() {
    ++fills_;
    return epoch_;
  }
  /// Caches what Redis answered for `key` (it lapses at `expires`, its Redis TTL; near TTL
  /// `fresh_for`), unless an invalidation covering it arrived since `ticket`. False if refused.
  bool admit(const std::string& key, std::string value, std::uint64_t ticket,
             clock::time_point now, clock::duration fresh_for, clock::time_point expires);

  /// A fill that will not be admitted (Redis did not answer): only its count matters.
  void abandon_fill() {
    if (fills_ > 0 && --fills_ == 0) invalidated_at_.clear();
  }

  /// Invalidations, as they arrive from any daemon (and as this one writes).
  void invalidate(const std::string& key);
  /// Keys matching a Redis glob pattern (CACHE INVALIDATE ns PATTERN p).
  void invalidate_matching(const std::string& pattern);
  /// Everything: messages may have been missed (the subscription was lost, and is back).
  void flush();
  /// Refuses the fills in flight, keeping the entries (the subscription is lost: they are
  /// served only as degraded answers until it is back and they are flushed).
  void refuse_fills() { broad_epoch_ = ++epoch_; }

  const near_stats& stats() const { return stats_; }
  std::size_t bytes() const { return bytes_; }
  std::size_t entries() const { return entries_.size(); }
  std::size_t max_bytes() const { return max_bytes_; }

private:
  struct entry {
    std::string value;
    clock::time_point fresh_until;
    clock::time_point expires;
    std::list<std::string>::iterator recency; ///< its place in recency_ (front: newest)
    std::size_t cost = 0;
  };
  /// What an entry counts against the budget: its key and value and a fixed share for the
  /// map node, the list node and the strings' headers.
  static std::size_t cost_of(const std::string& key, const std::string& value) {
    return key.size() * 2 + value.size() + 160;
  }
  void drop(std::unordered_map<std::string, entry>::iterator it);
  std::optional<near_hit> find(const std::string& key, clock::time_point now, bool stale_ok);

  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::unordered_map<std::string, entry> entries_;
  std::list<std::string> recency_;
  /// Counts invalidations: a fill begun at epoch e is refused if its key was invalidated at a
  /// later epoch (kept per key while fills are in flight), or a pattern or flush came after e.
  std::uint64_t epoch_ = 0;
  std::uint64_t broad_epoch_ = 0; ///< the last pattern or flush
  std::unordered_map<std::string, std::uint64_t> invalidated_at_;
  std::size_t fills_ = 0; ///< begun and not yet admitted or abandoned
  near_stats stats_;
};

/// Redis' glob (as KEYS and SCAN MATCH read it): * ? [abc] [^a] [a-z] and \ escapes.
bool glob_match(std::string_view pattern, std::string_view text);

/// Whether `INVALIDATE ... PATTERN pattern` covers `key`: Redis matches the pattern inside the
/// entry's braces ("...{" pattern "}"), where a trailing "\" escapes the closing brace, so the
/// near caches match it the same way.
inline bool pattern_matches(std::string_view pattern, std::string_view key) {
  std::string wrapped_pattern = "{" + std::string(pattern) + "}";
  std::string wrapped_key = "{" + std::string(key) + "}";
  return glob_match(wrapped_pattern, wrapped_key);
}

} // namespace baton::cache
