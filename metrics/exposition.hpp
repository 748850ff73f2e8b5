// Writes samples in the Prometheus text exposition format (0.0.4): HELP and TYPE once per
// metric, then its samples. Shared by every part that renders its own metrics.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace baton::metrics {

class exposition {
public:
  explicit exposition(std::string& out) : out_(out) {}

  void declare(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(const std::string& name_and_labels, double value) {
    char buffer[48];
    std::snprintf(buffer, sizeof(buffer), "%.17g", value);
    out_ += name_and_labels;
    out_ += ' ';
    out_ += buffer;
    out_ += '\n';
  }

  void sample(const std::string& name_and_labels, std::uint64_t value) {
    out_ += name_and_labels;
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
  }

private:
  std::string& out_;
};

/// A label value with backslash, double quote and newline escaped.
inline std::string escape_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

} // namespace baton::metrics
