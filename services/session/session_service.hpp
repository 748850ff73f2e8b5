// Sessions as this daemon's clients see them: OPEN (server-made 128-bit ids, a resume token),
// GET, TOUCH, CLOSE, LIST by user, STATE (sealed with the secrets' envelope encryption, written
// only by the owner node), RESUME (a token works once), and the handoff of every session this
// node owns when it drains: each is moved to an active node (fenced by the owner epoch), the
// local app hears `handoff-out` with the new token to give its client, the target's apps hear
// `handoff-in`, and the drain waits until each was resumed or a deadline passed. Redis holds
// the truth (lua/session_*.lua); this service remembers which sessions this node owns.
//
// Runs on the I/O thread, like the other services.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/session_handoff/adoption_actor.hpp"
#include "actors/session_handoff/drain_actor.hpp"
#include "model/caller.hpp"
#include "model/secret/envelope.hpp"
#include "protocol/result.hpp"
#include "redis/cleanup_retrier.hpp"
#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"
#include "services/membership/membership_service.hpp"

namespace baton::session {

using std::chrono::milliseconds;

struct session_settings {
  std::string prefix = "baton";
  std::string node_id = "node";
  std::string run_id = "run";           ///< random per daemon start, as for leases
  bool sharded_watch = false;           ///< a Cluster: adoption leases announce with SPUBLISH
  milliseconds handoff_deadline{10000}; ///< a drain waits this long for resumes
  milliseconds drain_delay{0};          ///< a drain waits this long (load balancers see 503) first
  bool round_robin = false;             ///< targets in turn; else the one with the fewest sessions
  milliseconds membership_ttl{5000};    ///< nodes with a heartbeat this recent are live
  std::size_t max_per_user = 1000;      ///< OPEN: sessions of one `user`, fleet-wide
  std::size_t max_per_node = 1000000;   ///< OPEN: sessions this node owns
};

struct session_view {
  std::string id, user, owner, meta;
  std::int64_t epoch = 0;
  std::int64_t created_ms = 0, touched_ms = 0, ttl_ms = 0, expires_in_ms = 0;
  std::int64_t state_version = 0;
  std::int64_t uid = caller::unknown_uid; ///< the opener's
  std::optional<std::string> state;       ///< RESUME: the plaintext state, if any
  std::string token;                      ///< OPEN and RESUME: the next resume token
};

/// TOUCH: the session's owner and its renewed ttl.
struct touched_session {
  std::string owner, user;
  std::int64_t epoch = 0;
  std::int64_t ttl_ms = 0;
};

/// CLOSE: whether there was a session to close.
struct closed_session {
  bool existed = false;
};

/// STATE (read or written): the state's version, and the plaintext when read.
struct session_state {
  std::int64_t version = 0;
  std::optional<std::string> plaintext;
};

/// The context of a MOVED failure: the node that owns the session now.
struct new_owner {
  std::string node;
};

/// The failures of a session call: unavailable (Redis could not answer), err (no such session
/// for STATE; an id collision; the state cannot be sealed or opened), moved (STATE SET on a
/// node that no longer owns it; new_owner is the context), refused (a resume token that is
/// not, or no longer, valid), conflict (the state kept changing under the write), unknown
/// (a TOUCH, CLOSE or STATE SET sent, retried once, and never answered; a RESUME sent and not
/// answered). An OPEN whose answer was lost closes what it may have made and answers
/// unavailable. GET and TOUCH answer nullopt for a session that does not exist.
template <class T>
using session_callback = std::function<void(protocol::result<T>)>;

class session_service {
public:
  session_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                  const secret::keyring& keys, membership::membership_service& members,
                  session_settings settings);

  void start(redis_link::redis_subscriber& events);

  // A session is its opener's uid's (model/caller.hpp): another uid's GET, TOUCH, CLOSE and
  // STATE answer NOPERM, except that an admin may GET, LIST and CLOSE any (an operator's
  // view and kick), never read or write its state. RESUME needs only the token.

  /// The new session's view, with its first resume token; the session is `who`'s uid's.
  void open(const std::string& user, milliseconds ttl, const std::string& meta, const caller& who,
            session_callback<session_view> done);
  void get(const std::string& id, const caller& who,
           session_callback<std::optional<session_view>> done);
  void touch(const std::string& id, const caller& who,
             session_callback<std::optional<touched_session>> done);
  void close(const std::string& id, const caller& who, session_callback<closed_session> done);
  /// The user's sessions that `who` may see, oldest first.
  void list(const std::string& user, const caller& who,
            session_callback<std::vector<session_view>> done);
  void read_state(const std::string& id, const caller& who, session_callback<session_state> done);
  void write_state(const std::string& id, std::string state, const caller& who,
                   session_callback<session_state> done);
  /// The resumed session's view, with its state and its next resume token.
  void resume(const std::string& token, const caller& who, session_callback<session_view> done);

