// Choosing handoff targets; see handoff_targets.hpp.
#include "model/session/handoff_targets.hpp"

#include <algorithm>

namespace baton::session {

handoff_targets::handoff_targets(std::vector<membership::node_record> nodes,
                                 const std::string& leaving, bool round_robin)
    : round_robin_(round_robin) {
  for (auto& n : nodes)
    if (n.state == "active" && n.id != leaving) nodes_.push_back(std::move(n));
}

const membership::node_record& handoff_targets::next() {
  auto target =
      round_robin_
          ? nodes_.begin() + static_cast<std::ptrdiff_t>(turn_++ % nodes_.size())
          : std::min_element(nodes_.begin(), nodes_.end(),
                             [](const membership::node_record& a,
                                const membership::node_record& b) { return a.sessions < b.sessions; });
  ++target->sessions;
  return *target;
}

} // namespace baton::session
