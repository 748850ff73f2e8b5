// Where sessions live in Redis, for the session service and the handoff actors alike: one hash
// per session, an index per user and per owning node, and the channel of session events.
#pragma once

#include <string>

namespace baton::session {

inline std::string session_key(const std::string& prefix, const std::string& id) {
  return prefix + ":session:{" + id + "}";
}
inline std::string user_sessions_key(const std::string& prefix, const std::string& user) {
  return prefix + ":user-sessions:{" + user + "}";
}
inline std::string node_sessions_key(const std::string& prefix, const std::string& node) {
  return prefix + ":node-sessions:{" + node + "}";
}
inline std::string session_events_channel(const std::string& prefix) {
  return prefix + ":session-events";
}

} // namespace baton::session
