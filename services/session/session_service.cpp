// Sessions: the commands; see session_service.hpp. The announcements, the drain and the
// adoption of a dead node's sessions are in session_handoff.cpp.
#include "services/session/session_service.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "metrics/exposition.hpp"
#include "model/secret/kek_loader.hpp"
#include "model/session/resume_token.hpp"
#include "model/session/session_keys.hpp"
#include "redis/idempotent_call.hpp"
#include "services/unanswered.hpp"

namespace baton::session {
namespace {

using redis_link::redis_reply;
using redis_link::reply_kind;

using protocol::error_code;
using protocol::fail;
using protocol::failure;
using protocol::result;

failure unavailable(const redis_reply& r) {
  return fail(error_code::unavailable, r.str.empty() ? "unexpected reply" : r.str);
}

// STATE of a session that is closed or expired.
failure no_such_session() {
  return fail(error_code::err, "no such session (closed or expired)");
}

// How long a resume whose answer was lost may be sent again with the same token and get the
// same answer (lua/session_resume.lua): a client's retries, not a second life for the token.
constexpr std::chrono::milliseconds resume_repeat_window{30000};

// How long OPEN's place under the caps is held before its session exists (lua/session_index.lua).
constexpr std::chrono::milliseconds reservation_hold{60000};

// Another uid's session (model/caller.hpp).
failure not_yours() {
  return fail(error_code::noperm, "the session is another user's; only the uid that opened it "
                                  "may use it (and an admin GET, LIST or CLOSE it)");
}

// STATE SET on a node that no longer owns the session.
failure moved_to(const std::string& node) {
  return fail(error_code::moved,
              "the session is owned by node " + node +
                  " now; its state is written there (resume it there)",
              new_owner{node});
}

std::int64_t number(const std::string& text) {
  return std::strtoll(text.c_str(), nullptr, 10);
}

// The fields of a session hash, from element `first` of a reply on.
struct session_fields {
  std::map<std::string, std::string> values;
  const std::string& operator[](const std::string& name) const {
    static const std::string none;
    auto it = values.find(name);
    return it == values.end() ? none : it->second;
  }
};

session_fields fields_of(const redis_reply& r, std::size_t first) {
  session_fields f;
  for (std::size_t i = first; i + 1 < r.elements.size(); i += 2)
    f.values[r.elements[i].str] = r.elements[i + 1].str;
  return f;
}

session_view view_of(const std::string& id, const session_fields& f) {
  session_view v;
  v.id = id;
  v.user = f["user"];
  v.owner = f["owner"];
  v.meta = f["meta"];
  v.epoch = number(f["epoch"]);
  v.created_ms = number(f["created"]);
  v.touched_ms = number(f["touched"]);
  v.ttl_ms = number(f["ttl"]);
  v.state_version = number(f["state_version"]);
  v.uid = f["uid"].empty() ? caller::unknown_uid : number(f["uid"]);
  return v;
}

// The envelope binds a session's state to "session:<id>" and its state version.
std::string sealed_name(const std::string& id) {
  return "session:" + id;
}

} // namespace

session_service::session_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                                 const secret::keyring& keys,
                                 membership::membership_service& members, session_settings settings)
    : io_(io), redis_(redis), keys_(keys), members_(members), settings_(std::move(settings)),
      channel_(session_events_channel(settings_.prefix)), cleanups_(io, redis) {
  count_owned();
}

std::string session_service::key(const std::string& id) const {
  return session_key(settings_.prefix, id);
}
std::string session_service::user_index(const std::string& user) const {
  return user_sessions_key(settings_.prefix, user);
}
std::string session_service::node_index(const std::string& node) const {
  return node_sessions_key(settings_.prefix, node);
}

void session_service::start(redis_link::redis_subscriber& events) {
  events.subscribe(channel_, [this](const std::string& payload) { on_event(payload); });
  // After a restart under the same node id, the sessions Redis says are ours are ours.
  redis_.call({"ZRANGE", node_index(settings_.node_id), "0", "-1"}, [this](redis_reply r) {
    for (const auto& e : r.elements) {
      auto id = e.str;
      redis_.run_script("session_read", {key(id)}, {}, [this, id](redis_reply s) {
        if (s.kind != reply_kind::array || s.elements.size() < 2 || s.elements[1].integer < 0)
          return;
        auto f = fields_of(s, 2);
        if (f["owner"] == settings_.node_id) owned_[id] = number(f["epoch"]);
        count_owned();
      });
    }
  });
}

