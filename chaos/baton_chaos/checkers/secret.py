"""Checks the secret workload (HISTORY.md, "secret"): a daemon never serves an older version
after a newer one, a version has one value, and a value GET served keeps verifying until its
version was replaced and the grace window ran out. Secrets live in Redis, so comparisons
across a data-loss window are exempt."""

from collections import defaultdict

from .common import (INF, LossWindows, Verdict, collect, earlier_best, fmt_t, integer, label,
                     section)

OP_FS = ("get", "verify", "rotate")
BACKWARDS = "served version went backwards"
ONE_VALUE = "one value per version"
REFUSED = "verify refused"


def check(history, faults, config):
    load = collect(history, "secret")
    verdict = Verdict("secret", ("gets", "verifies", "rotations", "unknown", "malformed",
                                 "incomplete"))
    if not load:
        verdict.skip("no secret operations")
        return verdict.result()
    verdict.count("gets", sum(1 for op in load.of("get") if op.ok))
    verdict.count("verifies", sum(1 for op in load.of("verify") if op.ok))
    verdict.count("rotations", sum(1 for op in load.of("rotate") if op.ok))
    verdict.count("unknown", load.unknown(OP_FS))
    verdict.count("malformed", load.malformed)
    verdict.count("incomplete", load.incomplete)

    grace_ms = section(config, "secret").get("grace_ms")
    if integer(grace_ms) is None:
        grace_ms = 0
        verdict.skip(f"{REFUSED}: no secret.grace_ms in the config; assumed 0, so only "
                     "refusals of a version nothing could have replaced are judged")
    verdict.measured.update(grace_ms=integer(grace_ms), gets_after_loss=0, values_exempt=0,
                            verify_matches=0, refusals_judged=0, refusals_after_grace=0,
                            refusals_of_unknown_values=0, verifies_after_loss=0)
    losses = LossWindows(faults)
    by_name = defaultdict(list)
    for op in load.ops:
        if op.ident("name") is not None:
            by_name[str(op.ident("name"))].append(op)
    for name, ops in sorted(by_name.items()):
        gets = [op for op in ops if op.f == "get" and op.ok and version_of(op) is not None]
        check_versions(verdict, name, gets, losses)
        check_values(verdict, name, gets, losses)
        check_verifies(verdict, name, ops, gets, integer(grace_ms) / 1000, losses)
    verdict.skip_counted("gets_after_loss", BACKWARDS,
                         "GET(s) after a data-loss window compared only with GETs since it")
    verdict.skip_counted("values_exempt", ONE_VALUE,
                         "GET(s) during a data-loss window not compared, nor GETs across one")
    verdict.skip_counted("verifies_after_loss", REFUSED,
                         "refusal(s) during or after a data-loss window not judged")
    return verdict.result()


def version_of(op):
    return integer(op.result.get("version"))


def check_versions(verdict, name, gets, losses):
    by_node = defaultdict(list)
    for op in gets:
        by_node[op.node].append(op)
    for node, served in sorted(by_node.items(), key=lambda item: str(item[0])):
        verdict.measured["gets_after_loss"] += sum(
            1 for op in served if losses.floor(op.t1) > -INF)
        for op, best in earlier_best(served, served, version_of, losses):
            if best is not None and version_of(op) < version_of(best):
                verdict.violate(BACKWARDS, f"'{name}' on {node}: {op.describe()} served "
                                f"version {version_of(op)} after {best.describe()} had served "
                                f"version {version_of(best)}", [best, op])


def check_values(verdict, name, gets, losses):
    first = {}
    for op in sorted(gets, key=lambda op: op.t1):
        stretch = losses.epoch(op.t0, op.t1)
        if stretch is None:
            verdict.measured["values_exempt"] += 1
            continue
        earlier = first.setdefault((stretch, version_of(op)), op)
        if earlier.result.get("value_id") != op.result.get("value_id"):
            verdict.violate(ONE_VALUE, f"'{name}' version {version_of(op)} had two values: "
                            f"{earlier.result.get('value_id')} ({earlier.describe()}) and "
                            f"{op.result.get('value_id')} ({op.describe()})", [earlier, op])


def check_verifies(verdict, name, ops, gets, grace_s, losses):
    served = defaultdict(set)
    for op in gets:
        served[version_of(op)].add(label(op.result.get("value_id")))
    first_seen = {}
    for op in ops:
        version = version_of(op) if op.ok and op.f in ("get", "rotate", "verify") else None
        if version is not None:
            first_seen[version] = min(first_seen.get(version, INF), op.t0)
    rotations = [op for op in ops if op.f == "rotate"]
    for op in (o for o in ops if o.f == "verify" and o.ok):
        match = integer(op.result.get("match"))
        if match != 0:
            verdict.measured["verify_matches"] += 1 if match == 1 else 0
            continue
        version, value_id = integer(op.args.get("version")), label(op.args.get("value_id"))
        if version is None or value_id not in served.get(version, ()):
            verdict.measured["refusals_of_unknown_values"] += 1
            continue
        if losses.touching(first_seen.get(version, op.t0), op.t1):
            # Redis lost the version between its first sight and this verify: judged no more.
            verdict.measured["verifies_after_loss"] += 1
            continue
        replacer = replaced_by(rotations, version, first_seen.get(version, INF))
        replaced_at = replacer.t0 if replacer else INF
        if op.t0 >= replaced_at + grace_s:
            verdict.measured["refusals_after_grace"] += 1
            continue
        verdict.measured["refusals_judged"] += 1
        why = (f"version {version + 1} could not exist before {fmt_t(replaced_at)} "
               f"({replacer.describe()}), and grace lasts {grace_s:.3f}s after that"
               if replacer else f"nothing could have replaced version {version}")
        verdict.violate(REFUSED, f"'{name}': {op.describe()} refused version {version} "
                        f"(value {value_id}), which GET served; {why}",
                        [replacer, op] if replacer else [op])


def replaced_by(rotations, version, seen_at):
    """The rotation invoked earliest among those that could have made version + 1: one that
    answered it, or one whose outcome is not known and was still running once version was
    seen (conservative: the earlier, the more refusals are allowed). A rotation that failed
    for certain made nothing."""
    could = [op for op in rotations
             if (op.ok and version_of(op) == version + 1)
             or (op.type == "info" and op.t1 >= seen_at)]
    return min(could, key=lambda op: op.t0, default=None)
