// The `cache:` section of the config: the namespaces of CACHE (TTLs in Redis, value limit,
// the near cache's byte budget and TTL) and the request limits. Kept apart from
// config_loader.cpp, like the state section, because its rules live with model/cache/.
#pragma once

#include <yaml-cpp/yaml.h>

#include "daemon/config_checker.hpp"
#include "model/cache/cache_settings.hpp"

namespace baton {

void read_cache(checker& c, const YAML::Node& node, cache::cache_config& s);

} // namespace baton