void session_service::index(const std::string& index_key, bool add, const std::string& id,
                            std::int64_t ttl_ms) {
  redis_.run_script("session_index", {index_key},
                    {add ? "add" : "remove", id, std::to_string(ttl_ms)}, [](redis_reply) {});
}

void session_service::own(const std::string& id, std::int64_t epoch, std::int64_t ttl_ms) {
  owned_[id] = epoch;
  count_owned();
  index(node_index(settings_.node_id), true, id, ttl_ms);
}

void session_service::disown(const std::string& id) {
  if (owned_.erase(id)) index(node_index(settings_.node_id), false, id, 0);
  count_owned();
}

// -- the commands --------------------------------------------------------------------------

void session_service::open(const std::string& user, milliseconds ttl, const std::string& meta,
                           const caller& who, session_callback<session_view> done) {
  auto id = random_id();
  reserve(user, id, ttl,
          [this, id, user, ttl, meta, uid = who.uid,
           done = std::move(done)](std::optional<failure> refused) mutable {
            if (refused) return done(std::move(*refused));
            open_reserved(id, user, ttl, meta, uid, std::move(done));
          });
}

void session_service::reserve(const std::string& user, const std::string& id, milliseconds ttl,
                              std::function<void(std::optional<failure>)> done) {
  // A place is held only this long until the session exists (then OPEN's index adds give it
  // its full ttl): an OPEN whose answer was lost does not hold a place for a whole ttl.
  auto hold = std::min<std::int64_t>(ttl.count(), reservation_hold.count());
  struct both {
    std::int64_t in_user = 0, in_node = 0; ///< places left, -1 refused, -2 unanswered
    int left = 2;
  };
  auto got = std::make_shared<both>();
  auto finish = [this, user, id, got, done = std::move(done)]() {
    if (--got->left != 0) return;
    auto give_back = [&] {
      if (got->in_user >= 0) index(user_index(user), false, id, 0);
      if (got->in_node >= 0) index(node_index(settings_.node_id), false, id, 0);
    };
    if (got->in_user == -2 || got->in_node == -2) {
      give_back();
      return done(fail(error_code::unavailable, "redis did not answer; no session was opened"));
    }
    if (got->in_user == -1) {
      give_back();
      ++refused_user_;
      return done(fail(error_code::err, "max number of sessions for this user reached "
                                        "(sessions.max_per_user = " +
                                            std::to_string(settings_.max_per_user) +
                                            "); close one first"));
    }
    if (got->in_node == -1) {
      give_back();
      ++refused_node_;
      return done(fail(error_code::err, "max number of sessions on this node reached "
                                        "(sessions.max_per_node = " +
                                            std::to_string(settings_.max_per_node) +
                                            "); open it on another node"));
    }
    done(std::nullopt);
  };
  auto place = [finish](std::int64_t& into) {
    return [finish, &into](redis_reply r) mutable {
      into = r.kind == reply_kind::integer ? r.integer : -2;
      finish();
    };
  };
  redis_.run_script("session_index", {user_index(user)},
                    {"reserve", id, std::to_string(hold), std::to_string(settings_.max_per_user)},
                    place(got->in_user));
  redis_.run_script("session_index", {node_index(settings_.node_id)},
                    {"reserve", id, std::to_string(hold), std::to_string(settings_.max_per_node)},
                    place(got->in_node));
}

void session_service::open_reserved(const std::string& id, const std::string& user,
                                    milliseconds ttl, const std::string& meta, std::int64_t uid,
                                    session_callback<session_view> done) {
  auto nonce = random_id();
  redis_.run_script(
      "session_open", {key(id)},
      {user, settings_.node_id, std::to_string(ttl.count()), meta, nonce, std::to_string(uid)},
      [this, id, nonce, user, ttl, meta, uid, done = std::move(done)](redis_reply r) {
        if (r.outcome_unknown()) return close_unanswered_open(id, r.str, done);
        if (r.kind != reply_kind::array || r.elements.size() < 2) return done(unavailable(r));
        if (r.elements[0].integer != 1) {
          index(user_index(user), false, id, 0);
          index(node_index(settings_.node_id), false, id, 0);
          return done(fail(error_code::err, "session id collision; try again"));
        }
        own(id, 1, ttl.count());
        index(user_index(user), true, id, ttl.count());
        session_view v;
        v.id = id;
        v.user = user;
        v.owner = settings_.node_id;
        v.meta = meta;
        v.epoch = 1;
        v.uid = uid;
        v.ttl_ms = ttl.count();
        v.expires_in_ms = ttl.count();
        v.created_ms = v.touched_ms = r.elements[1].integer;
        v.token = make_token(keys_, {id, 1, nonce});
        done(std::move(v));
      });
}

