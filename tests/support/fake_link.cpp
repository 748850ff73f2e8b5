// The scripted link; see fake_link.hpp.
#include "tests/support/fake_link.hpp"

#include <caf/all.hpp>

#include <unordered_map>

namespace baton::test {

using redis_link::redis_reply;
using redis_link::script_call;

namespace {

struct fake_state {
  std::shared_ptr<fake_link_script> script;
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, std::function<void(redis_reply)>> waiting;
  static inline const char* name = "fake_link";
};

using fake_pointer = redis_link::redis_link_actor::stateful_pointer<fake_state>;

redis_link::redis_link_actor::behavior_type fake(fake_pointer self,
                                                 std::shared_ptr<fake_link_script> script) {
  self->state.script = std::move(script);
  // Answers one call now, or keeps its promise for answer_held.
  auto one = [self](script_call call) -> caf::result<redis_reply> {
    auto& s = *self->state.script;
    s.calls.push_back(call);
    auto reply = s.answer ? s.answer(call) : std::nullopt;
    if (reply) return *reply;
    auto promise = self->make_response_promise<redis_reply>();
    auto id = ++self->state.next_id;
    s.held.push_back(id);
    self->state.waiting[id] = [promise](redis_reply r) mutable { promise.deliver(std::move(r)); };
    return promise;
  };
  return {
      [=](atoms::redis_call, std::vector<std::string>& args) -> caf::result<redis_reply> {
        script_call call;
        call.name = "CMD " + (args.empty() ? std::string() : args.front());
        call.args = std::move(args);
        return one(std::move(call));
      },
      [=](atoms::redis_script, script_call& call) -> caf::result<redis_reply> {
        return one(std::move(call));
      },
      [=](atoms::redis_batch,
          std::vector<script_call>& calls) -> caf::result<std::vector<redis_reply>> {
        // Answered all at once, like the real link: held if any one of them is.
        auto& s = *self->state.script;
        if (!calls.empty()) s.batches.push_back(calls.front().name);
        std::vector<std::optional<redis_reply>> answers;
        bool all = true;
        for (auto& c : calls) {
          s.calls.push_back(c);
          answers.push_back(s.answer ? s.answer(c) : std::nullopt);
          all = all && answers.back().has_value();
        }
        if (all) {
          std::vector<redis_reply> replies;
          for (auto& a : answers)
            replies.push_back(std::move(*a));
          return replies;
        }
        auto promise = self->make_response_promise<std::vector<redis_reply>>();
        auto size = calls.size();
        auto id = ++self->state.next_id;
        s.held.push_back(id);
        self->state.waiting[id] = [promise, size](redis_reply r) mutable {
          promise.deliver(std::vector<redis_reply>(size, r));
        };
        return promise;
      },
      // Every primary: the test's answer to "EACH <verb>" is the array of [address, reply].
      [=](atoms::redis_each,
          std::vector<std::string>& args) -> caf::result<std::vector<redis_reply>> {
        auto& s = *self->state.script;
        script_call call;
        call.name = "EACH " + (args.empty() ? std::string() : args.front());
        call.args = std::move(args);
        s.calls.push_back(call);
        auto reply = s.answer ? s.answer(call) : std::nullopt;
        if (reply) return reply->elements;
        auto promise = self->make_response_promise<std::vector<redis_reply>>();
        auto id = ++self->state.next_id;
        s.held.push_back(id);
        self->state.waiting[id] = [promise](redis_reply r) mutable {
          promise.deliver(std::move(r.elements));
        };
        return promise;
      },
      // How answer_held reaches the actor, so that promises are kept on its own thread.
      [=](atoms::redis_done, std::uint64_t id, std::vector<redis_reply>& replies) {
        auto it = self->state.waiting.find(id);
        if (it == self->state.waiting.end() || replies.empty()) return;
        auto deliver = std::move(it->second);
        self->state.waiting.erase(it);
        deliver(std::move(replies.front()));
      },
  };
}

} // namespace

redis_link::redis_link_actor spawn_fake_link(caf::actor_system& system,
                                             std::shared_ptr<fake_link_script> script) {
  auto link = system.spawn(fake, script);
  script->link = link.address();
  return link;
}

void fake_link_script::answer_held(redis_reply reply) {
  auto id = held.front();
  held.erase(held.begin());
  if (auto strong = caf::actor_cast<redis_link::redis_link_actor>(link))
    caf::anon_send(strong, atoms::redis_done::value, id, std::vector<redis_reply>{std::move(reply)});
}

redis_reply integer_reply(std::int64_t n) {
  redis_reply r;
  r.kind = redis_link::reply_kind::integer;
  r.integer = n;
  return r;
}

redis_reply string_reply(std::string s) {
  redis_reply r;
  r.kind = redis_link::reply_kind::string;
  r.str = std::move(s);
  return r;
}

redis_reply array_reply(std::vector<redis_reply> elements) {
  redis_reply r;
  r.kind = redis_link::reply_kind::array;
  r.elements = std::move(elements);
  return r;
}

redis_reply status_reply(std::int64_t status, std::string message) {
  return array_reply({integer_reply(status), string_reply(std::move(message))});
}

} // namespace baton::test
