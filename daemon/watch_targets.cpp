// Watch targets and event encodings; see watch_targets.hpp.
#include "daemon/watch_targets.hpp"

namespace baton {

namespace {
const std::string lease_prefix = "lease:";
const std::string elect_prefix = "elect:";
const std::string pubsub_message_prefix = "msg:";
/// ELECT runs on the lease "elect:<group>" (elect_commands.cpp).
const std::string elect_lease_prefix = "elect:";

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}
} // namespace

std::string watch_target::channel() const {
  return (elect ? elect_prefix : lease_prefix) + name;
}

std::string watch_target::topic() const {
  return how == style::message ? pubsub_message_prefix + channel() : channel();
}

std::string watch_target::lease() const {
  return elect ? elect_lease(name) : name;
}

std::optional<watch_target> target_of_channel(const std::string& channel) {
  watch_target t;
  t.how = watch_target::style::message;
  if (starts_with(channel, lease_prefix)) {
    t.name = channel.substr(lease_prefix.size());
  } else if (starts_with(channel, elect_prefix)) {
    t.elect = true;
    t.name = channel.substr(elect_prefix.size());
  } else {
    return std::nullopt;
  }
  return t;
}

std::optional<watch_target> target_of_topic(const std::string& topic) {
  if (starts_with(topic, pubsub_message_prefix))
    return target_of_channel(topic.substr(pubsub_message_prefix.size()));
  auto t = target_of_channel(topic);
  if (t) t->how = watch_target::style::watch;
  return t;
}

bool is_elect_lease(const std::string& lease) {
  return starts_with(lease, elect_lease_prefix);
}

std::string group_of(const std::string& lease) {
  return lease.substr(elect_lease_prefix.size());
}

std::string elect_lease(const std::string& group) {
  return elect_lease_prefix + group;
}

const char* event_name(const watch_target& target, lease::lease_event::kind what) {
  if (!target.elect) return lease::to_string(what);
  switch (what) {
  case lease::lease_event::kind::acquired:
    return "leader";
  case lease::lease_event::kind::lost:
    return "lost";
  default:
    return "vacant";
  }
}

void write_event(protocol::reply_writer& out, const watch_target& target, const char* event,
                 std::int64_t token, const std::string& node, const std::string& meta) {
  if (target.how == watch_target::style::message) {
    // The candidate goes last: it may contain spaces.
    auto payload = std::string(event) + " " + std::to_string(token);
    if (!node.empty() || target.elect) payload += " " + node; // none: another uid's lease
    if (target.elect) payload += " " + meta;
    out.push(3);
    out.bulk("message");
    out.bulk(target.channel());
    out.bulk(payload);
    return;
  }
  if (!target.elect) {
    out.push(5);
    out.bulk("lease");
    out.bulk(event);
    out.bulk(target.name);
    out.integer(token);
    out.bulk(node);
    return;
  }
  out.push(6);
  out.bulk("elect");
  out.bulk(event);
  out.bulk(target.name);
  out.integer(token);
  out.bulk(meta);
  out.bulk(node);
}

} // namespace baton
