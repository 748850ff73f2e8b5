// Structured logs to stderr, one line per event: logfmt for humans and journald, or JSON
// lines for log shippers. Thread-safe; the level can change at runtime (SIGHUP reload).
// CAF in Debian is built with its own logging compiled out, so this is baton's only logger.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace baton::log {

enum class level { debug = 0, info = 1, warning = 2, error = 3 };
enum class format { text, json };

using field = std::pair<std::string_view, std::string>;

void set_level(level lvl);
void set_format(format fmt);
bool enabled(level lvl);

/// Parses "debug", "info", "warning"/"warn", "error"; false if unknown.
bool parse_level(std::string_view text, level& out);

void write(level lvl, std::string_view component, std::string_view message,
           std::initializer_list<field> fields = {});

inline void debug(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::debug)) write(level::debug, c, m, f);
}
inline void info(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  write(level::info, c, m, f);
}
inline void warn(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  write(level::warning, c, m, f);
}
inline void error(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  write(level::error, c, m, f);
}

} // namespace baton::log
