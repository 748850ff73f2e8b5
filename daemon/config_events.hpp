// The `events:` section of the config: how much of each topic Redis keeps, payload and read
// limits, and trimming of what every group acknowledged (model/events/events_settings.hpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include "daemon/config_checker.hpp"
#include "model/events/events_settings.hpp"

namespace baton {

void read_events(checker& c, const YAML::Node& node, events::events_config& e);

} // namespace baton
