// What the fleet page (/ui) shows, as one JSON document (/ui/fleet.json): this node, its
// Redis link with a round trip measured now, the live nodes with their state and sessions,
// the leases held and the elections' leaders with tokens and holders, the configured
// secrets with their versions and the version each node serves (never a value), and the
// breakers this node keeps. Gathered from Redis and the services on the I/O thread.
//
// Any number of open pages cost Redis one gather per `fresh_for`: a request while a gather
// runs waits for it, and one within `fresh_for` of the last gets that one. A part that Redis
// did not answer is reported in "errors" with the rest of the document intact, so the page
// says what it could not read instead of going blank.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/daemon_context.hpp"

namespace baton::ui {

class fleet_snapshot : public std::enable_shared_from_this<fleet_snapshot> {
public:
  using clock = std::chrono::steady_clock;
  using reply = std::function<void(const std::string& json)>;

  /// At most this many leases (and leaders) are read for one snapshot; "leases_truncated"
  /// says when there were more.
  static constexpr std::size_t max_leases = 200;

  explicit fleet_snapshot(daemon_context& ctx,
                          std::chrono::milliseconds fresh_for = std::chrono::milliseconds(1000));

  /// Runs `done` on the I/O thread with the document: at once with the last one if it is
  /// fresh, else once the gather under way (or started now) ends. Each Redis call of a gather
  /// runs within the link's call budget, so `done` always runs.
  void get(reply done);

private:
  struct gather;
  void start();
  void finish(const std::string& json);

  daemon_context& ctx_;
  std::chrono::milliseconds fresh_for_;
  std::string last_;
  clock::time_point last_at_{};
  bool gathering_ = false;
  std::vector<reply> waiting_;
};

} // namespace baton::ui
