// Idempotent state changes whose answer was lost: a script that is safe to run twice (a
// CLOSE, a TOUCH, a RESET, a FORCE) and was sent but not answered is sent once more, so that
// a dropped connection or a short stall is resolved rather than handed to the client as
// "unknown". One retry, one more call budget: the documented extra (protocol/API.md).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_pool.hpp"

namespace baton::redis_link {

/// `retried`: the reply is the second attempt's, and the first may have done the work (so a
/// "gone" or "0" may be the first attempt's effect). A reply still `outcome_unknown()` after
/// the retry means neither attempt was answered; one never sent is answered UNAVAILABLE
/// without a retry (it certainly did not run).
using idempotent_callback = std::function<void(redis_reply reply, bool retried)>;

/// Runs script `name`, and once more if its answer was lost after it was sent. The retry is
/// sent from the first reply's callback, so on the same Redis connection (redis_pool keeps a
/// client's calls together), after the first attempt.
void run_idempotent(redis_pool& redis, std::string_view name, std::vector<std::string> keys,
                    std::vector<std::string> args, idempotent_callback done);

} // namespace baton::redis_link
