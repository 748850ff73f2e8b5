// The `breakers:` section of the config: the default policy for breakers created on first use
// and the named policies. Kept apart from config_loader.cpp, like the secrets section, because
// its rules live in model/breaker/ (policy_problems) and are shared with the request path.
#pragma once

#include <yaml-cpp/yaml.h>

#include "daemon/config_checker.hpp"
#include "model/breaker/breaker_policy.hpp"

namespace baton {

void read_breakers(checker& c, const YAML::Node& node, breaker::breakers_config& b);

} // namespace baton
