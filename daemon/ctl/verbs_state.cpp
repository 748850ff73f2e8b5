// batonctl's STATE verbs: get, set, del, keys, count and clear as one request each, and
// export and import of a whole namespace (state_file.hpp): export pages through SCAN and reads
// each page with MGET (a consistent entry per key: value, version and time left, never
// blocking Redis), appending a checkpoint after each page so that `--resume` goes on from the
// last complete one; import writes the entries back with RESTORE, a batch at a time, which is
// safe to run again after an interruption.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "daemon/ctl/state_file.hpp"
#include "daemon/ctl/verbs.hpp"

namespace baton::ctl {
namespace {

constexpr std::size_t page_count = 1000; ///< SCAN's COUNT per page
constexpr std::size_t batch = 500;       ///< keys per MGET, entries per RESTORE

/// A reply that must not be an error; throws with its text (main prints it, exit 1).
resp_value checked(resp_client& client, const std::vector<std::string>& args) {
  resp_value reply;
  try {
    reply = client.call(args);
  } catch (const std::exception& e) {
    throw unreachable(e.what());
  }
  if (reply.is_error()) throw std::runtime_error(reply.str);
  return reply;
}

/// A progress line on a terminal only: scripts and pipes get the summary alone.
class progress {
public:
  progress(const char* what, std::int64_t total) : what_(what), total_(total) {
    shown_ = isatty(STDERR_FILENO) == 1;
  }
  void update(std::int64_t done) const {
    if (!shown_) return;
    if (total_ > 0) {
      int width = 30;
      auto filled = static_cast<int>(std::min<std::int64_t>(width, done * width / total_));
      std::fprintf(stderr, "\r%s [%s%s] %lld/%lld", what_, std::string(filled, '#').c_str(),
                   std::string(width - filled, ' ').c_str(), static_cast<long long>(done),
                   static_cast<long long>(total_));
    } else {
      std::fprintf(stderr, "\r%s %lld", what_, static_cast<long long>(done));
    }
  }
  void end() const {
    if (shown_) std::fprintf(stderr, "\n");
  }

private:
  const char* what_;
  std::int64_t total_;
  bool shown_ = false;
};

/// The checkpoint an interrupted export left: its cursor and entries so far, and the file's
/// length up to the end of that line (what follows is a page not finished: dropped).
struct resume_point {
  std::string cursor = "0";
  std::int64_t entries = 0;
  std::streamoff keep = 0;
  bool done = false;
};

resume_point find_resume_point(const std::string& path, const std::string& ns) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error("--resume: cannot read " + path);
  resume_point point;
  std::string line;
  bool header = false;
  std::streamoff at = 0;
  while (std::getline(in, line)) {
    at += static_cast<std::streamoff>(line.size()) + 1;
    if (in.eof()) break; // a last line without its newline was cut short
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) break;
    if (j.contains("baton_state_export")) {
      if (j.value("namespace", "") != ns)
        throw usage_error(path + " is an export of namespace '" + j.value("namespace", "") +
                          "', not '" + ns + "'");
      header = true;
      point.keep = at;
    } else if (j.contains("cursor")) {
      point.cursor = j["cursor"].get<std::string>();
      point.entries = j.value("entries", 0LL);
      point.keep = at;
    } else if (j.contains("done")) {
      point.done = true;
      point.entries = j.value("entries", 0LL);
    }
  }
  if (!header) throw usage_error(path + " is not a state export (no header line)");
  return point;
}

/// Values of one page of keys, read with MGET in batches; absent ones (deleted since the
/// scan) are left out.
std::int64_t export_page(resp_client& client, const std::string& ns,
                         const std::vector<std::string>& keys, std::ofstream& out) {
  std::int64_t written = 0;
  auto now = unix_ms_now();
  for (std::size_t from = 0; from < keys.size(); from += batch) {
    std::vector<std::string> args{"STATE", "MGET", ns};
    auto to = std::min(keys.size(), from + batch);
    args.insert(args.end(), keys.begin() + static_cast<std::ptrdiff_t>(from),
                keys.begin() + static_cast<std::ptrdiff_t>(to));
    auto reply = checked(client, args);
    for (std::size_t i = 0; i < reply.elements.size() && from + i < to; ++i) {
      const auto& m = reply.elements[i];
      if (m.kind != resp_value::type::map) continue;
      state_file_entry e;
      e.key = keys[from + i];
      for (std::size_t f = 0; f + 1 < m.elements.size(); f += 2) {
        const auto& name = m.elements[f].str;
        const auto& value = m.elements[f + 1];
        if (name == "value") e.value = value.str;
        if (name == "version") e.version = value.integer;
        // -1: no expiry (0 in the file); 0 ms left: lapsing now (an import skips it).
        if (name == "ttl_ms") e.expires_ms = value.integer >= 0 ? now + value.integer : 0;
      }
      out << entry_line(e) << "\n";
      ++written;
    }
  }
  return written;
}

