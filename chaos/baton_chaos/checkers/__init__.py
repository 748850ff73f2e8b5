"""The checkers: one per workload and one for liveness, each judging a run's history against
the rules of HISTORY.md and returning a verdict. check_all runs them all, so one checker's
bug shows up as that checker's failed verdict instead of losing the whole run's report."""

import traceback

from . import (breaker, cache, dedup, election, events, lease, liveness, rate, secret,
               session, state)

CHECKERS = {
    "lease": lease.check,
    "election": election.check,
    "session": session.check,
    "secret": secret.check,
    "rate": rate.check,
    "dedup": dedup.check,
    "breaker": breaker.check,
    "state": state.check,
    "cache": cache.check,
    "events": events.check,
    "liveness": liveness.check,
}


def check_all(history, faults, config, names=None):
    """Verdicts of the named checkers (all by default), in CHECKERS' order."""
    verdicts = []
    for name, check in CHECKERS.items():
        if names is not None and name not in names:
            continue
        try:
            verdicts.append(check(history or [], faults or [], config or {}))
        except Exception as error:  # a checker bug must not hide the other verdicts
            message = "".join(traceback.format_exception_only(error)).strip()
            verdicts.append({
                "checker": name, "valid": False, "checked": {}, "skipped": [], "measured": {},
                "violations": [{"rule": "checker crashed", "message": message, "events": []}]})
    return verdicts
