// Which history of a secret a daemon holds, and what Redis says it is now. The epoch grows
// with every promotion and retirement; the incarnation is a random id stored when the record
// is first written (lua/secret_begin.lua). After Redis lost its data, a secret PUT again starts
// a new history at epoch 1: only the incarnation tells it from the one a daemon cached. So a
// cache compares both and reloads on any difference, never only on a larger epoch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/secret/served_secret.hpp"
#include "redis/redis_reply.hpp"

namespace baton::secret {

struct secret_identity {
  std::int64_t epoch = 0;
  /// Empty for a record made before incarnations existed; unset when the message did not say
  /// (an announcement in the old "changed <name> <epoch>" form): then only the epoch compares.
  std::optional<std::string> incarnation;
};

struct secret_announcement {
  std::string name;
  secret_identity identity;
};

/// Parses a payload of the secrets' channel: "changed <name> <epoch> <incarnation>", or the
/// older "changed <name> <epoch>". Names have no spaces (SECRET checks them). Nothing for
/// anything else.
std::optional<secret_announcement> parse_announcement(std::string_view payload);

/// Parses secret_ack's reply {epoch, incarnation} ({0, ""}: the record is gone); nothing for
/// anything else.
std::optional<secret_identity> parse_ack_reply(const redis_link::redis_reply& reply);

/// True if what `served` was loaded from is the history and epoch `now` names.
bool same_history(const served_secret& served, const secret_identity& now);

} // namespace baton::secret
