"""`batonctl state export` and `import` on 100,000 entries through a real batond and Redis:
every entry comes back with its value, its version and (for those with one) the time it had
left; an export cut short mid-line (as a killed batonctl leaves it) resumes from its last
complete page into the same entries, each once; a second import of the same file changes
nothing. python3-redis writes and reads the entries; batonctl does the export and import.

Usage: state_export_test.py BATOND BATONCTL"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from local_fleet import Checks, free_port, start_batond, start_redis, stop_all  # noqa: E402

ENTRIES = 100_000
BATCH = 1000
CONFIG = """state:
  namespaces:
    - {name: orders}
    - {name: copy}
"""


def entries(client, ns, keys):
    """key -> (value, version, ttl_ms) read with STATE MGET, a batch at a time."""
    out = {}
    for i in range(0, len(keys), BATCH):
        part = keys[i:i + BATCH]
        for key, reply in zip(part, client.execute_command("STATE", "MGET", ns, *part)):
            if reply is not None:
                m = dict(zip(reply[::2], reply[1::2]))
                out[key] = (m[b"value"], int(m[b"version"]), int(m[b"ttl_ms"]))
    return out


def main():
    batond, batonctl = sys.argv[1], sys.argv[2]
    check = Checks()
    procs = []
    work = tempfile.mkdtemp(prefix="baton-state-export-")
    try:
        redis_sock = start_redis(work, procs)
        _, sock, client = start_batond(batond, work, procs, "a", redis_sock, free_port(), CONFIG)

        def ctl(*args):
            return subprocess.run([batonctl, "-s", sock, "--timeout", "60000", *args],
                                  capture_output=True, text=True, timeout=300)

        keys = [f"order-{i:06d}" for i in range(ENTRIES)]
        started = time.monotonic()
        for i in range(0, ENTRIES, BATCH):
            pairs = []
            for key in keys[i:i + BATCH]:
                pairs += [key, f"{{\"id\": \"{key}\", \"n\": {len(key)}}}"]
            client.execute_command("STATE", "MSET", "orders", *pairs)
        # A tenth with a TTL of an hour, and a few binary values.
        pipe = client.pipeline(transaction=False)
        for key in keys[::10]:
            pipe.execute_command("STATE", "SET", "orders", key, "ttl:" + key, "TTL", "3600000")
        pipe.execute_command("STATE", "SET", "orders", keys[1], b"\x00\xff\xfe binary")
        pipe.execute()
        print(f"     wrote {ENTRIES} entries in {time.monotonic() - started:.1f} s")
        before = entries(client, "orders", keys)
        check("all entries written", len(before) == ENTRIES, len(before))

        path = os.path.join(work, "orders.jsonl")
        started = time.monotonic()
        out = ctl("state", "export", "orders", path)
        took = time.monotonic() - started
        print(f"     export took {took:.1f} s: {out.stdout.strip()} {out.stderr.strip()}")
        check("export succeeds", out.returncode == 0, out.stderr)
        check("export says how many", f"exported {ENTRIES} entries" in out.stdout, out.stdout)
        check("the export file is its owner's only", os.stat(path).st_mode & 0o077 == 0,
              oct(os.stat(path).st_mode))
        with open(path, "rb") as f:
            lines = f.read().splitlines()
        check("the file ends with its end line",
              json.loads(lines[-1]) == {"done": True, "entries": ENTRIES}, lines[-1])
        checkpoints = [i for i, line in enumerate(lines) if b'"cursor"' in line]
        check("the export has several checkpoints", len(checkpoints) > 5, len(checkpoints))

        # Cut it mid-line a third of the way in, past a checkpoint: what a killed batonctl
        # leaves. --resume goes on from the last complete page.
        cut = os.path.join(work, "cut.jsonl")
        middle = checkpoints[len(checkpoints) // 3]
        with open(cut, "wb") as f:
            f.write(b"\n".join(lines[:middle + 40]) + b"\n" + lines[middle + 40][:17])
        out = ctl("state", "export", "orders", cut, "--resume")
        check("a resumed export succeeds", out.returncode == 0, out.stderr)
        with open(cut, "rb") as f:
            resumed = [json.loads(line) for line in f.read().splitlines()]
        resumed_keys = [e.get("k") or e.get("k64") for e in resumed if "k" in e or "k64" in e]
        check("the resumed export holds every entry once",
              len(resumed_keys) == ENTRIES and len(set(resumed_keys)) == ENTRIES,
              (len(resumed_keys), len(set(resumed_keys))))
        check("it ends with its end line", resumed[-1] == {"done": True, "entries": ENTRIES},
              resumed[-1])
        out = ctl("state", "export", "orders", cut, "--resume")
        check("resuming a complete export does nothing",
              out.returncode == 0 and "nothing to resume" in out.stdout, out.stdout)

        # Import the resumed file into another namespace: the same entries, versions, TTLs.
        started = time.monotonic()
        out = ctl("state", "import", "copy", cut)
        print(f"     import took {time.monotonic() - started:.1f} s: {out.stdout.strip()}")
        check("import succeeds", out.returncode == 0, out.stderr)
        after = entries(client, "copy", keys)
        same = sum(1 for k, (v, ver, _) in before.items()
                   if k in after and after[k][0] == v and after[k][1] == ver)
        check("every entry comes back with its value and version", same == ENTRIES,
              f"{same} of {ENTRIES}")
        ttl_ok = all(0 < after[k][2] <= before[k][2] and before[k][2] - after[k][2] < 120000
                     for k in keys[::10] if k in after)
        check("an entry with a TTL keeps the time it had left", ttl_ok)
        check("an entry without a TTL has none", after[keys[3]][2] == -1, after[keys[3]])
        check("a binary value survives", after[keys[1]][0] == b"\x00\xff\xfe binary",
              after[keys[1]])
        # Again: the same entries, nothing else.
        out = ctl("state", "import", "copy", cut)
        check("a second import succeeds", out.returncode == 0, out.stderr)
        again = entries(client, "copy", keys)
        check("a second import changes no value or version",
              all(again[k][:2] == after[k][:2] for k in keys), "")
        check("COUNT agrees", client.execute_command("STATE", "COUNT", "copy") == ENTRIES)
        # A compare-and-set on an imported version works, as it did on the original.
        version = after[keys[5]][1]
        check("IFVERSION of an imported version succeeds",
              client.execute_command("STATE", "SET", "copy", keys[5], "x", "IFVERSION",
                                     str(version)) > version)
        out = ctl("state", "import", "copy", os.path.join(work, "redis.log"))
        check("a file that is not an export is refused", out.returncode == 2, out.stderr)
    finally:
        stop_all(procs)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
