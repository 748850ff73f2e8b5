// One retry of an idempotent script; see idempotent_call.hpp.
#include "redis/idempotent_call.hpp"

namespace baton::redis_link {

void run_idempotent(redis_pool& redis, std::string_view name, std::vector<std::string> keys,
                    std::vector<std::string> args, idempotent_callback done) {
  std::string script(name);
  redis.run_script(script, keys, args,
                   [&redis, script, keys, args, done = std::move(done)](redis_reply first) {
                     if (!first.outcome_unknown()) return done(std::move(first), false);
                     redis.run_script(script, keys, args, [first, done](redis_reply second) {
                       if (!second.is_unavailable()) return done(std::move(second), true);
                       // Neither answered: the first may still have run.
                       auto unknown = first;
                       unknown.str = second.str;
                       return done(std::move(unknown), true);
                     });
                   });
}

} // namespace baton::redis_link