int run_export(const options& o, const verb_args& a) {
  const auto& ns = a.positional[0];
  const auto& path = a.positional[1];
  auto client = connect(o);
  resume_point point;
  if (a.has("--resume")) {
    point = find_resume_point(path, ns);
    if (point.done) {
      std::printf("%s is a complete export (%lld entries): nothing to resume\n", path.c_str(),
                  static_cast<long long>(point.entries));
      return exit_ok;
    }
    if (::truncate(path.c_str(), point.keep) != 0)
      throw std::runtime_error("cannot truncate " + path + " to its last checkpoint");
  }
  std::int64_t total = -1;
  if (isatty(STDERR_FILENO) == 1) total = checked(*client, {"STATE", "COUNT", ns}).integer;
  // The file holds the values in the clear (a sealed namespace's too): only its owner reads it.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0 || ::close(fd) != 0)
    throw std::runtime_error("cannot create " + path + " with mode 0600");
  std::ofstream out(path, a.has("--resume") ? std::ios::binary | std::ios::app
                                            : std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  if (!a.has("--resume"))
    out << nlohmann::json{{"baton_state_export", 1}, {"namespace", ns},
                          {"started_ms", unix_ms_now()}}
               .dump()
        << "\n";
  progress bar("exporting", total);
  auto cursor = point.cursor;
  auto entries = point.entries;
  do {
    resp_value page;
    try {
      page = checked(*client, {"STATE", "SCAN", ns, "CURSOR", cursor, "COUNT",
                               std::to_string(page_count)});
    } catch (const std::runtime_error& e) {
      // A Cluster's slots moved: scan again from the start. Entries already written may come
      // twice; an import writes the same entry twice harmlessly.
      if (std::string(e.what()).rfind("REFUSED", 0) != 0 || cursor == "0") throw;
      std::fprintf(stderr, "batonctl: the cluster's slots moved; scanning again from the start\n");
      cursor = "0";
      continue;
    }
    std::vector<std::string> keys;
    for (const auto& k : page.elements.at(1).elements)
      keys.push_back(k.str);
    entries += export_page(*client, ns, keys, out);
    cursor = page.elements.at(0).str;
    out << nlohmann::json{{"cursor", cursor}, {"entries", entries}}.dump() << "\n";
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + path);
    bar.update(entries);
  } while (cursor != "0");
  out << nlohmann::json{{"done", true}, {"entries", entries}}.dump() << "\n";
  out.close();
  bar.end();
  if (o.as_json)
    std::cout << nlohmann::json{{"namespace", ns}, {"entries", entries}, {"file", path}}.dump()
              << "\n";
  else
    std::printf("exported %lld entries of '%s' to %s\n", static_cast<long long>(entries),
                ns.c_str(), path.c_str());
  return exit_ok;
}

int run_import(const options& o, const verb_args& a) {
  const auto& ns = a.positional[0];
  const auto& path = a.positional[1];
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error("cannot read " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line))
    lines.push_back(std::move(line));
  if (lines.empty() || !nlohmann::json::parse(lines[0], nullptr, false).contains("baton_state_export"))
    throw usage_error(path + " is not a state export (no header line)");
  auto client = connect(o);
  progress bar("importing", static_cast<std::int64_t>(lines.size()));
  std::int64_t imported = 0, lapsed = 0;
  std::vector<std::string> args;
  std::size_t in_batch = 0;
  auto flush = [&] {
    if (in_batch == 0) return;
    imported += checked(*client, args).integer;
    in_batch = 0;
  };
  for (std::size_t n = 1; n < lines.size(); ++n) {
    auto j = nlohmann::json::parse(lines[n], nullptr, false);
    if (j.is_discarded())
      throw std::runtime_error(path + ":" + std::to_string(n + 1) + ": not JSON");
    std::optional<state_file_entry> e;
    try {
      e = parse_entry(j);
    } catch (const std::runtime_error& bad) {
      throw std::runtime_error(path + ":" + std::to_string(n + 1) + ": " + bad.what());
    }
    if (!e) continue;
    std::int64_t ttl = 0;
    if (e->expires_ms > 0) {
      ttl = e->expires_ms - unix_ms_now();
      if (ttl <= 0) {
        ++lapsed;
        continue;
      }
    }
    if (in_batch == 0) args = {"STATE", "RESTORE", ns};
    args.insert(args.end(), {e->key, e->value, std::to_string(e->version), std::to_string(ttl)});
    if (++in_batch == batch) {
      flush();
      bar.update(static_cast<std::int64_t>(n));
    }
  }
  flush();
  bar.update(static_cast<std::int64_t>(lines.size()));
  bar.end();
  if (o.as_json)
    std::cout << nlohmann::json{{"namespace", ns}, {"imported", imported}, {"lapsed", lapsed}}
                     .dump()
              << "\n";
  else
    std::printf("imported %lld entries into '%s' (%lld had lapsed)\n",
                static_cast<long long>(imported), ns.c_str(), static_cast<long long>(lapsed));
  return exit_ok;
}

