// The hook runner; see hook_runner.hpp.
#include "actors/secret_rotation/hook_runner.hpp"

#include <caf/all.hpp>

namespace baton::secret {
namespace {

// Runs one hook on its own thread, answers, and ends.
hook_runner_actor::behavior_type hook_worker(hook_runner_actor::pointer self) {
  return {
      [=](atoms::hook, hook_job& job) -> hook_reply {
        static const secure_bytes no_input;
        auto result = std::make_shared<hook_result>(
            run_hook(job.command, job.input ? *job.input : no_input, job.environment,
                     std::chrono::milliseconds(job.timeout_ms)));
        self->quit();
        return result;
      },
  };
}

hook_runner_actor::behavior_type hook_front(hook_runner_actor::pointer self) {
  return {
      [=](atoms::hook, hook_job& job) -> caf::delegated<hook_reply> {
        auto worker = self->spawn<caf::detached>(hook_worker);
        return self->delegate(worker, atoms::hook::value, std::move(job));
      },
  };
}

} // namespace

hook_runner_actor spawn_hook_runner(caf::actor_system& system) {
  return system.spawn(hook_front);
}

} // namespace baton::secret
