// Rate limits for this daemon's clients; see rate_service.hpp.
#include "services/rate/rate_service.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/log.hpp"
#include "redis/idempotent_call.hpp"
#include "services/rate/rate_keys.hpp"
#include "services/rate/rate_reply.hpp"

namespace baton::rate {

using redis_link::redis_reply;
using redis_link::reply_kind;

namespace {

// How often the live daemons are counted for the `local` share.
constexpr auto nodes_refresh = std::chrono::seconds(5);

std::vector<std::string> policy_names(const std::vector<rate_policy>& policies) {
  std::vector<std::string> names;
  for (const auto& p : policies)
    names.push_back(p.name);
  return names;
}

} // namespace

const char* source_name(rate_decision::source s) {
  switch (s) {
  case rate_decision::source::redis:
    return "redis";
  case rate_decision::source::cache:
    return "cache";
  case rate_decision::source::open:
    return "open";
  case rate_decision::source::closed:
    return "closed";
  case rate_decision::source::local:
    return "local";
  }
  return "redis";
}

rate_service::rate_service(redis_link::redis_pool& redis, rate_settings settings)
    : redis_(redis), settings_(std::move(settings)), counters_(policy_names(settings_.policies)),
      cache_(settings_.cache_capacity) {
  for (std::size_t i = 0; i < settings_.policies.size(); ++i) {
    const auto& policy = settings_.policies[i];
    compiled_policy c{
        &policy, i, "rate_" + policy.algorithm, state_key_prefix(settings_.prefix, policy), {}};
    for (const auto& w : policy.windows) {
      c.window_args.push_back(std::to_string(w.window.count()));
      c.window_args.push_back(std::to_string(w.limit));
    }
    compiled_.push_back(std::move(c));
  }
}

void rate_service::listen(redis_link::redis_subscriber& events) {
  events.subscribe(events_channel(settings_.prefix), [this](const std::string& payload) {
    // "reset <policy> <key>": policy names have no spaces, keys may.
    if (payload.rfind("reset ", 0) != 0) return;
    auto space = payload.find(' ', 6);
    if (space == std::string::npos) return;
    cache_.forget(payload.substr(6, space - 6), payload.substr(space + 1));
  });
}

const rate_policy* rate_service::find(const std::string& name) const {
  for (const auto& p : settings_.policies)
    if (p.name == name) return &p;
  return nullptr;
}

const rate_service::compiled_policy& rate_service::compiled(const rate_policy& policy) const {
  // Policies come from find(), which hands out pointers into settings_.policies.
  auto index = static_cast<std::size_t>(&policy - settings_.policies.data());
  if (index >= compiled_.size())
    throw std::logic_error("rate policy '" + policy.name + "' is not this service's");
  return compiled_[index];
}

void rate_service::settle(const compiled_policy& p, rate_decision& d, bool charge) {
  d.limited = !d.allowed;
  if (p.policy->shadow) d.allowed = true;
  if (!charge) return; // PEEK decides nothing
  auto& c = counters_.at(p.index);
  (d.limited ? c.limited : c.allowed).fetch_add(1, std::memory_order_relaxed);
  if (d.limited && p.policy->shadow) c.shadow_passed.fetch_add(1, std::memory_order_relaxed);
  if (d.from == rate_decision::source::cache) c.cache_hits.fetch_add(1, std::memory_order_relaxed);
  if (d.degraded()) c.degraded.fetch_add(1, std::memory_order_relaxed);
}

void rate_service::check(const rate_policy& policy, const std::string& key, std::int64_t cost,
                         bool charge, std::function<void(rate_decision)> done) {
  const auto& p = compiled(policy);
  auto now = clock::now();
  if (charge) {
    if (auto known = cache_.find(policy.name, key, cost, now)) {
      rate_decision d;
      d.from = rate_decision::source::cache;
      d.retry_after_ms = std::chrono::ceil<milliseconds>(known->until - now).count();
      d.reset_ms =
          std::max<std::int64_t>(0, std::chrono::ceil<milliseconds>(known->reset - now).count());
      settle(p, d, charge);
      return done(std::move(d));
    }
  }
  std::vector<std::string> args;
  args.reserve(2 + p.window_args.size());
  args.push_back(std::to_string(cost));
  args.emplace_back(charge ? "charge" : "peek");
  args.insert(args.end(), p.window_args.begin(), p.window_args.end());
  redis_.run_script(
      p.script, {state_key(p, key)}, args,
      [this, &p, key, cost, charge, sent = now, done = std::move(done)](redis_reply reply) {
        rate_decision d;
        if (!read_rate_reply(reply, d)) {
          auto why = reply.str.empty() ? std::string("unexpected reply from redis") : reply.str;
          auto fallback = degrade(p, key, cost, charge, why);
          settle(p, fallback, charge);
          return done(std::move(fallback));
        }
        if (degraded_) {
          degraded_ = false;
          log::info("rate", "redis answers again; rate limits are enforced fleet-wide");
        }
        if (!d.allowed && charge && d.retry_after_ms > 0)
          // Counted from when the request was sent: the entry never outlives Redis' answer.
          cache_.remember(
              p.policy->name, key,
              {sent + milliseconds(d.retry_after_ms), sent + milliseconds(d.reset_ms), cost},
              clock::now());
        settle(p, d, charge);
        refresh_live_nodes(sent);
        done(std::move(d));
      },
      settings_.budget);
}

rate_decision rate_service::degrade(const compiled_policy& p, const std::string& key,
                                    std::int64_t cost, bool charge, const std::string& why) {
  if (!degraded_) {
    degraded_ = true;
    log::warn("rate", "redis did not answer a rate check in time; answering by failure modes",
              {{"policy", p.policy->name}, {"mode", p.policy->failure_mode}, {"why", why}});
  }
  rate_decision d;
  const auto& mode = p.policy->failure_mode;
  if (mode == "closed") {
    d.from = rate_decision::source::closed;
    d.allowed = false;
    d.retry_after_ms = settings_.closed_retry_after.count();
  } else if (mode == "local") {
    d.from = rate_decision::source::local;
    auto local = local_.check(*p.policy, key, cost, charge, live_nodes_, clock::now());
    d.allowed = local.allowed;
    d.remaining = local.remaining;
    d.reset_ms = local.reset_ms;
    d.retry_after_ms = local.retry_after_ms;
  } else {
    d.from = rate_decision::source::open;
    d.allowed = true;
  }
  return d;
}

void rate_service::reset(const rate_policy& policy, const std::string& key,
                         redis_link::reply_callback done) {
  const auto& p = compiled(policy);
  cache_.forget(policy.name, key);
  redis_link::run_idempotent(
      redis_, "rate_reset", {state_key(p, key)},
      {events_channel(settings_.prefix), "reset " + policy.name + " " + key},
      [done = std::move(done)](redis_reply reply, bool) { done(std::move(reply)); });
}

void rate_service::refresh_live_nodes(clock::time_point now) {
  if (counting_nodes_ || settings_.nodes_channel.empty() ||
      (nodes_counted_at_ != clock::time_point{} && now - nodes_counted_at_ < nodes_refresh))
    return;
  counting_nodes_ = true;
  nodes_counted_at_ = now;
  redis_.call({"PUBSUB", "NUMSUB", settings_.nodes_channel}, [this](redis_reply reply) {
    counting_nodes_ = false;
    // [channel, subscribers]
    if (reply.kind == reply_kind::array && reply.elements.size() == 2 &&
        reply.elements[1].kind == reply_kind::integer)
      live_nodes_ = static_cast<std::size_t>(std::max<std::int64_t>(1, reply.elements[1].integer));
  });
}

} // namespace baton::rate