void session_service::close_unanswered_open(const std::string& id, const std::string& why,
                                            const session_callback<session_view>& done) {
  // The open may have made a session whose id and token nobody heard: useless to the client,
  // counted against its user until its TTL, and the client cannot know whether to OPEN again.
  // Close it by its id (which names this open's session and nothing else), as an admin would,
  // on the same Redis connection (a call from a reply keeps to it), so after the open; the
  // retrier sends the close until Redis answers. Then "not opened" is certain: UNAVAILABLE.
  // Should the open still be on its way (its connection broke, the close went on another), the
  // close leaves a placeholder that makes it answer "exists" for the next minute.
  cleanups_.run("session-abandon " + id, "session_close", {key(id)}, {channel_, id, "*", "60000"},
                [why, done](const redis_reply& r) {
                  bool landed = r.kind == reply_kind::array;
                  done(fail(error_code::unavailable,
                            "redis did not answer in time (" + why + "); no session was opened: " +
                                (landed ? "one Redis made meanwhile was closed"
                                        : "one Redis may have made is closed as soon as Redis "
                                          "answers") +
                                "; OPEN again"));
                });
}

void session_service::render_metrics(std::string& out) const {
  metrics::exposition e(out);
  e.declare("baton_session_limit_refusals_total", "counter",
            "SESSION OPEN refused over sessions.max_per_user or sessions.max_per_node.");
  e.sample("baton_session_limit_refusals_total{cap=\"user\"}", refused_user_);
  e.sample("baton_session_limit_refusals_total{cap=\"node\"}", refused_node_);
}

void session_service::get(const std::string& id, const caller& who,
                          session_callback<std::optional<session_view>> done) {
  redis_.run_script("session_read", {key(id)}, {},
                    [id, who, done = std::move(done)](redis_reply r) {
                      if (r.kind != reply_kind::array || r.elements.size() < 2)
                        return done(unavailable(r));
                      if (r.elements[1].integer < 0) return done(std::optional<session_view>());
                      auto v = view_of(id, fields_of(r, 2));
                      if (!who.may_see(v.uid)) return done(not_yours());
                      v.expires_in_ms = r.elements[1].integer;
                      done(std::optional<session_view>(std::move(v)));
                    });
}

void session_service::touch(const std::string& id, const caller& who,
                            session_callback<std::optional<touched_session>> done) {
  // Idempotent (a TTL set again from now): a lost answer is asked once more, then UNKNOWN.
  redis_link::run_idempotent(redis_, "session_touch", {key(id)}, {std::to_string(who.uid)},
                             [this, id, done = std::move(done)](redis_reply r, bool) {
                               if (r.is_unavailable())
                                 return done(unanswered(r,
                                                        "the session may or may not have been "
                                                        "touched: TOUCH it again, which is safe"));
                               if (r.kind != reply_kind::array || r.elements.size() < 2)
                                 return done(unavailable(r));
                               if (r.elements[0].integer != 1) {
                                 if (r.elements[1].str == "noperm") return done(not_yours());
                                 return done(std::optional<touched_session>());
                               }
                               if (r.elements.size() < 4) return done(unavailable(r));
                               touched_session t;
                               t.owner = r.elements[1].str;
                               t.epoch = r.elements[2].integer;
                               t.ttl_ms = r.elements[3].integer;
                               t.user = r.elements.size() > 4 ? r.elements[4].str : "";
                               // The indexes expire entries when the session would have: slide them
                               // too.
                               index(user_index(t.user), true, id, t.ttl_ms);
                               if (t.owner == settings_.node_id)
                                 index(node_index(settings_.node_id), true, id, t.ttl_ms);
                               done(std::optional<touched_session>(std::move(t)));
                             });
}

