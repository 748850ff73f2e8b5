// An actor system on CAF's virtual clock, for unit tests of actors: every message runs on the
// test's own thread when run() is called, and time moves only when advance() says so, so a
// test can assert what an actor does at the very millisecond a deadline passes, without
// sleeping and without flakiness under load.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <chrono>
#include <memory>

namespace baton::test {

class virtual_time {
public:
  using time_point = caf::actor_clock::time_point;

  virtual_time() {
    config_.set("scheduler.policy", caf::atom("testing"));
    system_ = std::make_unique<caf::actor_system>(config_);
    scheduler_ = &dynamic_cast<caf::scheduler::test_coordinator&>(system_->scheduler());
  }

  /// Runs what is left, then lets the system go without waiting for actors that only the
  /// scheduler (which is this test's thread) could finish.
  ~virtual_time() {
    run();
    system_->await_actors_before_shutdown(false);
  }
  virtual_time(const virtual_time&) = delete;
  virtual_time& operator=(const virtual_time&) = delete;

  caf::actor_system& system() { return *system_; }
  time_point now() const { return scheduler_->clock().now(); }

  /// Runs every message waiting in every mailbox (and the messages they send), and every
  /// timer due by now, without moving the clock.
  void run() {
    do
      scheduler_->run();
    while (scheduler_->advance_time(caf::timespan(0)) > 0);
  }

  /// Moves the clock forward by `by`, a millisecond at a time, firing each timer when it is due
  /// and running what it sends.
  void advance(std::chrono::milliseconds by) {
    run();
    for (auto left = by; left.count() > 0; left -= std::chrono::milliseconds(1)) {
      scheduler_->advance_time(std::chrono::milliseconds(1));
      run();
    }
  }

  /// Moves the clock to `when` (no-op if it has passed).
  void advance_to(time_point when) {
    if (when > now())
      advance(std::chrono::ceil<std::chrono::milliseconds>(when - now()));
  }

private:
  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_;
  caf::scheduler::test_coordinator* scheduler_ = nullptr;
};

} // namespace baton::test
