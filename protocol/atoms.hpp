// Every CAF atom baton uses, in one place: in CAF 0.17 the same text is the same type
// everywhere (atom("tick") *is* caf::tick_atom), so names are chosen here, once. The
// messages each actor understands are listed in its own header, with these atoms.
#pragma once

#include <caf/atom.hpp>

namespace baton::atoms {

// -- the Redis link (actors/redis_link) --------------------------------------------------
/// Send a command to Redis through the link: (redis_call, args) -> redis_reply.
using redis_call = caf::atom_constant<caf::atom("rcall")>;
/// Run a script of lua/ through the link: (redis_script, script_call) -> redis_reply.
using redis_script = caf::atom_constant<caf::atom("rscript")>;
/// Run many scripts at once, pipelined: (redis_batch, [script_call]) -> [redis_reply].
using redis_batch = caf::atom_constant<caf::atom("rbatch")>;
/// Send a keyless command to every primary: (redis_each, args) -> [[address, reply], ...].
using redis_each = caf::atom_constant<caf::atom("reach")>;
/// Internal to the link: a reply arrived on the I/O thread for promise `id`.
using redis_done = caf::atom_constant<caf::atom("rdone")>;

// -- timers: (tick, generation); a tick whose generation is not the current one is stale --
using timer_tick = caf::atom_constant<caf::atom("ttick")>;

// -- the lease keeper (actors/lease_keeper) ----------------------------------------------
/// Start keeping (renewing) a lease, or restart after its holder renewed: (keep, kept_lease).
using keep = caf::atom_constant<caf::atom("keep")>;
/// Stop keeping it: its holder released it or went away: (forget, name, token).
using forget = caf::atom_constant<caf::atom("forget")>;
/// Stop keeping it, and give it back: the lease service's own clock found it lost, and a
/// renewal on its way may still land: (abandon, name, token).
using abandon = caf::atom_constant<caf::atom("abandon")>;
/// Stop renewing everything (the daemon is stopping): (stop_all).
using stop_all = caf::atom_constant<caf::atom("stopall")>;
/// Renew every kept lease now (the Redis master moved; a grant the failover lost is then
/// reported lost at once, not at its next renewal): (check_all).
using check_all = caf::atom_constant<caf::atom("checkall")>;

// -- a secret rotation and hooks (actors/secret_rotation) ------------------------------
/// Run a hook: (hook, hook_job) -> hook_reply.
using hook = caf::atom_constant<caf::atom("hook")>;

// -- the secret cache (actors/secret_cache) ---------------------------------------------
/// Read a secret from Redis into the cache; `id` (0: nobody waits) comes back in the news:
/// (load, name, id).
using load = caf::atom_constant<caf::atom("sload")>;
/// A payload of the secrets' announcement channel ("changed <name> <epoch> <incarnation>"):
/// (announce, text).
using announce = caf::atom_constant<caf::atom("announce")>;
/// Reload every cached secret (announcements may have been missed): (reload_all).
using reload_all = caf::atom_constant<caf::atom("reloadall")>;
/// Uses of served versions counted on the reactor since the last flush: (uses, [secret_use]).
using uses = caf::atom_constant<caf::atom("uses")>;

// -- breakers' fleet side (actors/breaker) -----------------------------------------------
/// This host's breaker moved (tripped, turned half-open, its probe passed or failed):
/// (moved, breaker_move).
using moved = caf::atom_constant<caf::atom("bmoved")>;
/// Read these breakers' fleet state from Redis and tell it (start, reconnect): (sync, [name]).
using sync = caf::atom_constant<caf::atom("bsync")>;
/// This host's windows, to report for BREAKER STATE: (counts, [breaker_count]).
using counts = caf::atom_constant<caf::atom("bcounts")>;

// -- membership (actors/membership) ------------------------------------------------------
/// Mark this node draining: (drain) -> bool.
using drain = caf::atom_constant<caf::atom("drain")>;
/// Leave the fleet at stop: (leave) -> bool.
using leave = caf::atom_constant<caf::atom("leave")>;

// -- session handoff (actors/session_handoff) --------------------------------------------
/// A session the drain moved was resumed on its new owner: (resumed, id).
using resumed = caf::atom_constant<caf::atom("resumed")>;
/// A session the drain moved (or was about to) was closed: (closed, id).
using closed = caf::atom_constant<caf::atom("closed")>;
/// The sessions this node owns now, for the drain to move: (sessions, owned_sessions).
using sessions = caf::atom_constant<caf::atom("sessions")>;

} // namespace baton::atoms
