// Shared parts of batonctl; see ctl_common.hpp.
#include "daemon/ctl/ctl_common.hpp"

#include <algorithm>
#include <iostream>

namespace baton::ctl {

std::unique_ptr<resp_client> connect(const options& o, int extra_ms) {
  try {
    auto client = std::make_unique<resp_client>(o.socket, o.timeout_ms + extra_ms);
    auto hello = client->call({"HELLO", "3"});
    if (hello.is_error()) throw unreachable("batond refused HELLO 3: " + hello.str);
    return client;
  } catch (const unreachable&) {
    throw;
  } catch (const std::exception& e) {
    throw unreachable(e.what());
  }
}

json to_json(const resp_value& v) {
  using t = resp_value::type;
  switch (v.kind) {
  case t::integer:
    return v.integer;
  case t::boolean:
    return v.integer != 0;
  case t::null:
    return nullptr;
  case t::error:
    return json{{"error", v.str}};
  case t::array:
  case t::set:
  case t::push: {
    json out = json::array();
    for (const auto& e : v.elements)
      out.push_back(to_json(e));
    return out;
  }
  case t::map: {
    json out = json::object();
    for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2)
      out[v.elements[i].str] = to_json(v.elements[i + 1]);
    return out;
  }
  default:
    return v.str;
  }
}

bool call(resp_client& client, const std::vector<std::string>& args, const options& o, json& out) {
  resp_value reply;
  try {
    reply = client.call(args);
  } catch (const std::exception& e) {
    throw unreachable(e.what());
  }
  if (reply.is_error()) {
    if (o.as_json)
      std::cout << json{{"ok", false}, {"error", reply.str}}.dump() << "\n";
    else
      std::cerr << "batonctl: " << reply.str << "\n";
    return false;
  }
  out = to_json(reply);
  return true;
}

std::string text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "-";
  return value.dump();
}

namespace {

void print_map(const json& map, const std::string& indent) {
  std::size_t width = 0;
  for (auto it = map.begin(); it != map.end(); ++it)
    width = std::max(width, it.key().size());
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::cout << indent << it.key() << std::string(width - it.key().size() + 2, ' ');
    if (it.value().is_structured() && !it.value().empty()) {
      std::cout << "\n";
      if (it.value().is_object())
        print_map(it.value(), indent + "  ");
      else
        for (const auto& e : it.value()) {
          if (e.is_object()) {
            print_map(e, indent + "  ");
            std::cout << "\n";
          } else {
            std::cout << indent << "  " << text(e) << "\n";
          }
        }
    } else {
      std::cout << (it.value().is_structured() ? "-" : text(it.value())) << "\n";
    }
  }
}

} // namespace

void print_human(const json& value, const std::string& empty_text) {
  if (value.is_null()) {
    std::cout << empty_text << "\n";
  } else if (value.is_object()) {
    print_map(value, "");
  } else if (value.is_array()) {
    if (value.empty()) std::cout << "(none)\n";
    bool first = true;
    for (const auto& e : value) {
      if (e.is_object()) {
        if (!first) std::cout << "\n";
        print_map(e, "");
      } else {
        std::cout << text(e) << "\n";
      }
      first = false;
    }
  } else {
    std::cout << text(value) << "\n";
  }
}

int print_reply(const json& value, const options& o, const std::string& empty_text) {
  if (o.as_json)
    std::cout << value.dump(2) << "\n";
  else
    print_human(value, empty_text);
  return exit_ok;
}

} // namespace baton::ctl
