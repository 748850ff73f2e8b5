// batonctl: the operator's tool. Talks RESP3 to the local batond socket; human output by
// default, --json for scripts. Exit codes scripts can rely on:
//   0 ok   1 batond answered with an error, or is not ready (status)
//   2 usage error   3 batond unreachable (no socket, refused, timed out)
//   4 lock/elect: the lease or leadership was lost while COMMAND ran (COMMAND was stopped);
//     otherwise they exit with COMMAND's status
//
// Global flags go anywhere before `--`: -s/--socket PATH, --json, --timeout MS, -h/--help
// (after a verb: that verb's help). A verb is one or two words (`status`, `lease info`); its
// arguments and flags are checked against its spec (command_line.hpp), and every mistake is
// a usage error naming it.
#include <cstdlib>
#include <iostream>

#include "daemon/ctl/verbs.hpp"

namespace {

using namespace baton::ctl;

std::vector<verb_spec> all_verbs() {
  std::vector<verb_spec> all;
  for (auto part : {status_verbs(), family_verbs(), state_verbs(), running_verbs(), watch_verbs()})
    all.insert(all.end(), part.begin(), part.end());
  return all;
}

std::string overview(const std::vector<verb_spec>& verbs, const std::string& family = "") {
  std::string out = "usage: batonctl [-s PATH] [--json] [--timeout MS] VERB [ARGS]\n\nverbs:\n";
  for (const auto& v : verbs) {
    if (!family.empty() && v.words[0] != family) continue;
    std::string line = "  ";
    for (const auto& w : v.words)
      line += w + " ";
    line += v.arguments;
    if (v.takes_command) line += " -- COMMAND";
    if (line.size() < 40)
      line.resize(40, ' ');
    else
      line += "\n" + std::string(40, ' ');
    out += line + v.summary + "\n";
  }
  out += "\n-s/--socket defaults to $BATON_SOCKET, else /run/baton/baton.sock.\n"
         "batonctl VERB -h: a verb's flags.\n"
         "exit codes: 0 ok, 1 error reply or not ready, 2 usage, 3 batond unreachable,\n"
         "            4 lock/elect: lost while the command ran\n";
  return out;
}

/// The verb `command` starts with (two words first), or nullptr.
const verb_spec* find_verb(const std::vector<verb_spec>& verbs,
                           const std::vector<std::string>& command) {
  if (command.size() >= 2)
    for (const auto& v : verbs)
      if (v.words.size() == 2 && v.words[0] == command[0] && v.words[1] == command[1]) return &v;
  for (const auto& v : verbs)
    if (v.words.size() == 1 && v.words[0] == command[0]) return &v;
  return nullptr;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  o.socket = std::getenv("BATON_SOCKET") ? std::getenv("BATON_SOCKET") : "/run/baton/baton.sock";
  auto verbs = all_verbs();
  std::vector<std::string> words; // the verb and its arguments, globals taken out
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") { // the rest is a command to run
      for (; i < argc; ++i)
        words.emplace_back(argv[i]);
      break;
    }
    if (arg == "-h" || arg == "--help") {
      help = true;
    } else if (arg == "--json") {
      o.as_json = true;
    } else if (arg == "-s" || arg == "--socket" || arg == "--timeout") {
      if (i + 1 >= argc) {
        std::cerr << "batonctl: " << arg << " needs a value\n" << overview(verbs);
        return exit_usage;
      }
      std::string value = argv[++i];
      if (arg == "--timeout") {
        char* end = nullptr;
        long ms = std::strtol(value.c_str(), &end, 10);
        if (end == value.c_str() || *end != '\0' || ms <= 0 || ms > 3600000) {
          std::cerr << "batonctl: --timeout must be a positive number of milliseconds\n";
          return exit_usage;
        }
        o.timeout_ms = static_cast<int>(ms);
      } else {
        o.socket = value;
      }
    } else {
      words.push_back(arg);
    }
  }
  if (words.empty()) {
    (help ? std::cout : std::cerr) << overview(verbs);
    return help ? exit_ok : exit_usage;
  }
  const auto* verb = find_verb(verbs, words);
  if (verb == nullptr) {
    bool family = false;
    for (const auto& v : verbs)
      family = family || (v.words.size() == 2 && v.words[0] == words[0]);
    if (family && help) {
      std::cout << overview(verbs, words[0]);
      return exit_ok;
    }
    std::cerr << "batonctl: unknown "
              << (family ? (words.size() > 1 ? "verb '" + words[0] + " " + words[1] + "'"
                                             : "use of '" + words[0] + "': give a verb")
                         : "command '" + words[0] + "'")
              << "\n"
              << overview(verbs, family ? words[0] : "");
    return exit_usage;
  }
  if (help) {
    std::cout << usage_of(*verb);
    return exit_ok;
  }
  try {
    std::vector<std::string> rest(words.begin() + static_cast<std::ptrdiff_t>(verb->words.size()),
                                  words.end());
    auto args = parse_verb(*verb, rest);
    return verb->run(o, args);
  } catch (const usage_error& e) {
    std::cerr << "batonctl: " << e.what() << "\n" << usage_of(*verb);
    return exit_usage;
  } catch (const unreachable& e) {
    if (o.as_json)
      std::cout << json{{"ok", false}, {"error", e.what()}, {"socket", o.socket}}.dump() << "\n";
    else
      std::cerr << "batonctl: batond unreachable at " << o.socket << ": " << e.what() << "\n";
    return exit_unreachable;
  } catch (const std::exception& e) {
    std::cerr << "batonctl: " << e.what() << "\n";
    return exit_error;
  }
}
