// Who may do what with which secret: the config's secrets.access rules by uid and group
// (SO_PEERCRED), on top of the family rule that already let the caller run SECRET at all.
// uid 0 may do everything (it can read the KEK files anyway). Without rules, any caller may
// GET, VERIFY, INFO and WATCH, and admin verbs need an admin group; with rules, only what a
// rule naming the caller and the secret allows (admin groups keep admin verbs).
#pragma once

#include <string>

#include "model/secret/secret_settings.hpp"
#include "daemon/access_policy.hpp"
#include "daemon/peer_credentials.hpp"

namespace baton {

enum class secret_verb {
  get,    ///< SECRET GET
  verify, ///< SECRET VERIFY
  admin,  ///< SECRET PUT, ROTATE, REWRAP
  look,   ///< SECRET INFO, WATCH: metadata only; any of the above suffices
};

bool secret_allowed(const secret::secrets_config& config, const access_policy& access,
                    const peer_credentials& peer, secret_verb verb, const std::string& name);

/// "get", "verify", "admin" or "info" for refusals.
const char* verb_name(secret_verb verb);

} // namespace baton
