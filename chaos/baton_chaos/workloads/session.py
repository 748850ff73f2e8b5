"""Session workload: each client keeps a few sessions, writes their state (`seq=<n>`, growing)
and reads it back through the node that owns them. It follows `handoff-out` pushes to the new
owner with the pushed token, and when its node dies or cannot reach Redis it resumes the
session on another node with the last token it holds, as an app behind a load balancer
would. After the last fault, every session still open is resumed once more (`final`).
"""
from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Optional

from ..history import op
from ..resp import Indefinite, ReplyError, as_map
from .base import Context, NodeClient, sleep_or_stop

WORKLOAD = "session"


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass
class Session:
    id: str
    token: str
    node: str                 # the owner as this client knows it
    seq: int = 0              # last state write acknowledged
    closed: bool = False
    uncertain: bool = False   # a resume's outcome is unknown: its token may be spent
    failures: int = 0         # calls in a row that got no answer from `node`
    handed_off: bool = False  # a handoff-out came: resume on `node` before anything else
    handoff: asyncio.Event = field(default_factory=asyncio.Event)


async def run(ctx: Context):
    settings = ctx.settings["session"]
    nodes = ctx.nodes()
    tasks = [asyncio.create_task(_Client(ctx, f"session-{i}", nodes[i % len(nodes)],
                                         settings).run())
             for i in range(settings["clients"])]
    await asyncio.gather(*tasks)


def _seq_of(state) -> Optional[int]:
    if isinstance(state, str) and state.startswith("seq="):
        return int(state[4:].split(";", 1)[0])
    return None


