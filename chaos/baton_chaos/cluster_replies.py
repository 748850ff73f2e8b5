"""Reading a Redis Cluster node's answers for cluster_group.py: CLUSTER NODES lines, CLUSTER
SLOTS entries and INFO fields, and whether a slot table gives a set of slots to one node.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NodeLine:
    """One line of CLUSTER NODES: "<id> <ip:port@bus> <flags> <primary id or -> ..."."""
    id: str
    port: int
    flags: set
    primary_id: str

    @property
    def healthy(self) -> bool:
        # "fail?" is one node's suspicion, "fail" the cluster's verdict; "handshake" and
        # "noaddr" a node not yet (or no longer) met.
        return not self.flags & {"fail?", "fail", "handshake", "noaddr"}


def parse_nodes(text: str) -> dict[int, NodeLine]:
    out = {}
    for line in str(text).splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        digits = fields[1].split("@")[0].rsplit(":", 1)[-1]
        if digits.isdigit():
            out[int(digits)] = NodeLine(fields[0], int(digits), set(fields[2].split(",")),
                                        fields[3])
    return out


def parse_slots(reply) -> list[tuple[int, int, int]]:
    """CLUSTER SLOTS as (first, last, port of the primary), sorted by slot."""
    if not isinstance(reply, list):
        raise ValueError(f"CLUSTER SLOTS answered {reply!r}")
    table = []
    for entry in reply:
        if not isinstance(entry, list) or len(entry) < 3 or len(entry[2]) < 2:
            raise ValueError(f"CLUSTER SLOTS entry without a primary: {entry!r}")
        table.append((int(entry[0]), int(entry[1]), int(entry[2][1])))
    return sorted(table)


def info_field(info: str, name: str) -> str:
    for line in str(info).splitlines():
        if line.startswith(name + ":"):
            return line[len(name) + 1:].strip()
    return ""


def owns(table, slots, port: int) -> bool:
    """Whether every slot of `slots` (a list of (first, last)) is `port`'s in `table`."""
    return all(not (a <= last and first <= b) or owner == port
               for first, last in slots for a, b, owner in table)
