// Clean-ups that must land; see cleanup_retrier.hpp.
#include "redis/cleanup_retrier.hpp"

namespace baton::redis_link {

void cleanup_retrier::run(const std::string& key, std::string script, std::vector<std::string> keys,
                          std::vector<std::string> args,
                          std::function<void(const redis_reply&)> first) {
  cleanup c{std::move(script), std::move(keys), std::move(args)};
  send(key, c, std::move(first));
}

void cleanup_retrier::send(const std::string& key, const cleanup& c,
                           std::function<void(const redis_reply&)> then) {
  redis_.run_script(c.script, c.keys, c.args,
                    [this, key, c, then = std::move(then)](redis_reply reply) {
                      if (reply.is_unavailable()) {
                        waiting_[key] = c;
                        arm();
                      }
                      if (then) then(reply);
                    });
}

void cleanup_retrier::arm() {
  if (armed_ || waiting_.empty()) return;
  armed_ = true;
  timer_.expires_after(every_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    armed_ = false;
    if (ec) return;
    auto due = std::move(waiting_);
    waiting_.clear();
    for (const auto& [key, c] : due)
      send(key, c, nullptr);
  });
}

} // namespace baton::redis_link
