// What an acceptor does when accept() fails (EMFILE, ENFILE, ENOBUFS, ...): the listening
// socket stays readable while the error lasts, so accepting again at once would spin a core.
// It waits 100 ms, doubling to 1 s while failures go on, and logs once per episode (the first
// failure, and the first success after), not once per attempt. Shared by the Unix socket and
// the HTTP acceptors; the decision is separate from the timer so that it can be unit-tested.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace baton {

class accept_backoff {
public:
  static constexpr std::chrono::milliseconds first_delay{100};
  static constexpr std::chrono::milliseconds longest_delay{1000};

  struct step {
    std::chrono::milliseconds delay; ///< wait this long before accepting again
    bool starts_episode = false;     ///< the first failure since a success: log it
  };

  /// An accept failed.
  step failed() {
    step s{next_, failures_ == 0};
    ++failures_;
    next_ = std::min(next_ * 2, longest_delay);
    return s;
  }

  /// An accept succeeded: the failures it ends (0 if none; else log the recovery once).
  std::uint64_t succeeded() {
    auto ended = failures_;
    failures_ = 0;
    next_ = first_delay;
    return ended;
  }

private:
  std::chrono::milliseconds next_ = first_delay;
  std::uint64_t failures_ = 0;
};

} // namespace baton