class _Client:
    def __init__(self, ctx: Context, process: str, home: str, settings: dict):
        self.ctx, self.process, self.home, self.settings = ctx, process, home, settings
        self.h = ctx.history
        self.rng = ctx.rng(process)
        self.sessions: dict[str, Session] = {}
        self.clients: dict[str, NodeClient] = {}

    # -- connections and pushes -------------------------------------------------------------

    def client(self, node: str) -> NodeClient:
        if node not in self.clients:
            async def watch(conn):
                await conn.call("SESSION", "WATCH", timeout=3.0)

            self.clients[node] = NodeClient(self.ctx, node, resp3=True,
                                            on_push=lambda p, n=node: self.on_push(n, p),
                                            after_open=watch)
        return self.clients[node]

    def on_push(self, node: str, push: list):
        if len(push) < 3 or push[0] != "session":
            return
        s = self.sessions.get(push[2])
        if s is None:
            return
        if push[1] == "handoff-out" and len(push) >= 6:
            # The token is v1.<id>.<epoch>.<nonce>.<kek>.<hmac>: its epoch is the new owner's.
            parts = push[5].split(".")
            epoch = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
            self.h.event(self.process, WORKLOAD, "handoff-out", node,
                         {"id": s.id, "from": node, "target": push[3], "epoch": epoch,
                          "token_id": token_id(push[5])})
            s.token, s.node, s.failures = push[5], push[3], 0
            s.uncertain = False
            s.handed_off = True
            s.handoff.set()
        elif push[1] == "handoff-in" and len(push) >= 4:
            self.h.event(self.process, WORKLOAD, "handoff-in", node,
                         {"id": s.id, "from": push[3]})

    async def conn(self, node: str, limit: float = 3.0):
        try:
            return await asyncio.wait_for(self.client(node).get(), limit)
        except asyncio.TimeoutError:
            raise Indefinite(f"{node} unreachable") from None

    # -- the loop ----------------------------------------------------------------------------

    async def run(self):
        while not self.ctx.stop.is_set() and not self.ctx.final_phase.is_set():
            live = [s for s in self.sessions.values() if not s.closed and not s.uncertain]
            try:
                if len(live) < self.settings["per_client"]:
                    await self.open()
                else:
                    moved = [x for x in live if x.handed_off]
                    s = moved[0] if moved else self.rng.choice(live)
                    roll = self.rng.random()
                    if s.handed_off:
                        # What an app does on handoff-out: reconnect to the new owner and
                        # resume there with the pushed token (the drain waits for it).
                        await self.resume(s, s.node)
                    elif roll < 0.6:
                        await self.write(s)
                    elif roll < 0.99:
                        await self.read(s)
                    else:
                        await self.close(s)
            except (ReplyError, Indefinite):
                pass
            await sleep_or_stop(self.ctx, self.rng.uniform(0.005, 0.03))
        if self.ctx.final_phase.is_set() and not self.ctx.stop.is_set():
            await self.final()
        for c in self.clients.values():
            c.drop()

    async def open(self):
        node = self.home
        try:
            conn = await self.conn(node)
        except Indefinite:
            node = self.rng.choice([n for n in self.ctx.nodes() if n != self.home])
            conn = await self.conn(node)
        try:
            async with op(self.h, self.process, WORKLOAD, "open", node,
                          {"user": self.process}, definite_unavailable=False) as out:
                r = as_map(await conn.call("SESSION", "OPEN", self.process, 600000, timeout=2.0))
                out.value = {"id": r["id"], "token_id": token_id(r["token"]),
                             "owner": r["owner"], "epoch": int(r["epoch"])}
                self.sessions[r["id"]] = Session(r["id"], r["token"], r["owner"])
        except ReplyError as e:
            if e.code == "DRAINING":
                self.home = self.rng.choice([n for n in self.ctx.nodes() if n != node])
            raise

    async def call_owner(self, s: Session, f: str, value: dict, *args, out_of=None):
        """Calls the session's owner; counts the calls without an answer, and after a few
        moves the session to another node with its last token."""
        if s.uncertain:
            raise Indefinite("token unknown")
        try:
            conn = await self.conn(s.node, limit=2.0)
        except Indefinite:
            await self.fail_over(s)
            raise
        try:
            async with op(self.h, self.process, WORKLOAD, f, s.node, value,
                          definite_unavailable=(f == "read")) as out:
                reply = await conn.call(*args, timeout=2.0)
                out.value = out_of(reply)
                s.failures = 0
                return reply
        except ReplyError as e:
            if e.code == "MOVED":
                await self.follow_move(s, str(e))
            elif e.code == "UNAVAILABLE":
                s.failures += 1
                if s.failures >= 3:
                    await self.fail_over(s)
            raise
        except Indefinite:
            self.client(s.node).drop()
            s.failures += 1
            if s.failures >= 2:
                await self.fail_over(s)
            raise

    async def write(self, s: Session):
        seq = s.seq + 1

        def out_of(r):
            return {"state_version": int(as_map(r)["state_version"])}

        await self.call_owner(s, "write", {"id": s.id, "seq": seq}, "SESSION", "STATE", s.id,
                              "SET", f"seq={seq}", out_of=out_of)
        s.seq = seq

    async def read(self, s: Session):
        def out_of(r):
            m = as_map(r)
            return {"seq": _seq_of(m.get("state")), "state_version": int(m["state_version"])}

        await self.call_owner(s, "read", {"id": s.id}, "SESSION", "STATE", s.id, out_of=out_of)

    async def close(self, s: Session):
        def out_of(r):
            return {"closed": int(r)}

        r = await self.call_owner(s, "close", {"id": s.id}, "SESSION", "CLOSE", s.id,
                                  out_of=out_of)
        s.closed = True
        if int(r) != 1:
            pass  # the checker sees closed 0: it was gone already

    # -- moving a session --------------------------------------------------------------------

    async def follow_move(self, s: Session, error: str):
        """-MOVED: the owner changed. A drain's handoff-out push should bring the new token; if
        none comes, resume where the error points with the token held (an adoption keeps it)."""
        s.handoff.clear()
        try:
            await asyncio.wait_for(s.handoff.wait(), 1.0)
            await self.resume(s, s.node)
            return
        except asyncio.TimeoutError:
            pass
        words = error.split()
        target = words[words.index("node") + 1] if "node" in words[:-1] else s.node
        if target in self.ctx.fleet.daemons:
            await self.resume(s, target)

    async def fail_over(self, s: Session):
        others = [n for n in self.ctx.nodes() if n != s.node]
        self.rng.shuffle(others)
        for node in others:
            try:
                await self.resume(s, node)
                return
            except ReplyError:
                return  # refused: the token is stale; a handoff push may still bring one
            except Indefinite:
                if s.uncertain:
                    return
                continue

    async def resume(self, s: Session, node: str, final: bool = False):
        conn = await self.conn(node, limit=2.0)
        try:
            async with op(self.h, self.process, WORKLOAD, "resume", node,
                          {"id": s.id, "token_id": token_id(s.token), "final": final},
                          definite_unavailable=False) as out:
                reply = None
                for attempt in range(2):
                    try:
                        reply = await conn.call("SESSION", "RESUME", s.token, timeout=2.0)
                        break
                    except ReplyError as e:
                        # UNKNOWN: the resume may have happened. The same RESUME sent again to
                        # the same node is answered as the first was (protocol/API.md).
                        if e.code != "UNKNOWN" or attempt == 1:
                            raise
                r = as_map(reply)
                out.value = {"owner": r["owner"], "epoch": int(r["epoch"]),
                             "seq": _seq_of(r.get("state")),
                             "state_version": int(r["state_version"]),
                             "token_id": token_id(r["token"])}
                s.token, s.node, s.failures = r["token"], r["owner"], 0
                s.handed_off = False
        except Indefinite:
            # The resume may have spent the token: this client cannot resume it any more.
            s.uncertain = True
            self.h.event(self.process, WORKLOAD, "unknown-token", node, {"id": s.id})
            raise
        except ReplyError as e:
            s.handed_off = False  # refused: the checker judges it; no resuming in a loop
            if e.code in ("UNAVAILABLE", "UNKNOWN"):
                s.uncertain = True
                self.h.event(self.process, WORKLOAD, "unknown-token", node, {"id": s.id})
            raise

    async def final(self):
        """After the last fault: every open session must resume with the token its client
        holds (on a node chosen at random)."""
        for s in list(self.sessions.values()):
            if s.closed or s.uncertain:
                continue
            node = self.rng.choice(self.ctx.nodes())
            try:
                await self.resume(s, node, final=True)
            except (ReplyError, Indefinite):
                pass  # recorded: the checker judges it
