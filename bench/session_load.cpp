// baton_session_load: the session workload of the rolling-restart job. It opens N sessions
// spread over the daemons, then keeps them busy: workers write each session's state (a
// counter) on its owner node and touch it, at a steady rate; a watcher per daemon (SESSION
// WATCH) plays the app that tells its client to reconnect: on handoff-out it resumes the
// session on the target with the pushed token and checks that the state came along. It runs
// while the caller restarts daemons, then checks every session and its last written state.
//
//   baton_session_load --sockets A,B,C --sessions N --seconds S [--rate OPS_PER_S]
//
// It prints sessions, requests, redirects (MOVED/DRAINING: documented), errors (anything
// else), handoffs, handoff latency (push received -> resumed on the target by one of 16
// resuming clients) and what was
// lost; exits 1 if anything was lost or failed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/resp_client.hpp"

using baton::protocol::resp_client;
using baton::protocol::resp_value;
using clock_type = std::chrono::steady_clock;

namespace {

std::string field(const resp_value& map, const std::string& key) {
  for (std::size_t i = 0; i + 1 < map.elements.size(); i += 2)
    if (map.elements[i].str == key) return map.elements[i + 1].str;
  return {};
}

struct session {
  std::mutex mutex;
  std::string id;
  std::size_t node = 0; ///< index of the daemon that owns it, as the client knows
  std::string token;
  long written = 0; ///< the last state counter the owner acknowledged
};

struct counters {
  std::atomic<long> ok{0}, redirects{0}, errors{0}, handoffs{0}, resume_failures{0};
  std::mutex latency_mutex;
  std::vector<double> handoff_ms;
  std::mutex error_mutex;
  std::map<std::string, long> error_kinds;
  void error(const std::string& what) {
    ++errors;
    std::lock_guard<std::mutex> lock(error_mutex);
    ++error_kinds[what.substr(0, 60)];
  }
};

// One connection per daemon, reopened after a failure (a daemon restarting).
class connections {
public:
  explicit connections(const std::vector<std::string>& sockets) : sockets_(sockets) {
    clients_.resize(sockets.size());
  }
  // A connection kept from before its daemon restarted fails on first use without reaching
  // anyone; like any Redis client library, reconnect and send again once. (The workload's
  // writes are idempotent: the same counter value again.)
  resp_value call(std::size_t node, const std::vector<std::string>& args) {
    for (int attempt = 0;; ++attempt) {
      bool reused = clients_[node] != nullptr;
      if (!reused) clients_[node] = std::make_unique<resp_client>(sockets_[node], 3000);
      try {
        return clients_[node]->call(args);
      } catch (...) {
        clients_[node].reset();
        if (!reused || attempt > 0) throw;
      }
    }
  }

private:
  const std::vector<std::string>& sockets_;
  std::vector<std::unique_ptr<resp_client>> clients_;
};

std::size_t node_of(const std::vector<std::string>& ids, const std::string& id) {
  return static_cast<std::size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> sockets;
  std::size_t count = 1000;
  double seconds = 20, rate = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--sockets") {
      for (std::size_t start = 0; start <= value.size();) {
        auto comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        sockets.push_back(value.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (flag == "--sessions") {
      count = std::stoul(value);
    } else if (flag == "--seconds") {
      seconds = std::stod(value);
    } else if (flag == "--rate") {
      rate = std::stod(value);
    }
  }
  if (sockets.empty()) {
    std::cerr << "usage: baton_session_load --sockets A,B,C [--sessions N] [--seconds S] "
                 "[--rate OPS]\n";
    return 2;
  }
  // Which node id each socket serves.
  std::vector<std::string> node_ids;
  for (const auto& s : sockets)
    node_ids.push_back(field(resp_client(s).call({"NODE", "INFO"}), "id"));

  std::vector<std::unique_ptr<session>> sessions;
  std::map<std::string, session*> by_id;
  {
    connections c(sockets);
    for (std::size_t i = 0; i < count; ++i) {
      auto s = std::make_unique<session>();
      s->node = i % sockets.size();
      auto r = c.call(s->node, {"SESSION", "OPEN", "user-" + std::to_string(i), "600000"});
      s->id = field(r, "id");
      s->token = field(r, "token");
      if (s->id.empty()) {
        std::cerr << "SESSION OPEN failed: " << r.to_string() << "\n";
        return 1;
      }
      by_id[s->id] = s.get();
      sessions.push_back(std::move(s));
    }
  }
  counters stats;
  std::atomic<bool> running{true};

  // The clients that resume: many at once, as a fleet's clients would, each taking the next
  // handoff the apps passed on.
  struct handoff {
    session* s;
    std::size_t target;
    std::string token;
    clock_type::time_point received;
  };
  std::mutex queue_mutex;
  std::condition_variable queue_ready;
  std::deque<handoff> queue;
  std::vector<std::thread> resumers;
  for (int k = 0; k < 16; ++k)
    resumers.emplace_back([&] {
      connections targets(sockets);
      while (true) {
        handoff h;
        {
          std::unique_lock<std::mutex> lock(queue_mutex);
          queue_ready.wait(lock, [&] { return !queue.empty() || !running; });
          if (queue.empty()) return;
          h = std::move(queue.front());
          queue.pop_front();
        }
        auto& s = *h.s;
        std::lock_guard<std::mutex> lock(s.mutex);
        try {
          auto r = targets.call(h.target, {"SESSION", "RESUME", h.token});
          auto state = field(r, "state");
          if (field(r, "id") != s.id ||
              (s.written > 0 && state != "n=" + std::to_string(s.written))) {
            ++stats.resume_failures;
            stats.error("resume: " + r.to_string());
            continue;
          }
          s.node = h.target;
          s.token = field(r, "token");
        } catch (const std::exception& e) {
          stats.error(std::string("resume connection: ") + e.what());
          continue;
        }
        ++stats.handoffs;
        std::lock_guard<std::mutex> l(stats.latency_mutex);
        stats.handoff_ms.push_back(
            std::chrono::duration<double, std::milli>(clock_type::now() - h.received).count());
      }
    });

  // The apps: each handoff-out goes to a client, which resumes on the target.
  std::vector<std::thread> watchers;
  for (std::size_t n = 0; n < sockets.size(); ++n)
    watchers.emplace_back([&, n] {
      while (running) {
        try {
          resp_client app(sockets[n], 500);
          app.call({"HELLO", "3"});
          app.call({"SESSION", "WATCH"});
          while (running) {
            resp_value push;
            try {
              push = app.read();
            } catch (const std::exception& e) {
              if (std::string(e.what()).find("timed out") != std::string::npos) continue;
              throw;
            }
            if (push.elements.size() != 6 || push.elements[1].str != "handoff-out") continue;
            auto it = by_id.find(push.elements[2].str);
            auto target = node_of(node_ids, push.elements[3].str);
            if (it == by_id.end() || target >= sockets.size()) continue;
            std::lock_guard<std::mutex> lock(queue_mutex);
            queue.push_back({it->second, target, push.elements[5].str, clock_type::now()});
            queue_ready.notify_one();
          }
        } catch (const std::exception&) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20)); // the daemon restarts
        }
      }
    });

  // The clients: state writes and touches on the owner, at a steady rate overall.
  const std::size_t worker_count = 8;
  std::vector<std::thread> workers;
  auto until = clock_type::now() + std::chrono::duration<double>(seconds);
  for (std::size_t w = 0; w < worker_count; ++w)
    workers.emplace_back([&, w] {
      connections c(sockets);
      auto interval = std::chrono::duration<double>(worker_count / rate);
      auto next = clock_type::now();
      for (std::size_t i = w; clock_type::now() < until; i += worker_count) {
        auto& s = *sessions[i % sessions.size()];
        next += std::chrono::duration_cast<clock_type::duration>(interval);
        std::this_thread::sleep_until(next);
        std::lock_guard<std::mutex> lock(s.mutex);
        bool write = (i / worker_count) % 2 == 0;
        try {
          auto r = write ? c.call(s.node, {"SESSION", "STATE", s.id, "SET",
                                           "n=" + std::to_string(s.written + 1)})
                         : c.call(s.node, {"SESSION", "TOUCH", s.id});
          if (r.kind == resp_value::type::error) {
            if (r.str.rfind("MOVED", 0) == 0 || r.str.rfind("DRAINING", 0) == 0)
              ++stats.redirects; // the handoff is on its way; the app resumes it
            else
              stats.error(r.str);
          } else {
            ++stats.ok;
            if (write) ++s.written;
          }
        } catch (const std::exception& e) {
          // The node went away under us: only a redirect if the session had moved.
          stats.error(std::string("connection: ") + e.what());
        }
      }
    });
  for (auto& t : workers)
    t.join();
  running = false;
  queue_ready.notify_all();
  for (auto& t : watchers)
    t.join();
  for (auto& t : resumers)
    t.join();

  // Every session must still exist, with the last state its owner acknowledged.
  long lost_sessions = 0, lost_updates = 0;
  connections c(sockets);
  for (auto& s : sessions) {
    resp_value r;
    for (std::size_t n = 0; n < sockets.size(); ++n) {
      try {
        r = c.call(n, {"SESSION", "STATE", s->id});
        break;
      } catch (const std::exception&) {
      }
    }
    if (r.kind == resp_value::type::error) {
      ++lost_sessions;
      continue;
    }
    if (s->written > 0 && field(r, "state") != "n=" + std::to_string(s->written)) ++lost_updates;
  }
  auto& latencies = stats.handoff_ms;
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty() ? 0.0
                             : latencies[std::min(latencies.size() - 1,
                                                  static_cast<std::size_t>(p * latencies.size()))];
  };
  std::printf("sessions %zu, requests ok %ld, redirects (MOVED/DRAINING) %ld, errors %ld\n", count,
              stats.ok.load(), stats.redirects.load(), stats.errors.load());
  std::printf("sessions moved %ld, handoff (push -> resumed on target) p50 %.1f ms, p99 %.1f ms, "
              "max %.1f ms\n",
              stats.handoffs.load(), pct(0.5), pct(0.99),
              latencies.empty() ? 0.0 : latencies.back());
  std::printf("lost sessions %ld, lost state updates %ld\n", lost_sessions, lost_updates);
  for (const auto& [what, n] : stats.error_kinds)
    std::printf("  error x%ld: %s\n", n, what.c_str());
  return lost_sessions == 0 && lost_updates == 0 && stats.errors == 0 ? 0 : 1;
}
