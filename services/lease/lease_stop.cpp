// The clean stop of the lease service, and the releases nobody waits for: a stopping
// daemon retires its clients' leases at the end each was promised; part of lease_service
// (see lease_service.hpp).
#include <caf/send.hpp>

#include "common/log.hpp"
#include "model/lease/lease_keys.hpp"
#include "services/lease/lease_service.hpp"

namespace baton::lease {

using redis_link::redis_reply;

void lease_service::stopping() {
  if (stopping_) return;
  stopping_ = true;
  persist_floor(true); // no grant comes after this one
  if (!keeper_) {
    keeper_stopped_ = true;
    return;
  }
  // A renewal reaching Redis after a retire would lengthen the lease again: the keeper stops
  // first, and says so once no renewal of its is on its way (or, if the actors are gone
  // already, the wait ends after a while). Retires wait until then (retire_quietly).
  caf::anon_send(keeper_, atoms::stop_all::value);
  stop_wait_timer_.expires_after(std::chrono::seconds(2));
  stop_wait_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || keeper_stopped_) return;
    log::warn("lease", "the lease keeper did not confirm it stopped; retiring anyway");
    keeper_has_stopped();
  });
}

void lease_service::keeper_has_stopped() {
  if (keeper_stopped_) return;
  keeper_stopped_ = true;
  stop_wait_timer_.cancel();
  auto deferred = std::move(deferred_retires_);
  deferred_retires_.clear();
  for (auto& [name, h] : deferred) {
    --releases_in_flight_;
    retire_quietly(name, h);
  }
  if (auto then = std::move(after_keeper_stopped_)) {
    after_keeper_stopped_ = nullptr;
    then();
  }
}

void lease_service::retire_all(std::function<void()> done) {
  stopping();
  if (keeper_stopped_) return retire_now(std::move(done));
  after_keeper_stopped_ = [this, done = std::move(done)]() mutable { retire_now(std::move(done)); };
}

void lease_service::retire_now(std::function<void()> done) {
  // Every held lease is retired, and `done` waits for those calls and for any already on
  // their way (a connection closed just before): the link must not stop under them.
  auto names = std::vector<std::string>();
  for (const auto& [name, h] : held_)
    names.push_back(name);
  for (const auto& name : names) {
    auto h = held_[name];
    forget(name);
    retire_quietly(name, h);
  }
  if (releases_in_flight_ == 0) return done();
  when_released_ = std::move(done);
}

void lease_service::retire_quietly(const std::string& name, const held_lease& h) {
  // The end the holder was promised, measured by Redis alone: a lease taken without KEEP keeps
  // its own end (valid_until, Redis time: at least what its holder was told); a KEEP lease,
  // whose holder learns of the loss only now (its connection closes), gets the notice it
  // would have had before a failed renewal. Never this daemon's clock: the chaos harness's
  // clock mix caught a daemon whose clock ran 10% fast retiring a lease before its holder's
  // validity ended. Nor a plain release when this clock says the lease ran out already.
  if (!keeper_stopped_) {
    // Not before the keeper has stopped (see stopping()); counted as on its way meanwhile.
    deferred_retires_.emplace_back(name, h);
    ++releases_in_flight_;
    return;
  }
  auto ms = h.keep ? keep_notice(h.ttl) : h.ttl;
  ++releases_in_flight_;
  redis_.run_script("lease_retire", {keys_for(settings_.prefix, name).lease},
                    {h.owner, std::to_string(h.token), std::to_string(ms.count()),
                     events_channel(settings_.prefix), name},
                    [this, name](redis_reply reply) {
                      if (reply.is_error())
                        log::warn("lease", "could not retire; it expires at its ttl",
                                  {{"lease", name}, {"reason", reply.str}});
                      if (--releases_in_flight_ == 0 && when_released_) {
                        auto done = std::move(when_released_);
                        when_released_ = nullptr;
                        done();
                      }
                    });
}

void lease_service::release_quietly(const std::string& name, const std::string& owner,
                                    std::int64_t token) {
  ++releases_in_flight_;
  send_release(name, owner, token, [this, name](redis_reply reply) {
    // If Redis cannot be reached the lease simply runs out at its TTL.
    if (reply.is_unavailable())
      log::warn("lease", "could not release; it expires at its ttl",
                {{"lease", name}, {"reason", reply.str}});
    wake(name);
    if (--releases_in_flight_ == 0 && when_released_) {
      auto done = std::move(when_released_);
      when_released_ = nullptr;
      done();
    }
  });
}

} // namespace baton::lease
