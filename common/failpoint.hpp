// Failpoints for crash tests: `BATON_FAILPOINTS=secret-after-stage,...` in batond's
// environment makes it kill itself with SIGKILL when it reaches a named point, the way a
// power cut or an OOM kill would stop it there. Unset (always, outside tests), a failpoint
// costs one branch on a flag read once at start.
#pragma once

namespace baton {

/// Dies with SIGKILL if `name` is listed in BATON_FAILPOINTS.
void failpoint(const char* name);

} // namespace baton
