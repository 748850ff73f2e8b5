// The handoff of sessions, part of session_service (see session_service.hpp): the
// announcements of the fleet (a session handed here, resumed or closed elsewhere), the drain
// of this node's sessions (actors/session_handoff/drain_actor) and the adoption of a dead
// node's (adoption_actor), whose news the actors post back onto the I/O thread.
#include "services/session/session_service.hpp"

#include <boost/asio/post.hpp>
#include <caf/send.hpp>

#include <cstdlib>

#include "common/log.hpp"
#include "model/session/resume_token.hpp"

namespace baton::session {

using redis_link::redis_reply;
using redis_link::reply_kind;

// -- announcements and the drain -----------------------------------------------------------

void session_service::on_event(const std::string& payload) {
  // "handoff <id> <from> <to> <epoch>", "resumed <id> <node> <epoch>", "closed <id> <owner>"
  std::vector<std::string> words;
  std::string word;
  for (char c : payload + " ") {
    if (c == ' ') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (words.size() < 3) return;
  const auto& what = words[0];
  const auto& id = words[1];
  if (what == "handoff" && words.size() == 5) {
    if (words[3] == settings_.node_id) {
      owned_[id] = std::strtoll(words[4].c_str(), nullptr, 10);
      count_owned();
      // Index it under this node for as long as the session has left.
      redis_.run_script("session_read", {key(id)}, {}, [this, id](redis_reply r) {
        if (r.kind == reply_kind::array && r.elements.size() >= 2 && r.elements[1].integer > 0)
          index(node_index(settings_.node_id), true, id, r.elements[1].integer);
      });
      if (in_) in_(id, words[2]);
    }
  } else if (what == "resumed" && words.size() == 4) {
    if (words[2] != settings_.node_id && owned_.count(id)) disown(id);
    if (drain_) caf::anon_send(drain_, atoms::resumed::value, id);
  } else if (what == "closed") {
    owned_.erase(id);
    count_owned();
    if (drain_) caf::anon_send(drain_, atoms::closed::value, id);
  }
}

// -- the actors: drain and adoption ----------------------------------------------------------

void session_service::use_actors(caf::actor_system& system, redis_link::redis_link_actor link,
                                 membership::membership_actor membership) {
  system_ = &system;
  link_ = std::move(link);
  membership_ = std::move(membership);
}

void session_service::stop() {
  if (drain_) caf::anon_send_exit(drain_, caf::exit_reason::user_shutdown);
  for (auto& [id, adoption] : adoptions_)
    caf::anon_send_exit(adoption, caf::exit_reason::user_shutdown);
  adoptions_.clear();
  system_ = nullptr;
}

void session_service::drain(std::function<void(bool)> announced,
                            std::function<void(handoff_report)> done) {
  if (drain_ || !system_) {
    // A drain runs already (or the daemon stops): announce again, report nothing moved here.
    return members_.drain(
        [this, announced = std::move(announced), done = std::move(done)](bool ok) {
          handoff_report report;
          report.owned = owned_.size();
          report.announced = ok;
          announced(ok);
          done(report);
        });
  }
  drain_deps deps;
  deps.link = link_;
  deps.membership = membership_;
  deps.settings.prefix = settings_.prefix;
  deps.settings.node_id = settings_.node_id;
  deps.settings.handoff_deadline = settings_.handoff_deadline;
  deps.settings.drain_delay = settings_.drain_delay;
  deps.settings.round_robin = settings_.round_robin;
  deps.settings.membership_ttl = settings_.membership_ttl;
  auto alive = std::weak_ptr<bool>(alive_);
  deps.tell = [&io = io_, alive, this](drain_news news) {
    boost::asio::post(io, [alive, this, news = std::move(news)]() mutable {
      if (alive.lock()) on_drain_news(std::move(news));
    });
  };
  deps.on_step = [](drain_step step) {
    log::debug("session", "drain step", {{"step", to_string(step)}});
  };
  drain_announced_ = std::move(announced);
  drain_done_ = std::move(done);
  drain_ = spawn_drain(*system_, std::move(deps));
}

void session_service::on_drain_news(drain_news news) {
  switch (news.what) {
  case drain_news::kind::announced:
    if (auto f = std::move(drain_announced_)) f(news.ok);
    drain_announced_ = nullptr;
    return;
  case drain_news::kind::need_sessions: {
    owned_sessions owned;
    for (const auto& [id, epoch] : owned_) {
      owned.ids.push_back(id);
      owned.epochs.push_back(epoch);
    }
    if (drain_) caf::anon_send(drain_, atoms::sessions::value, std::move(owned));
    return;
  }
  case drain_news::kind::moved:
    disown(news.id);
    if (out_)
      out_({news.id, news.target, news.address,
            make_token(keys_, {news.id, news.epoch, news.nonce}), news.uid});
    return;
  case drain_news::kind::not_moved:
    if (news.moved_on) disown(news.id);
    return;
  case drain_news::kind::finished: {
    drain_ = nullptr;
    auto done = std::move(drain_done_);
    drain_done_ = nullptr;
    if (done) done(news.report);
    return;
  }
  }
}

void session_service::count_owned() {
  // Read by the heartbeat actor for this node's record (and so for others' choice of target).
  members_.set_session_count(static_cast<std::int64_t>(owned_.size()));
}

// -- adoption ------------------------------------------------------------------------------

void session_service::adopt(const std::string& dead_node) {
  if (dead_node == settings_.node_id || !system_) return;
  adoption_deps deps;
  deps.link = link_;
  deps.prefix = settings_.prefix;
  deps.node_id = settings_.node_id;
  deps.run_id = settings_.run_id;
  deps.round_robin = settings_.round_robin;
  deps.membership_ttl = settings_.membership_ttl;
  deps.sharded_watch = settings_.sharded_watch;
  auto id = ++next_adoption_;
  auto alive = std::weak_ptr<bool>(alive_);
  auto adoption = spawn_adoption(*system_, std::move(deps), dead_node,
                                 [&io = io_, alive, this, id](adoption_outcome) {
                                   boost::asio::post(io, [alive, this, id] {
                                     if (alive.lock()) adoptions_.erase(id);
                                   });
                                 });
  adoptions_.emplace(id, std::move(adoption));
}

} // namespace baton::session
