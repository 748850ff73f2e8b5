// Reading a verb's arguments; see command_line.hpp.
#include "daemon/ctl/command_line.hpp"

#include <charconv>

namespace baton::ctl {

std::string verb_args::get(const std::string& flag, const std::string& fallback) const {
  auto it = flags.find(flag);
  return it == flags.end() ? fallback : it->second;
}

std::int64_t verb_args::number(const std::string& flag, std::int64_t fallback, std::int64_t min,
                               std::int64_t max) const {
  auto it = flags.find(flag);
  if (it == flags.end()) return fallback;
  std::int64_t value = 0;
  const auto& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < min || value > max)
    throw usage_error(flag + " wants a whole number from " + std::to_string(min) + " to " +
                      std::to_string(max) + ", not '" + s + "'");
  return value;
}

verb_args parse_verb(const verb_spec& spec, const std::vector<std::string>& args) {
  verb_args out;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--") {
      if (!spec.takes_command) throw usage_error("'--' but this verb runs no command");
      out.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      const flag_spec* known = nullptr;
      for (const auto& f : spec.flags)
        if (f.name == arg) known = &f;
      if (known == nullptr) throw usage_error("unknown flag '" + arg + "'");
      if (known->value_name.empty()) {
        out.flags[arg] = "";
      } else {
        if (i + 1 >= args.size())
          throw usage_error(arg + " needs a value (" + known->value_name + ")");
        out.flags[arg] = args[++i];
      }
      continue;
    }
    out.positional.push_back(arg);
  }
  if (out.positional.size() < spec.min_positional)
    throw usage_error("missing argument: " + spec.arguments);
  if (out.positional.size() > spec.max_positional)
    throw usage_error("unexpected argument '" + out.positional[spec.max_positional] + "'");
  if (spec.takes_command && out.command.empty())
    throw usage_error("no command to run: add -- COMMAND [ARG...]");
  return out;
}

std::string usage_of(const verb_spec& spec) {
  std::string line = "usage: batonctl";
  for (const auto& w : spec.words)
    line += " " + w;
  if (!spec.arguments.empty()) line += " " + spec.arguments;
  for (const auto& f : spec.flags)
    line += " [" + f.name + (f.value_name.empty() ? "" : " " + f.value_name) + "]";
  if (spec.takes_command) line += " -- COMMAND [ARG...]";
  line += "\n  " + spec.summary + "\n";
  for (const auto& f : spec.flags)
    line += "  " + f.name + (f.value_name.empty() ? "" : " " + f.value_name) + ": " + f.help + "\n";
  return line;
}

} // namespace baton::ctl
