// Idempotent clean-up scripts that must land: the abandon of a lease grant whose answer came
// too late, the release of a claim made by a call that timed out. The first attempt's outcome
// goes to the caller at once (it answers its client from it); if Redis did not answer, the
// script is sent again every `every` until it does, so the state it cleans up goes soon after
// Redis is back, rather than at its TTL. Runs on the I/O thread, like the pool.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "redis/redis_pool.hpp"

namespace baton::redis_link {

class cleanup_retrier {
public:
  cleanup_retrier(boost::asio::io_context& io, redis_pool& redis,
                  std::chrono::milliseconds every = std::chrono::milliseconds(250))
      : redis_(redis), timer_(io), every_(every) {}

  /// Runs `script` (idempotent: safe to run twice). `first` hears the first attempt's reply;
  /// later attempts are retried quietly until one is answered. `key` names the clean-up, so
  /// that one asked again while it waits is not doubled.
  void run(const std::string& key, std::string script, std::vector<std::string> keys,
           std::vector<std::string> args, std::function<void(const redis_reply&)> first);

  std::size_t waiting() const { return waiting_.size(); }

private:
  struct cleanup {
    std::string script;
    std::vector<std::string> keys, args;
  };
  void send(const std::string& key, const cleanup& c, std::function<void(const redis_reply&)> then);
  void arm();

  redis_pool& redis_;
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds every_;
  bool armed_ = false;
  std::map<std::string, cleanup> waiting_; ///< not answered yet, by key
};

} // namespace baton::redis_link