void session_service::close(const std::string& id, const caller& who,
                            session_callback<closed_session> done) {
  // Idempotent: a lost answer is asked once more, then UNKNOWN.
  redis_link::run_idempotent(
      redis_, "session_close", {key(id)}, {channel_, id, who.admin ? "*" : std::to_string(who.uid)},
      [this, id, done = std::move(done)](redis_reply r, bool retried) {
        if (r.is_unavailable())
          return done(unanswered(r, "the session may or may not be closed: CLOSE "
                                    "it again, which is safe"));
        if (r.kind != reply_kind::array || r.elements.size() < 2) return done(unavailable(r));
        if (r.elements[0].integer != 1) {
          if (r.elements[1].str == "noperm") return done(not_yours());
          if (retried) {
            // Gone on the second try: most likely the first closed it (its
            // answer was lost). Either way it is closed, which is what CLOSE
            // asked. This node's index drops it now (the cap per node counts it);
            // the user's, whose name the lost answer carried, at its score or at
            // the next LIST.
            disown(id);
            return done(closed_session{true});
          }
          return done(closed_session{false});
        }
        if (r.elements.size() < 3) return done(unavailable(r));
        index(user_index(r.elements[1].str), false, id, 0);
        index(node_index(r.elements[2].str), false, id, 0);
        owned_.erase(id);
        count_owned();
        done(closed_session{true});
      });
}

void session_service::list(const std::string& user, const caller& who,
                           session_callback<std::vector<session_view>> done) {
  redis_.call({"ZRANGE", user_index(user), "0", "-1"}, [this, user, who,
                                                        done = std::move(done)](redis_reply r) {
    if (r.kind != reply_kind::array) return done(unavailable(r));
    auto found = std::make_shared<std::vector<session_view>>();
    auto left = std::make_shared<std::size_t>(r.elements.size() + 1);
    auto one_done = [found, left, done] {
      if (--*left != 0) return;
      std::sort(found->begin(), found->end(), [](const session_view& a, const session_view& b) {
        return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.id < b.id;
      });
      done(std::move(*found));
    };
    for (const auto& e : r.elements) {
      auto id = e.str;
      redis_.run_script("session_read", {key(id)}, {},
                        [this, id, user, who, found, one_done](redis_reply s) {
                          if (s.kind == reply_kind::array && s.elements.size() >= 2) {
                            if (s.elements[1].integer < 0) {
                              index(user_index(user), false, id, 0); // expired: drop the hint
                            } else {
                              auto v = view_of(id, fields_of(s, 2));
                              v.expires_in_ms = s.elements[1].integer;
                              if (v.user == user && who.may_see(v.uid))
                                found->push_back(std::move(v));
                            }
                          }
                          one_done();
                        });
    }
    one_done();
  });
}

void session_service::read_state(const std::string& id, const caller& who,
                                 session_callback<session_state> done) {
  redis_.run_script(
      "session_read", {key(id)}, {}, [this, id, who, done = std::move(done)](redis_reply r) {
        if (r.kind != reply_kind::array || r.elements.size() < 2) return done(unavailable(r));
        if (r.elements[1].integer < 0) return done(no_such_session());
        auto f = fields_of(r, 2);
        if (!who.owns(view_of(id, f).uid)) return done(not_yours());
        session_state state;
        state.version = number(f["state_version"]);
        if (state.version > 0) {
          secret::sealed_version sealed{f["state_kek"], f["state_wkey"], f["state_ct"]};
          secret::secure_bytes plain;
          std::string error;
          if (!secret::open(keys_, sealed_name(id), std::to_string(state.version), sealed, plain,
                            error))
            return done(fail(error_code::err, "the session's state cannot be decrypted: " + error));
          state.plaintext = std::string(plain.view());
        }
        done(std::move(state));
      });
}

void session_service::write_state(const std::string& id, std::string state, const caller& who,
                                  session_callback<session_state> done) {
  auto plain = std::make_shared<secret::secure_bytes>(state);
  OPENSSL_cleanse(state.data(), state.size());
  write_state_attempt(id, plain, 3, who, std::move(done));
}

