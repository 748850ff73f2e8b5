// The near cache; see near_cache.hpp.
#include "services/cache/near_cache.hpp"

namespace baton::cache {
namespace {

/// Per-key epochs kept for fills in flight; past this many, every fill in flight is refused
/// instead (a burst of writes must not grow this without bound).
constexpr std::size_t max_tracked_keys = 100000;

} // namespace

std::optional<near_hit> near_cache::find(const std::string& key, clock::time_point now,
                                         bool stale_ok) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    ++stats_.misses;
    return std::nullopt;
  }
  if (it->second.expires <= now) { // gone from Redis too
    drop(it);
    ++stats_.misses;
    return std::nullopt;
  }
  if (!stale_ok && it->second.fresh_until <= now) {
    // Not fresh, but kept: within its Redis TTL it is still a degraded answer should Redis be
    // out of reach; a fill replaces it.
    ++stats_.misses;
    return std::nullopt;
  }
  recency_.splice(recency_.begin(), recency_, it->second.recency);
  ++stats_.hits;
  return near_hit{&it->second.value, it->second.expires};
}

std::optional<near_hit> near_cache::get(const std::string& key, clock::time_point now) {
  return find(key, now, false);
}

std::optional<near_hit> near_cache::get_stale(const std::string& key, clock::time_point now) {
  return find(key, now, true);
}

bool near_cache::admit(const std::string& key, std::string value, std::uint64_t ticket,
                       clock::time_point now, clock::duration fresh_for,
                       clock::time_point expires) {
  bool overtaken = broad_epoch_ > ticket;
  if (!overtaken) {
    auto at = invalidated_at_.find(key);
    overtaken = at != invalidated_at_.end() && at->second > ticket;
  }
  abandon_fill();
  if (overtaken) {
    ++stats_.fills_refused;
    return false;
  }
  auto cost = cost_of(key, value);
  // What Redis answered replaces what was kept, also when it is not kept itself.
  if (auto old = entries_.find(key); old != entries_.end()) drop(old);
  if (cost > max_bytes_ || expires <= now) return false;
  while (bytes_ + cost > max_bytes_ && !recency_.empty()) {
    drop(entries_.find(recency_.back()));
    ++stats_.evictions;
  }
  recency_.push_front(key);
  entry e{std::move(value), std::min(now + fresh_for, expires), expires, recency_.begin(), cost};
  entries_.emplace(key, std::move(e));
  bytes_ += cost;
  return true;
}

void near_cache::drop(std::unordered_map<std::string, entry>::iterator it) {
  bytes_ -= it->second.cost;
  recency_.erase(it->second.recency);
  entries_.erase(it);
}

void near_cache::invalidate(const std::string& key) {
  ++epoch_;
  if (fills_ > 0) {
    if (invalidated_at_.size() >= max_tracked_keys) {
      invalidated_at_.clear();
      broad_epoch_ = epoch_;
    } else {
      invalidated_at_[key] = epoch_;
    }
  }
  if (auto it = entries_.find(key); it != entries_.end()) {
    drop(it);
    ++stats_.invalidations;
  }
}

void near_cache::invalidate_matching(const std::string& pattern) {
  broad_epoch_ = ++epoch_;
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (pattern_matches(pattern, it->first)) {
      drop(it);
      ++stats_.invalidations;
    }
    it = next;
  }
}

void near_cache::flush() {
  broad_epoch_ = ++epoch_;
  stats_.invalidations += entries_.size();
  entries_.clear();
  recency_.clear();
  bytes_ = 0;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matching with one backtrack point for the last '*': linear in practice, and no
  // recursion for a hostile pattern to exhaust.
  std::size_t p = 0, t = 0, star = std::string_view::npos, star_text = 0;
  // A bracket class read the way Redis reads it (SCAN MATCH deletes by Redis' reading, and the
  // near caches must drop the same keys): `at` is just past '['; leaves `at` on its ']' (or
  // the pattern's last character if unclosed). '^' first negates; "\\x" is x; "x-y" is a range
  // (its ends in either order) whatever y is, even ']'; a ']' first closes an empty class.
  auto class_matches = [&](std::size_t& at, char c) {
    auto code = [](char ch) { return static_cast<int>(static_cast<signed char>(ch)); };
    bool negate = at < pattern.size() && pattern[at] == '^';
    if (negate) ++at;
    bool found = false;
    for (;;) {
      auto left = pattern.size() - at;
      if (left >= 2 && pattern[at] == '\\') {
        ++at;
        if (pattern[at] == c) found = true;
      } else if (left > 0 && pattern[at] == ']') {
        break;
      } else if (left == 0) {
        --at; // unclosed: the class ends with the pattern
        break;
      } else if (left >= 3 && pattern[at + 1] == '-') {
        int lo = code(pattern[at]), hi = code(pattern[at + 2]);
        if (lo > hi) std::swap(lo, hi);
        if (code(c) >= lo && code(c) <= hi) found = true;
        at += 2;
      } else if (pattern[at] == c) {
        found = true;
      }
      ++at;
    }
    return found != negate;
  };
  while (t < text.size()) {
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (pc == '*') {
        star = p++;
        star_text = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        auto at = p + 1;
        if (class_matches(at, text[t])) {
          p = at + 1;
          ++t;
          continue;
        }
      } else {
        if (pc == '\\' && p + 1 < pattern.size()) pc = pattern[++p];
        if (pc == text[t]) {
          ++p;
          ++t;
          continue;
        }
      }
    }
    if (star == std::string_view::npos) return false;
    p = star + 1;
    t = ++star_text;
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

} // namespace baton::cache
