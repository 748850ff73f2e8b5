// Where sessions may move when a node drains or dies: the active nodes but that one, and the
// configured strategy that picks each session's target (a drain and an adoption alike).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "model/membership/node_list.hpp"

namespace baton::session {

class handoff_targets {
public:
  handoff_targets(std::vector<membership::node_record> nodes, const std::string& leaving,
                  bool round_robin);
  bool empty() const { return nodes_.empty(); }
  /// The next session's target: the one with the fewest sessions so far (counting those
  /// given out here), or with round_robin each in turn whatever it holds.
  const membership::node_record& next();

private:
  std::vector<membership::node_record> nodes_;
  bool round_robin_;
  std::size_t turn_ = 0;
};

} // namespace baton::session
