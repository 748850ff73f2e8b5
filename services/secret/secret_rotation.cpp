// The rotation state machine; see secret_rotation.hpp.
#include "services/secret/secret_rotation.hpp"

#include "services/lease/task_lease.hpp"
#include "services/secret/hook_runner.hpp"
#include "services/secret/kek_loader.hpp"
#include "services/secret/secret_keys.hpp"
#include "services/secret/secret_record.hpp"
#include "common/failpoint.hpp"
#include "common/log.hpp"

namespace baton::secret {
namespace {

using redis_link::redis_reply;
using redis_link::reply_kind;

class rotation : public std::enable_shared_from_this<rotation> {
public:
  rotation(rotation_context& ctx, rotation_request request,
           std::function<void(rotation_outcome)> done)
      : ctx_(ctx), request_(std::move(request)), done_(std::move(done)),
        keys_(keys_for(ctx.prefix, request_.name)) {
    static std::uint64_t sequence = 0;
    lease_.prefix = ctx.prefix;
    lease_.name = rotation_lease(request_.name);
    lease_.owner = ctx.node_id + ":" + ctx.run_id + ":rotation:" + std::to_string(++sequence);
    lease_.node = ctx.node_id;
  }

  void start() { acquire(); }

private:
  // -- the steps, in order -------------------------------------------------------------

  void acquire() {
    auto self = shared_from_this();
    lease::acquire_task_lease(ctx_.redis, lease_, ctx_.settings.rotation_lease, "secret rotation",
                              request_.name, [self](lease::task_lease_result r) {
                                using kind = lease::task_lease_result::kind;
                                if (r.what == kind::unavailable)
                                  return self->finish_unavailable(redis_reply::unavailable(r.why));
                                if (r.what == kind::held) {
                                  rotation_outcome o;
                                  o.what = rotation_outcome::kind::busy;
                                  o.why = "a rotation of this secret is running on node " +
                                          r.holder_node;
                                  return self->finish(std::move(o));
                                }
                                failpoint("secret-after-lease");
                                self->begin();
                              });
  }

  void begin() {
    auto self = shared_from_this();
    ctx_.redis.run_script("secret_begin", {keys_.record},
                          {lease_.token, std::to_string(request_.due.count()),
                           std::to_string(request_.version_floor)},
                          [self](redis_reply r) { self->on_begin(std::move(r)); });
  }

  void on_begin(redis_reply r) {
    if (r.is_error()) return finish_unavailable(r);
    if (r.kind != reply_kind::array || r.elements.empty())
      return fail("unexpected reply from secret_begin");
    const auto& verdict = r.elements[0].str;
    if (verdict == "stale") return fail("a newer rotation took over");
    if (verdict == "not-due") {
      rotation_outcome o;
      o.what = rotation_outcome::kind::not_due;
      return finish(std::move(o));
    }
    version_ = r.elements.at(1).integer;
    failpoint("secret-after-begin");
    if (verdict == "fresh") return obtain_value();
    // A half-done rotation left `version_` pending.
    if (request_.value) return abort_then_begin_again();
    resume_pending();
  }

  void abort_then_begin_again() {
    auto self = shared_from_this();
    log::info("secret", "rolling back a half-done rotation's pending version",
              {{"secret", request_.name}, {"version", std::to_string(version_)}});
    ctx_.redis.run_script("secret_abort", {keys_.record}, {lease_.token, std::to_string(version_)},
                          [self](redis_reply r) {
                            if (r.is_error()) return self->finish_unavailable(r);
                            self->begin();
                          });
  }

  // Finishes the pending version a killed rotator left: open it and go on from the test.
  void resume_pending() {
    auto self = shared_from_this();
    ctx_.redis.run_script("secret_read", {keys_.record}, {}, [self](redis_reply r) {
      if (r.is_error()) return self->finish_unavailable(r);
      secret_record record;
      auto found =
          parse_record(r, record) ? record.versions.find(self->version_) : record.versions.end();
      std::string error;
      secure_bytes value;
      if (found == record.versions.end() || found->second.state != "pending" ||
          !open(self->ctx_.keys, self->request_.name, std::to_string(self->version_),
                found->second.sealed, value, error)) {
        log::warn("secret",
                  "a half-done rotation's pending version cannot be finished; rolling "
                  "it back",
                  {{"secret", self->request_.name},
                   {"version", std::to_string(self->version_)},
                   {"why", error}});
        return self->abort_then_begin_again();
      }
      log::info("secret", "finishing a half-done rotation",
                {{"secret", self->request_.name}, {"version", std::to_string(self->version_)}});
      self->finished_earlier_ = true;
      self->value_ = std::move(value);
      self->test();
    });
  }