/// Every page of STATE SCAN, keys one per line (or a JSON array).
int run_keys(const options& o, const verb_args& a) {
  auto client = connect(o);
  std::string cursor = "0";
  json all = json::array();
  do {
    std::vector<std::string> args{"STATE", "SCAN", a.positional[0]};
    if (a.positional.size() > 1) args.push_back(a.positional[1]);
    args.insert(args.end(), {"CURSOR", cursor, "COUNT", std::to_string(page_count)});
    auto page = checked(*client, args);
    for (const auto& k : page.elements.at(1).elements) {
      if (o.as_json)
        all.push_back(printable_utf8(k.str) ? k.str : base64_encode(k.str));
      else
        std::printf("%s\n", k.str.c_str());
    }
    cursor = page.elements.at(0).str;
  } while (cursor != "0");
  if (o.as_json) std::cout << all.dump() << "\n";
  return exit_ok;
}

verb_spec verb(std::vector<std::string> words, std::string arguments, std::string summary,
               std::size_t min, std::size_t max, std::vector<flag_spec> flags,
               std::function<int(const options&, const verb_args&)> run) {
  verb_spec spec{std::move(words), std::move(arguments), std::move(summary), min, max,
                 std::move(flags), false, nullptr};
  spec.run = std::move(run);
  return spec;
}

/// One request whose reply is printed as it comes.
verb_spec one(std::vector<std::string> words, std::string arguments, std::string summary,
              std::size_t min, std::size_t max, std::vector<flag_spec> flags,
              std::function<std::vector<std::string>(const verb_args&)> build,
              std::string empty = "none") {
  return verb(std::move(words), std::move(arguments), std::move(summary), min, max,
              std::move(flags),
              [build = std::move(build), empty = std::move(empty)](const options& o,
                                                                   const verb_args& a) {
                auto client = connect(o);
                json reply;
                if (!call(*client, build(a), o, reply)) return exit_error;
                return print_reply(reply, o, empty);
              });
}

} // namespace

std::vector<verb_spec> state_verbs() {
  std::vector<verb_spec> v;
  auto plain = [](std::vector<std::string> start) {
    return [start = std::move(start)](const verb_args& a) {
      auto args = start;
      args.insert(args.end(), a.positional.begin(), a.positional.end());
      return args;
    };
  };
  v.push_back(one({"state", "get"}, "NS KEY", "an entry's value, version and ms left", 2, 2, {},
                  plain({"STATE", "GET"}), "absent"));
  v.push_back(one({"state", "set"}, "NS KEY VALUE", "write an entry; prints its new version", 3,
                  3,
                  {{"--ttl", "MS", "expire after MS (default: the namespace's)"},
                   {"--if-version", "V", "only over version V (0: only if absent)"}},
                  [](const verb_args& a) {
                    std::vector<std::string> args{"STATE", "SET", a.positional[0],
                                                  a.positional[1], a.positional[2]};
                    if (a.has("--ttl"))
                      args.insert(args.end(), {"TTL", std::to_string(a.number(
                                                          "--ttl", 0, 1, 1LL << 50))});
                    if (a.has("--if-version"))
                      args.insert(args.end(),
                                  {"IFVERSION", std::to_string(a.number("--if-version", 0, 0,
                                                                        INT64_MAX))});
                    return args;
                  }));
  v.push_back(one({"state", "del"}, "NS KEY...", "delete entries; prints how many", 2, 1000, {},
                  [](const verb_args& a) {
                    std::vector<std::string> args{"STATE", "MDEL"};
                    args.insert(args.end(), a.positional.begin(), a.positional.end());
                    return args;
                  }));
  v.push_back(verb({"state", "keys"}, "NS [PREFIX]", "every key of a namespace (with a prefix)",
                   1, 2, {}, run_keys));
  v.push_back(one({"state", "count"}, "NS", "how many entries a namespace holds", 1, 1, {},
                  plain({"STATE", "COUNT"})));
  v.push_back(one({"state", "clear"}, "NS", "delete every entry of a namespace (admin)", 1, 1, {},
                  plain({"STATE", "CLEAR"})));
  v.push_back(verb({"state", "export"}, "NS FILE",
                   "checkpoint a namespace to FILE (values in the clear; keep it safe)", 2, 2,
                   {{"--resume", "", "go on from FILE's last complete page"}}, run_export));
  v.push_back(verb({"state", "import"}, "NS FILE",
                   "write an export's entries back, with versions and time left (admin)", 2, 2,
                   {}, run_import));
  return v;
}

} // namespace baton::ctl