void session_service::write_state_attempt(const std::string& id,
                                          std::shared_ptr<secret::secure_bytes> state,
                                          int attempts_left, const caller& who,
                                          session_callback<session_state> done) {
  // The uid is checked on what this read found: a session's uid never changes, so the script
  // that writes need not check it again.
  redis_.run_script(
      "session_read", {key(id)}, {},
      [this, id, state, attempts_left, who, done = std::move(done)](redis_reply r) {
        if (r.kind != reply_kind::array || r.elements.size() < 2) return done(unavailable(r));
        if (r.elements[1].integer < 0) return done(no_such_session());
        auto f = fields_of(r, 2);
        if (!who.owns(view_of(id, f).uid)) return done(not_yours());
        if (f["owner"] != settings_.node_id) return done(moved_to(f["owner"]));
        auto current = number(f["state_version"]);
        secret::sealed_version sealed;
        std::string error;
        if (!secret::seal(keys_, sealed_name(id), std::to_string(current + 1), *state, sealed,
                          error))
          return done(fail(error_code::err, "cannot encrypt the state: " + error));
        // The ciphertext (random nonce) names this write: sent again after a
        // lost answer, lua/session_state.lua recognises it as already done.
        redis_link::run_idempotent(
            redis_, "session_state", {key(id)},
            {settings_.node_id, std::to_string(current), sealed.kek_id, sealed.wrapped_key,
             sealed.ciphertext},
            [this, id, state, attempts_left, who, done](redis_reply w, bool retried) {
              static const std::string advice =
                  "the state may or may not be written: SESSION STATE id reads it (its "
                  "state_version tells), SET it again if it is not yours";
              if (w.is_unavailable()) return done(unanswered(w, advice));
              if (w.kind != reply_kind::array || w.elements.size() < 2) return done(unavailable(w));
              if (w.elements[0].integer == 1) return done(session_state{w.elements[1].integer, {}});
              const auto& why = w.elements[1].str;
              if (why == "gone") return done(no_such_session());
              // The retry of a write whose answer was lost found the session changed: by the
              // first attempt, then another writer (or a handoff), or by those alone. Writing
              // again could put this state over a newer one: say it is unknown.
              if (retried)
                return done(fail(error_code::unknown,
                                 "redis did not answer the first attempt and the session changed "
                                 "since; " +
                                     advice));
              if (why == "moved")
                return done(moved_to(w.elements.size() > 2 ? w.elements[2].str : ""));
              // Another write on this node got in between: read again and write over
              // it.
              if (attempts_left > 1)
                return write_state_attempt(id, state, attempts_left - 1, who, done);
              done(fail(error_code::conflict, "the state kept changing; try again"));
            });
      });
}

void session_service::resume(const std::string& token, const caller& who,
                             session_callback<session_view> done) {
  token_claims claims;
  std::string why;
  if (!check_token(keys_, token, claims, why)) return done(fail(error_code::refused, why));
  auto next = next_nonce(keys_, claims, settings_.node_id);
  auto id = claims.session;
  // Only a resume this node left unanswered may be repeated: a token replayed after its
  // resume was answered stays spent.
  auto now = std::chrono::steady_clock::now();
  auto unanswered = unanswered_resumes_.find(token);
  bool repeat = unanswered != unanswered_resumes_.end() && now < unanswered->second;
  if (unanswered != unanswered_resumes_.end()) unanswered_resumes_.erase(unanswered);
  redis_.run_script(
      "session_resume", {key(id)},
      {std::to_string(claims.epoch), claims.nonce, settings_.node_id, next, channel_, id,
       std::to_string(repeat ? resume_repeat_window.count() : 0), std::to_string(who.uid)},
      [this, id, next, token, done = std::move(done)](redis_reply r) {
        if (r.is_unavailable() && !r.outcome_unknown()) return done(unavailable(r));
        if (r.is_unavailable()) {
          if (unanswered_resumes_.size() >= 10000) unanswered_resumes_.clear(); // bounded
          unanswered_resumes_[token] = std::chrono::steady_clock::now() + resume_repeat_window;
          return done(fail(error_code::unknown,
                           "redis did not answer in time (" + r.str +
                               "); the session may have been resumed: send the same RESUME "
                               "again on this node within " +
                               std::to_string(resume_repeat_window.count() / 1000) +
                               " s, and it is answered as the first was"));
        }
        if (r.kind != reply_kind::array || r.elements.size() < 2) return done(unavailable(r));
        if (r.elements[0].integer != 1 && r.elements[1].str == "noperm") return done(not_yours());
        if (r.elements[0].integer != 1)
          return done(fail(error_code::refused,
                           r.elements[1].str == "gone"
                               ? "the session is closed or expired"
                               : "the token was used already, or a newer handoff replaced it"));
        auto epoch = r.elements[1].integer;
        auto f = fields_of(r, 2);
        auto v = view_of(id, f);
        v.expires_in_ms = v.ttl_ms;
        v.token = make_token(keys_, {id, epoch, next});
        if (v.state_version > 0) {
          secret::sealed_version sealed{f["state_kek"], f["state_wkey"], f["state_ct"]};
          secret::secure_bytes plain;
          std::string error;
          if (secret::open(keys_, sealed_name(id), std::to_string(v.state_version), sealed, plain,
                           error))
            v.state = std::string(plain.view());
          else
            log::error("session", "a resumed session's state cannot be decrypted",
                       {{"session", id}, {"why", error}});
        }
        own(id, epoch, v.ttl_ms);
        index(user_index(v.user), true, id, v.ttl_ms);
        done(std::move(v));
      });
}

} // namespace baton::session