  void obtain_value() {
    if (request_.value) {
      value_ = std::move(*request_.value);
      request_.value.reset();
      return seal_and_stage();
    }
    if (request_.hooks && request_.item && !request_.item->generate_hook.empty()) {
      auto self = shared_from_this();
      return ctx_.hooks.run(request_.item->generate_hook, secure_bytes(), hook_environment(),
                            ctx_.settings.hook_timeout, [self](hook_result h) {
                              if (!h.ok)
                                return self->abort_and_fail("the generate hook failed: " + h.why);
                              self->value_ = std::move(h.output);
                              // A trailing newline is how shells end output, not part of a key.
                              while (!self->value_.empty() &&
                                     (self->value_.data()[self->value_.size() - 1] == '\n' ||
                                      self->value_.data()[self->value_.size() - 1] == '\r'))
                                self->value_.truncate(self->value_.size() - 1);
                              if (self->value_.empty())
                                return self->abort_and_fail("the generate hook printed nothing");
                              if (self->value_.size() > self->ctx_.settings.max_value_bytes)
                                return self->abort_and_fail("the generate hook printed more than "
                                                            "secrets.max_value_bytes");
                              self->seal_and_stage();
                            });
    }
    auto bytes = random_bytes(request_.item ? request_.item->generate_bytes : 32);
    auto text =
        request_.item && request_.item->encoding == "base64" ? to_base64(bytes) : to_hex(bytes);
    value_ = secure_bytes(text);
    OPENSSL_cleanse(text.data(), text.size());
    seal_and_stage();
  }

  void seal_and_stage() {
    sealed_version sealed;
    std::string error;
    if (!seal(ctx_.keys, request_.name, std::to_string(version_), value_, sealed, error))
      return fail("cannot encrypt: " + error);
    auto self = shared_from_this();
    ctx_.redis.run_script(
        "secret_stage", {keys_.record},
        {lease_.token, std::to_string(version_), sealed.kek_id, sealed.wrapped_key,
         sealed.ciphertext},
        [self](redis_reply r) {
          if (r.is_error()) return self->finish_unavailable(r);
          if (r.kind != reply_kind::array || r.elements.size() < 2 || r.elements[0].integer != 1)
            return self->fail("could not stage the new version: " +
                              (r.elements.size() > 1 ? r.elements[1].str : r.str));
          failpoint("secret-after-stage");
          self->test();
        });
  }

  void test() {
    if (!request_.hooks || !request_.item || request_.item->test_hook.empty()) return promote();
    auto self = shared_from_this();
    ctx_.hooks.run(request_.item->test_hook, value_.clone(), hook_environment(),
                   ctx_.settings.hook_timeout, [self](hook_result h) {
                     if (!h.ok)
                       return self->abort_and_fail("the test hook refused the new value: " + h.why);
                     failpoint("secret-after-test");
                     self->promote();
                   });
  }

  void promote() {
    auto self = shared_from_this();
    auto grace = request_.grace;
    ctx_.redis.run_script(
        "secret_promote", {keys_.record},
        {lease_.token, std::to_string(version_), std::to_string(grace.count()),
         events_channel(ctx_.prefix), request_.name},
        [self](redis_reply r) {
          if (r.is_error()) return self->finish_unavailable(r);
          if (r.kind != reply_kind::array || r.elements.size() < 2 || r.elements[0].integer != 1)
            return self->fail("could not promote: " +
                              (r.elements.size() > 1 ? r.elements[1].str : r.str));
          failpoint("secret-after-promote");
          rotation_outcome o;
          o.what = rotation_outcome::kind::done;
          o.version = self->version_;
          o.epoch = r.elements[1].integer;
          o.previous = r.elements.size() > 3 ? r.elements[3].integer : 0;
          o.finished_earlier = self->finished_earlier_;
          self->finish(std::move(o));
        });
  }

  // -- endings -------------------------------------------------------------------------

  void abort_and_fail(std::string why) {
    auto self = shared_from_this();
    if (version_ == 0) return fail(std::move(why));
    ctx_.redis.run_script("secret_abort", {keys_.record}, {lease_.token, std::to_string(version_)},
                          [self, why](redis_reply) { self->fail(why); });
  }

  void fail(std::string why) {
    rotation_outcome o;
    o.what = rotation_outcome::kind::failed;
    o.why = std::move(why);
    finish(std::move(o));
  }

  void finish_unavailable(const redis_reply& r) {
    rotation_outcome o;
    o.what = rotation_outcome::kind::unavailable;
    o.why = r.str;
    finish(std::move(o));
  }

  void finish(rotation_outcome o) {
    value_ = secure_bytes();
    lease::release_task_lease(ctx_.redis, lease_);
    auto done = std::move(done_);
    if (done) done(std::move(o));
  }

  std::vector<std::string> hook_environment() const {
    return {"BATON_SECRET=" + request_.name, "BATON_SECRET_VERSION=" + std::to_string(version_),
            "BATON_NODE=" + ctx_.node_id};
  }

  rotation_context& ctx_;
  rotation_request request_;
  std::function<void(rotation_outcome)> done_;
  secret_keys keys_;
  lease::task_lease lease_;
  std::int64_t version_ = 0;
  secure_bytes value_;
  bool finished_earlier_ = false;
};

} // namespace

void rotate_secret(rotation_context& ctx, rotation_request request,
                   std::function<void(rotation_outcome)> done) {
  std::make_shared<rotation>(ctx, std::move(request), std::move(done))->start();
}

} // namespace baton::secret
