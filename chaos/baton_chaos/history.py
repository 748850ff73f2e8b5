"""The history of a run: every operation's invoke and completion, and events, as JSON lines
on one monotonic clock (chaos/HISTORY.md). Workloads record through `History.op`, which
turns a client's answer, a definite error or an unknown outcome into ok, fail or info.
"""
from __future__ import annotations

import contextlib
import json
import time
from typing import Optional

from .resp import Indefinite, ReplyError

# Errors whose request certainly did not take effect. -UNAVAILABLE is not among them: for a
# state-changing verb it may mean "done" (the reply was lost, not the request).
DEFINITE_CODES = {"ERR", "DENIED", "LOST", "NOTHELD", "NOPERM", "REFUSED", "MOVED", "DRAINING",
                  "BUSY", "WRONGTYPE", "NOPROTO", "CONFLICT"}


class History:
    def __init__(self, path: Optional[str], t0: Optional[float] = None):
        self.t0 = time.monotonic() if t0 is None else t0
        self.events: list[dict] = []
        self.file = open(path, "w") if path else None
        self.next_op = 1
        self.open_ops: dict[int, dict] = {}
        self.unexpected = 0  # replies of a shape no workload expected

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _write(self, e: dict):
        self.events.append(e)
        if self.file:
            self.file.write(json.dumps(e, separators=(",", ":")) + "\n")

    def invoke(self, process: str, workload: str, f: str, node: Optional[str], value: dict) -> dict:
        e = {"t": round(self.now(), 6), "type": "invoke", "op": self.next_op, "process": process,
             "workload": workload, "f": f, "node": node, "value": value}
        self.next_op += 1
        self.open_ops[e["op"]] = e
        self._write(e)
        return e

    def complete(self, inv: dict, type_: str, value: dict) -> dict:
        self.open_ops.pop(inv["op"], None)
        e = {"t": round(self.now(), 6), "type": type_, "op": inv["op"], "process": inv["process"],
             "workload": inv["workload"], "f": inv["f"], "node": inv["node"], "value": value}
        self._write(e)
        return e

    def event(self, process: str, workload: str, f: str, node: Optional[str], value: dict):
        self._write({"t": round(self.now(), 6), "type": "event", "op": None, "process": process,
                     "workload": workload, "f": f, "node": node, "value": value})

    def close(self):
        # Every invoke gets a completion: what the run's end cut off is unknown.
        for inv in list(self.open_ops.values()):
            self.complete(inv, "info", {**_ids(inv["value"]), "error": "the run ended first"})
        if self.file:
            self.file.close()
            self.file = None


def _ids(value: dict) -> dict:
    return {k: value[k] for k in ("name", "id", "key", "group", "policy", "token", "seq", "term",
                                  "result", "value")
            if k in value}


class Outcome:
    """What `op` hands the workload: set `value` to the answer's fields for the ok record;
    an exception instead makes the record fail or info."""

    def __init__(self):
        self.value: dict = {}
        self.type = "ok"


@contextlib.asynccontextmanager
async def op(history: History, process: str, workload: str, f: str, node: Optional[str],
             value: dict, *, definite_unavailable: bool = False):
    """Records invoke, then ok with `outcome.value`, or fail/info from the exception.
    ReplyError is a fail when its code is definite; `definite_unavailable` makes -UNAVAILABLE
    a fail too (for reads, and for the verbs the API says changed nothing)."""
    inv = history.invoke(process, workload, f, node, value)
    out = Outcome()
    try:
        yield out
    except ReplyError as e:
        definite = e.code in DEFINITE_CODES or (definite_unavailable and e.code == "UNAVAILABLE")
        history.complete(inv, "fail" if definite else "info",
                         {**_ids(value), **out.value, "error": str(e)})
        raise
    except Indefinite as e:
        history.complete(inv, "info", {**_ids(value), **out.value, "error": str(e)})
        raise
    except (ValueError, KeyError, TypeError, IndexError) as e:
        # A reply of a shape the workload did not expect: recorded (the run's counts show
        # it), and the workload goes on as after an unknown outcome.
        history.unexpected += 1
        history.complete(inv, "info", {**_ids(value), **out.value,
                                       "error": f"unexpected reply: {e!r}"})
        raise Indefinite(f"unexpected reply: {e!r}") from None
    else:
        history.complete(inv, out.type, {**_ids(value), **out.value})
