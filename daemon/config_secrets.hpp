// The `secrets:` section of the config: KEK sources, limits, access rules per secret name and
// the secrets with rotation schedules and hooks. Kept apart from config_loader.cpp because it
// is the largest section and has rules of its own (patterns, hooks, KEKs that must load).
#pragma once

#include <yaml-cpp/yaml.h>

#include "model/secret/secret_settings.hpp"
#include "daemon/config_checker.hpp"

namespace baton {

void read_secrets(checker& c, const YAML::Node& node, secret::secrets_config& s);

/// A secret name is 1 to max_length letters, digits, '-', '_', '.', '/' or ':'.
bool is_secret_name(const std::string& name, std::size_t max_length);

} // namespace baton