  /// The drain and adoption actors run in `system`, reaching Redis through `link`; the drain
  /// marks this node draining through the heartbeat actor `membership`.
  void use_actors(caf::actor_system& system, redis_link::redis_link_actor link,
                  membership::membership_actor membership);
  /// Drains (actors/session_handoff/drain_actor): the fleet hears this node is draining
  /// (`announced`), then every session it owns moves to active nodes; `done` when each was
  /// resumed or the deadline passed. A second drain while one runs reports at once.
  void drain(std::function<void(bool announced)> announced,
             std::function<void(handoff_report)> done);
  /// Ends the drain and adoptions running (the daemon is stopping).
  void stop();

  /// Pushes for local apps: handoff-out (id, target node, target address, token) and
  /// handoff-in (id, from node). The token is only for connections of the session's `uid`.
  struct handoff_out {
    std::string id, target, address, token;
    std::int64_t uid = caller::unknown_uid;
  };
  void on_handoff_out(std::function<void(const handoff_out&)> f) { out_ = std::move(f); }
  void on_handoff_in(std::function<void(const std::string& id, const std::string& from)> f) {
    in_ = std::move(f);
  }

  /// Adopts the sessions of a node whose heartbeats stopped: one daemon of the fleet does it,
  /// under the lease `session-adopt/<node>`, moving each to the active node with the fewest
  /// sessions (its client's last token keeps working: it never heard of a handoff).
  void adopt(const std::string& dead_node);

  std::size_t owned() const { return owned_.size(); }

  /// baton_session_limit_refusals_total{cap="user"|"node"}.
  void render_metrics(std::string& out) const;

private:
  std::string key(const std::string& id) const;
  std::string user_index(const std::string& user) const;
  std::string node_index(const std::string& node) const;
  void index(const std::string& index_key, bool add, const std::string& id, std::int64_t ttl_ms);
  /// OPEN's places under the caps: in the user's and this node's indexes at once. `done` gets
  /// nothing if both were taken, else the failure (and a place taken is given back).
  void reserve(const std::string& user, const std::string& id, milliseconds ttl,
               std::function<void(std::optional<protocol::failure>)> done);
  void open_reserved(const std::string& id, const std::string& user, milliseconds ttl,
                     const std::string& meta, std::int64_t uid,
                     session_callback<session_view> done);
  void own(const std::string& id, std::int64_t epoch, std::int64_t ttl_ms);
  void disown(const std::string& id);
  void on_event(const std::string& payload);
  /// An OPEN Redis did not answer after it was sent: closes what it may have made, then
  /// answers UNAVAILABLE (see session_service.cpp).
  void close_unanswered_open(const std::string& id, const std::string& why,
                             const session_callback<session_view>& done);
  void write_state_attempt(const std::string& id, std::shared_ptr<secret::secure_bytes> state,
                           int attempts_left, const caller& who,
                           session_callback<session_state> done);
  /// Publishes how many sessions this node owns (after each change of owned_).
  void count_owned();
  void on_drain_news(drain_news news);

  boost::asio::io_context& io_;
  redis_link::redis_pool& redis_;
  const secret::keyring& keys_;
  membership::membership_service& members_;
  session_settings settings_;
  std::string channel_;
  redis_link::cleanup_retrier cleanups_;                ///< closes of OPENs whose answer was lost
  std::unordered_map<std::string, std::int64_t> owned_; ///< id -> owner epoch known here
  /// RESUMEs Redis did not answer in time, by token, until when they may be sent again.
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> unanswered_resumes_;
  std::function<void(const handoff_out&)> out_;
  std::function<void(const std::string&, const std::string&)> in_;
  caf::actor_system* system_ = nullptr;
  redis_link::redis_link_actor link_;
  membership::membership_actor membership_;
  // The drain in progress, and what it reports to.
  drain_actor drain_;
  std::function<void(bool)> drain_announced_;
  std::function<void(handoff_report)> drain_done_;
  std::unordered_map<std::uint64_t, caf::actor> adoptions_; ///< running, by id: stop() ends them
  std::uint64_t next_adoption_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true); ///< news posted after we die
  std::uint64_t refused_user_ = 0;                             ///< OPENs refused over max_per_user
  std::uint64_t refused_node_ = 0;                             ///< OPENs refused over max_per_node
};

} // namespace baton::session
