// Every CAF atom baton uses, in one place: in CAF 0.17 the same text is the same type
// everywhere (atom("tick") *is* caf::tick_atom), so names are chosen here, once.
#pragma once

#include <caf/atom.hpp>

namespace baton::atoms {

/// Send a command to Redis through the link: (redis_call, args) -> redis_reply.
using redis_call = caf::atom_constant<caf::atom("rcall")>;
/// Run a script of lua/ through the link: (redis_script, name, keys, args) -> redis_reply.
using redis_script = caf::atom_constant<caf::atom("rscript")>;
/// Internal: a reply arrived on the I/O thread for promise `id`.
using redis_done = caf::atom_constant<caf::atom("rdone")>;

} // namespace baton::atoms
