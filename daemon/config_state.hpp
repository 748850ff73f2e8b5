// The `state:` section of the config: the namespaces of STATE (key prefix, TTLs, value limit,
// sealing, readers and writers) and the request limits. Kept apart from config_loader.cpp,
// like the secrets and breakers sections, because its rules live with model/state/.
#pragma once

#include <yaml-cpp/yaml.h>

#include "daemon/config_checker.hpp"
#include "model/state/state_settings.hpp"

namespace baton {

/// `prefix` is the config's Redis prefix, the default key prefix's start; `have_keks` says
/// whether sealed namespaces can work (secrets.keks).
void read_state(checker& c, const YAML::Node& node, state::state_config& s,
                const std::string& prefix, bool have_keks);

} // namespace baton
