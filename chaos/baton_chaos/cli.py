"""`chaos/run`'s command line: parses the flags, picks an output directory, runs."""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile

from . import faults as faults_mod

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def duration(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 5m)")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    return float(m.group(1)) * scale


def parse(argv: list[str]):
    from .runner import WORKLOADS
    p = argparse.ArgumentParser(
        prog="chaos/run",
        description="Runs batond daemons against a private redis-server under a seeded "
                    "schedule of faults, records every operation, checks the history. "
                    "Exit 0: no violation; 1: a violation (or a fault that could not be "
                    "applied); 2: bad flags.")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=duration, default=duration("60s"),
                   help="how long the workloads run (e.g. 90s, 5m; default 60s)")
    p.add_argument("--faults", default="all",
                   help="comma-separated mixes or fault kinds; mixes: "
                        + ", ".join(f"{k} ({'/'.join(v) or 'no faults'})"
                                    for k, v in faults_mod.MIXES.items() if k != "all")
                        + "; all = every mix but data-loss (default). With --redis sentinel: "
                        + ", ".join(f"{k} ({'/'.join(v) or 'no faults'})"
                                    for k, v in faults_mod.SENTINEL_MIXES.items()
                                    if k not in ("all", "redis"))
                        + "; redis = sentinel; all = every one of these. With --redis cluster: "
                        + ", ".join(f"{k} ({'/'.join(v) or 'no faults'})"
                                    for k, v in faults_mod.CLUSTER_MIXES.items()
                                    if k not in ("all", "redis"))
                        + "; redis = cluster; all = every one of these")
    p.add_argument("--redis", default="single", metavar="TOPOLOGY",
                   help="single: one redis-server (default); sentinel: a primary, two "
                        "replicas and three sentinels; cluster: a Redis Cluster of three "
                        "primaries with two replicas each. On both, durable writes WAIT for a "
                        "replica")
    p.add_argument("--daemons", type=int, default=3)
    p.add_argument("--out", help="output directory (default: a new /tmp/baton-chaos-*)")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help="comma-separated, of: " + ", ".join(WORKLOADS))
    p.add_argument("--batond", default=os.path.join(REPO, "build", "batond"))
    p.add_argument("--bug", action="append", default=[],
                   help="break a promise on purpose (BATON_CHAOS_BUGS in the daemons' "
                        "environment; see common/chaos_bugs.cpp); repeatable")
    p.add_argument("--schedule", metavar="FAULTS",
                   help="instead of a seeded schedule, these faults in order, separated by "
                        "';': KIND[@TARGET][:HOLD_S], e.g. 'partition@d1:3; drain@d1'")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a workload setting, e.g. lease.stall_probability=0.3")
    p.add_argument("--expect-violation", metavar="CHECKER:RULE",
                   help="exit 0 only if the checker reports this rule broken (for --bug)")
    args = p.parse_args(argv)
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in args.workloads:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r}")
    if not 2 <= args.daemons <= 9:
        p.error("--daemons must be 2 to 9")
    if args.redis not in faults_mod.TOPOLOGIES:
        p.error(f"--redis must be single, sentinel or cluster, not {args.redis!r}")
    try:
        faults_mod.parse_mix(args.faults, args.redis)
        if args.schedule:
            faults_mod.parse_schedule(args.schedule, [f"d{i}" for i in range(1, args.daemons + 1)],
                                      redis=args.redis)
    except ValueError as e:
        p.error(str(e))
    if not os.access(args.batond, os.X_OK):
        p.error(f"no batond at {args.batond} (build first, or pass --batond)")
    if not args.out:
        args.out = tempfile.mkdtemp(prefix="baton-chaos-")
    args.out = os.path.abspath(args.out)
    return args


def main(argv=None) -> int:
    from .runner import run
    return run(parse(sys.argv[1:] if argv is None else argv))
