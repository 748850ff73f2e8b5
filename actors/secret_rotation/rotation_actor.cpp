// The rotation actor; see rotation_actor.hpp.
#include "actors/secret_rotation/rotation_actor.hpp"

#include <caf/all.hpp>
#include <openssl/crypto.h>

#include <atomic>

#include "common/failpoint.hpp"
#include "common/log.hpp"
#include "model/lease/task_lease.hpp"
#include "model/secret/kek_loader.hpp"
#include "model/secret/secret_keys.hpp"
#include "model/secret/secret_record.hpp"

namespace baton::secret {
namespace {

using protocol::error_code;
using protocol::result;
using redis_link::redis_reply;
using redis_link::reply_kind;
using redis_link::script_call;

struct rotation_state {
  std::shared_ptr<const rotation_deps> deps;
  rotation_request request;
  rotation_callback done;
  secret_keys keys;
  lease::task_lease lease;
  rotation_step step = rotation_step::taking_lease;
  std::int64_t version = 0;
  secure_bytes value;
  bool finished_earlier = false;
  bool timed_out = false; ///< past the lease's TTL: replies still on their way are ignored
  std::string settle_why; ///< why the lease's acquire has an unknown outcome
  static inline const char* name = "secret_rotation";
};

using rotation_pointer = caf::stateful_actor<rotation_state>*;

// -- helpers ---------------------------------------------------------------------------

void enter(rotation_pointer self, rotation_step step) {
  self->state.step = step;
  if (self->state.deps->on_step) self->state.deps->on_step(self->state.request.name, step);
}

/// Sends one script to Redis; `then` gets the reply. A CAF error (the link gone, no answer
/// in time) arrives as an `unavailable` reply, so every step degrades the same way.
template <class F>
void ask(rotation_pointer self, script_call call, F then) {
  auto budget = std::max(self->state.deps->settings.rotation_lease, milliseconds(1000));
  self->request(self->state.deps->link, budget, atoms::redis_script::value, std::move(call))
      .then(
          [self, then](redis_reply& r) mutable {
            if (!self->state.timed_out) then(std::move(r));
          },
          [self, then](caf::error& e) mutable {
            if (!self->state.timed_out)
              // The link may have sent it before its answer was late: as if sent.
              then(redis_reply::unanswered("no answer from the link: " + self->system().render(e)));
          });
}

std::vector<std::string> hook_environment(rotation_pointer self) {
  auto& st = self->state;
  return {"BATON_SECRET=" + st.request.name, "BATON_SECRET_VERSION=" + std::to_string(st.version),
          "BATON_NODE=" + st.deps->node_id};
}

// -- endings ---------------------------------------------------------------------------

void finish(rotation_pointer self, result<rotation_success> r) {
  auto& st = self->state;
  if (st.step == rotation_step::done) return; // a timeout and a reply may both end it
  enter(self, rotation_step::done);
  st.value = secure_bytes();
  if (!st.lease.token.empty())
    self->send(st.deps->link, atoms::redis_script::value, lease::task_lease_release_call(st.lease));
  if (auto done = std::move(st.done)) done(std::move(r));
  self->quit();
}

void fail(rotation_pointer self, std::string why) {
  finish(self, protocol::fail(error_code::err, std::move(why)));
}

void finish_unavailable(rotation_pointer self, const redis_reply& r) {
  // Begin, stage and promote change the record: one whose answer was lost after it was sent
  // may have landed. A lost promote may have made the new version current; a lost stage or
  // begin may leave a pending version that the next scheduled rotation finishes and promotes
  // (resume_pending). Neither is "not done": UNKNOWN, and SECRET INFO tells which version is
  // current. Earlier steps (the lease, reading or rolling back a half-done rotation) change
  // nothing of this caller's: UNAVAILABLE.
  auto step = self->state.step;
  bool changes = step == rotation_step::beginning || step == rotation_step::staging ||
                 step == rotation_step::promoting;
  if (changes && r.outcome_unknown())
    return finish(self, protocol::fail(error_code::unknown,
                                       "redis did not answer in time (" + r.str +
                                           "); the new version may or may not become current: "
                                           "SECRET INFO shows the current version; if it is "
                                           "not a new one, send the PUT or ROTATE again"));
  finish(self, protocol::fail(error_code::unavailable, r.str));
}

void abort_and_fail(rotation_pointer self, std::string why) {
  auto& st = self->state;
  if (st.version == 0) return fail(self, std::move(why));
  ask(self, {"secret_abort", {st.keys.record}, {st.lease.token, std::to_string(st.version)}, 0},
      [self, why](redis_reply) { fail(self, why); });
}

// Past the lease's TTL: whatever step it is in, the rotation stops. A version it staged is
// rolled back (fenced: a no-op if a newer rotation took over, or if it was promoted already),
// so that no later rotation promotes a value its caller was told had failed.
void time_out(rotation_pointer self) {
  auto& st = self->state;
  if (st.step == rotation_step::done || st.timed_out) return;
  st.timed_out = true;
  auto why = std::string("the rotation did not finish within secrets.rotation_lease (at ") +
             to_string(st.step) + ")";
  if (st.version == 0) return fail(self, why);
  self->request(
          st.deps->link, std::chrono::seconds(5), atoms::redis_script::value,
          script_call{
              "secret_abort", {st.keys.record}, {st.lease.token, std::to_string(st.version)}, 0})
      .then(
          [self, why, promoting = st.step == rotation_step::promoting](redis_reply& r) {
            bool was_pending = !(r.kind == reply_kind::array && r.elements.size() > 1 &&
                                 r.elements[1].str == "not-pending");
            fail(self, promoting && !was_pending
                           ? why + "; its promotion may have taken effect (SECRET INFO tells)"
                           : why);
          },
          [self, why](caf::error&) { fail(self, why); });
}

// -- the steps, in order -----------------------------------------------------------------

void begin(rotation_pointer self);

void promote(rotation_pointer self) {
  enter(self, rotation_step::promoting);
  auto& st = self->state;
  ask(self,
      {"secret_promote",
       {st.keys.record},
       {st.lease.token, std::to_string(st.version), std::to_string(st.request.grace.count()),
        events_channel(st.deps->prefix), st.request.name},
       0},
      [self](redis_reply r) {
        if (r.is_error()) return finish_unavailable(self, r);
        if (r.kind != reply_kind::array || r.elements.size() < 2 || r.elements[0].integer != 1)
          return fail(self,
                      "could not promote: " + (r.elements.size() > 1 ? r.elements[1].str : r.str));
        failpoint("secret-after-promote");
        rotated done;
        done.version = self->state.version;
        done.epoch = r.elements[1].integer;
        done.previous = r.elements.size() > 3 ? r.elements[3].integer : 0;
        done.finished_earlier = self->state.finished_earlier;
        finish(self, rotation_success(done));
      });
}

/// Runs a hook through the hook runner; `then` gets its result if it exited 0 in time. A hook
/// that failed, or did not answer, rolls the staged version back ("the <which> hook <failed>").
template <class F>
void call_hook(rotation_pointer self, const std::string& command,
               std::shared_ptr<const secure_bytes> input, const char* which, const char* failed,
               F then) {
  auto& st = self->state;
  hook_job job{command, std::move(input), hook_environment(self),
               st.deps->settings.hook_timeout.count()};
  auto name = std::string("the ") + which + " hook ";
  // The hook's own timeout ends it; the extra second covers starting and reaping it.
  self->request(st.deps->hooks, st.deps->settings.hook_timeout + milliseconds(1000),
                atoms::hook::value, std::move(job))
      .then(
          [self, name, failed, then](hook_reply& h) mutable {
            if (self->state.timed_out) return;
            if (!h || !h->ok)
              return abort_and_fail(self,
                                    name + failed + ": " + (h ? h->why : std::string("no result")));
            then(*h);
          },
          [self, name](caf::error& e) {
            if (self->state.timed_out) return;
            abort_and_fail(self, name + "did not answer: " + self->system().render(e));
          });
}

void test(rotation_pointer self) {
  auto& st = self->state;
  const auto& item = st.request.item;
  if (!st.request.hooks || !item || item->test_hook.empty()) return promote(self);
  enter(self, rotation_step::testing);
  call_hook(self, item->test_hook, std::make_shared<const secure_bytes>(st.value.clone()), "test",
            "refused the new value", [self](hook_result&) {
              failpoint("secret-after-test");
              promote(self);
            });
}

void seal_and_stage(rotation_pointer self) {
  enter(self, rotation_step::staging);
  auto& st = self->state;
  sealed_version sealed;
  std::string error;
  if (!seal(*st.deps->keys, st.request.name, std::to_string(st.version), st.value, sealed, error))
    return fail(self, "cannot encrypt: " + error);
  ask(self,
      {"secret_stage",
       {st.keys.record},
       {st.lease.token, std::to_string(st.version), sealed.kek_id, sealed.wrapped_key,
        sealed.ciphertext},
       0},
      [self](redis_reply r) {
        if (r.is_error()) return finish_unavailable(self, r);
        if (r.kind != reply_kind::array || r.elements.size() < 2 || r.elements[0].integer != 1)
          return fail(self, "could not stage the new version: " +
                                (r.elements.size() > 1 ? r.elements[1].str : r.str));
        failpoint("secret-after-stage");
        test(self);
      });
}

// What a generate hook printed, as a value: a trailing newline is how shells end output, not
// part of a key. Empty when it is not usable (`why` says so).
bool take_generated(rotation_pointer self, hook_result& h, std::string& why) {
  auto& value = h.output;
  while (!value.empty() &&
         (value.data()[value.size() - 1] == '\n' || value.data()[value.size() - 1] == '\r'))
    value.truncate(value.size() - 1);
  if (value.empty()) {
    why = "the generate hook printed nothing";
    return false;
  }
  if (value.size() > self->state.deps->settings.max_value_bytes) {
    why = "the generate hook printed more than secrets.max_value_bytes";
    return false;
  }
  self->state.value = std::move(value);
  return true;
}

void obtain_value(rotation_pointer self) {
  enter(self, rotation_step::obtaining_value);
  auto& st = self->state;
  if (st.request.value) {
    st.value = std::move(*st.request.value);
    st.request.value.reset();
    return seal_and_stage(self);
  }
  const auto& item = st.request.item;
  if (st.request.hooks && item && !item->generate_hook.empty()) {
    return call_hook(self, item->generate_hook, nullptr, "generate", "failed",
                     [self](hook_result& h) {
                       std::string why;
                       if (!take_generated(self, h, why)) return abort_and_fail(self, why);
                       seal_and_stage(self);
                     });
  }
  auto bytes = random_bytes(item ? item->generate_bytes : 32);
  auto text = item && item->encoding == "base64" ? to_base64(bytes) : to_hex(bytes);
  st.value = secure_bytes(text);
  OPENSSL_cleanse(text.data(), text.size());
  seal_and_stage(self);
}

void roll_back_then_begin(rotation_pointer self) {
  enter(self, rotation_step::rolling_back);
  auto& st = self->state;
  log::info("secret", "rolling back a half-done rotation's pending version",
            {{"secret", st.request.name}, {"version", std::to_string(st.version)}});
  ask(self, {"secret_abort", {st.keys.record}, {st.lease.token, std::to_string(st.version)}, 0},
      [self](redis_reply r) {
        if (r.is_error()) return finish_unavailable(self, r);
        begin(self);
      });
}

// Finishes the pending version a killed rotator left: open it and go on from the test.
void resume_pending(rotation_pointer self) {
  enter(self, rotation_step::reading_pending);
  ask(self, {"secret_read", {self->state.keys.record}, {}, 0}, [self](redis_reply r) {
    if (r.is_error()) return finish_unavailable(self, r);
    auto& st = self->state;
    secret_record record;
    auto found = parse_record(r, record) ? record.versions.find(st.version) : record.versions.end();
    std::string error;
    secure_bytes value;
    if (found == record.versions.end() || found->second.state != "pending" ||
        !open(*st.deps->keys, st.request.name, std::to_string(st.version), found->second.sealed,
              value, error)) {
      log::warn(
          "secret", "a half-done rotation's pending version cannot be finished; rolling it back",
          {{"secret", st.request.name}, {"version", std::to_string(st.version)}, {"why", error}});
      return roll_back_then_begin(self);
    }
    log::info("secret", "finishing a half-done rotation",
              {{"secret", st.request.name}, {"version", std::to_string(st.version)}});
    st.finished_earlier = true;
    st.value = std::move(value);
    test(self);
  });
}

void begin(rotation_pointer self) {
  enter(self, rotation_step::beginning);
  auto& st = self->state;
  ask(self,
      {"secret_begin",
       {st.keys.record},
       // A fresh incarnation id every time: the script keeps the record's own if it has one,
       // and only a record made anew (first PUT, or after Redis lost it) takes this one.
       {st.lease.token, std::to_string(st.request.due.count()),
        std::to_string(st.request.version_floor), to_hex(random_bytes(16))},
       0},
      [self](redis_reply r) {
        if (r.is_error()) return finish_unavailable(self, r);
        if (r.kind != reply_kind::array || r.elements.empty())
          return fail(self, "unexpected reply from secret_begin");
        const auto& verdict = r.elements[0].str;
        if (verdict == "stale") return fail(self, "a newer rotation took over");
        if (verdict == "not-due") return finish(self, rotation_success(rotation_not_due{}));
        if (r.elements.size() < 2) return fail(self, "unexpected reply from secret_begin");
        self->state.version = r.elements[1].integer;
        failpoint("secret-after-begin");
        if (verdict == "fresh") return obtain_value(self);
        // A half-done rotation left `version` pending.
        if (self->state.request.value) return roll_back_then_begin(self);
        resume_pending(self);
      });
}

// The acquire got no answer in time, yet Redis may have run it (a paused Redis runs what it
// had queued): a lease nobody gives back would refuse every rotation of this secret for its
// whole TTL (the chaos harness's drain-redis-paused fault showed it). The owner id is this
// rotation's alone, so asking again is idempotent: granted means the lease is ours (new, or
// the one that landed) and it is given back at once; held means another has it, so ours never
// landed. Until Redis answers it asks again, at most until the lease's own end.
void settle_unknown_lease(rotation_pointer self, std::string why) {
  auto& st = self->state;
  ask(self,
      lease::task_lease_acquire_call(st.lease, st.deps->settings.rotation_lease, "secret rotation",
                                     st.request.name),
      [self, why](redis_reply r) {
        auto taken = lease::read_task_lease_reply(r, self->state.lease);
        if (!taken && taken.error().code == error_code::unavailable) {
          self->delayed_send(self, milliseconds(250), atoms::timer_tick::value, std::uint64_t{1});
          self->state.settle_why = why;
          return;
        }
        // Granted: finish() gives it back (the token is set); held: nothing of ours to give.
        finish_unavailable(self, redis_reply::unavailable(why));
      });
}

void take_lease(rotation_pointer self) {
  enter(self, rotation_step::taking_lease);
  auto& st = self->state;
  ask(self,
      lease::task_lease_acquire_call(st.lease, st.deps->settings.rotation_lease, "secret rotation",
                                     st.request.name),
      [self](redis_reply r) {
        auto taken = lease::read_task_lease_reply(r, self->state.lease);
        if (!taken && taken.error().code == error_code::unavailable) {
          // The caller hears at once; settling the lease goes on behind its back.
          auto why = taken.error().why;
          if (auto done = std::move(self->state.done)) done(taken.error());
          self->state.done = nullptr;
          return settle_unknown_lease(self, why);
        }
        if (!taken) {
          // Denied: the holder (the context) is another rotation of this secret.
          const auto* holder = taken.error().context_as<lease::lease_holder>();
          return finish(self, protocol::fail(error_code::busy,
                                             "a rotation of this secret is running on node " +
                                                 (holder ? holder->node : std::string("?")),
                                             taken.error().context));
        }
        failpoint("secret-after-lease");
        begin(self);
      });
}

caf::behavior rotation(rotation_pointer self, std::shared_ptr<const rotation_deps> deps,
                       std::shared_ptr<rotation_request> request, rotation_callback done) {
  static std::atomic<std::uint64_t> sequence{0};
  auto& st = self->state;
  st.deps = std::move(deps);
  st.request = std::move(*request);
  st.done = std::move(done);
  st.keys = keys_for(st.deps->prefix, st.request.name);
  st.lease.prefix = st.deps->prefix;
  st.lease.name = rotation_lease(st.request.name);
  st.lease.owner =
      st.deps->node_id + ":" + st.deps->run_id + ":rotation:" + std::to_string(++sequence);
  st.lease.node = st.deps->node_id;
  st.lease.sharded_watch = st.deps->sharded_watch;
  // The lease bounds the whole rotation: past its TTL another daemon may take over, so this
  // one must not write any more (its writes would be refused as stale anyway).
  self->delayed_send(self, st.deps->settings.rotation_lease, atoms::timer_tick::value,
                     std::uint64_t{0});
  take_lease(self);
  return {
      [=](atoms::timer_tick, std::uint64_t which) {
        if (which == 1) return settle_unknown_lease(self, self->state.settle_why);
        time_out(self);
      },
  };
}

} // namespace

const char* to_string(rotation_step step) {
  switch (step) {
  case rotation_step::taking_lease:
    return "taking_lease";
  case rotation_step::beginning:
    return "beginning";
  case rotation_step::reading_pending:
    return "reading_pending";
  case rotation_step::rolling_back:
    return "rolling_back";
  case rotation_step::obtaining_value:
    return "obtaining_value";
  case rotation_step::staging:
    return "staging";
  case rotation_step::testing:
    return "testing";
  case rotation_step::promoting:
    return "promoting";
  case rotation_step::done:
    return "done";
  }
  return "?";
}

caf::actor spawn_rotation(caf::actor_system& system, std::shared_ptr<const rotation_deps> deps,
                          rotation_request request, rotation_callback done) {
  return system.spawn(rotation, std::move(deps),
                      std::make_shared<rotation_request>(std::move(request)), std::move(done));
}

} // namespace baton::secret
