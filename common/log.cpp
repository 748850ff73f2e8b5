// The structured logger; see log.hpp.
#include "common/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace baton::log {
namespace {

std::atomic<int> current{static_cast<int>(level::info)};
std::atomic<int> current_format{static_cast<int>(format::text)};
std::mutex write_mutex;

const char* level_name(level lvl) {
  switch (lvl) {
  case level::debug:
    return "debug";
  case level::info:
    return "info";
  case level::warning:
    return "warning";
  default:
    return "error";
  }
}

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto seconds = system_clock::to_time_t(now);
  auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  return buffer;
}

// Quotes a logfmt value when it has spaces, quotes or control characters.
void append_text_value(std::string& out, std::string_view value) {
  bool plain = !value.empty();
  for (char c : value)
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) plain = false;
  if (plain) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_json_string(std::string& out, std::string_view value) {
  out += '"';
  for (char c : value) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
        out += buffer;
      } else {
        out += c;
      }
    }
  }
  out += '"';
}

} // namespace

void set_level(level lvl) {
  current.store(static_cast<int>(lvl));
}
void set_format(format fmt) {
  current_format.store(static_cast<int>(fmt));
}
bool enabled(level lvl) {
  return static_cast<int>(lvl) >= current.load(std::memory_order_relaxed);
}

bool parse_level(std::string_view text, level& out) {
  if (text == "debug")
    out = level::debug;
  else if (text == "info")
    out = level::info;
  else if (text == "warning" || text == "warn")
    out = level::warning;
  else if (text == "error")
    out = level::error;
  else
    return false;
  return true;
}

void write(level lvl, std::string_view component, std::string_view message,
           std::initializer_list<field> fields) {
  if (!enabled(lvl)) return;
  std::string line;
  line.reserve(160);
  if (static_cast<format>(current_format.load()) == format::json) {
    line += "{\"ts\":\"" + timestamp() + "\",\"level\":\"" + level_name(lvl) + "\",\"component\":";
    append_json_string(line, component);
    line += ",\"msg\":";
    append_json_string(line, message);
    for (const auto& [key, value] : fields) {
      line += ',';
      append_json_string(line, key);
      line += ':';
      append_json_string(line, value);
    }
    line += "}\n";
  } else {
    line += "ts=" + timestamp() + " level=" + level_name(lvl) + " component=";
    append_text_value(line, component);
    line += " msg=";
    append_text_value(line, message);
    for (const auto& [key, value] : fields) {
      line += ' ';
      line += key;
      line += '=';
      append_text_value(line, value);
    }
    line += '\n';
  }
  std::lock_guard<std::mutex> guard(write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace baton::log
