// How much one connection may watch: the bound protocol/API.md promises ("a connection watches
// at most 10,000 names"), shared by every family's WATCH and SUBSCRIBE.
#pragma once

#include <cstddef>

namespace baton {

/// Names, groups, topics and channels one connection watches, all families together.
inline constexpr std::size_t max_watches_per_connection = 10000;

} // namespace baton
