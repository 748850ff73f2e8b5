#!/usr/bin/python3
"""A WebSocket server whose clients survive a deploy: each connection is a baton session, its
counter lives in the session's state, and when this host's batond drains (NODE DRAIN, or
SIGTERM while it owns sessions) the server tells each client, in one line, where to go:

    reconnect to <address> with <token>

The client connects to that address and sends `resume <token>`; the server there resumes the
session through its own batond and the counter is where it was. Set each batond's
`membership.address` to the address its server is reached at (here host:port), since that is
what a handoff names.

Protocol, one text message each way:
    open <user>      -> ok <session id> <count>
    resume <token>   -> ok <session id> <count>    (or: error <why>)
    bump             -> count <n>                  (or: error <why>)
    anything else first -> error <why>, then the server closes the socket (1008)
and, unasked: reconnect to <address> with <token>, after which the server closes the socket.

Usage: ws_handoff_server.py --socket /run/baton/baton.sock --port 8765
(python3-websockets 10.4 and asyncio; Debian: python3-websockets python3-redis)"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from baton import BatonError, HandoffOut, Moved  # noqa: E402
from baton.aio import AsyncBaton  # noqa: E402

log = logging.getLogger("ws_handoff_server")
HANDOFF_PATIENCE_S = 10.0  # how long a socket whose session moved waits for its handoff line


class Server:
    def __init__(self, baton: AsyncBaton) -> None:
        self.baton = baton
        self.connected: dict[str, websockets.WebSocketServerProtocol] = {}  # session id ->

    async def serve_one(self, socket: websockets.WebSocketServerProtocol) -> None:
        session_id = None
        try:
            try:
                session_id, count = await self.start(await socket.recv())
            except (BatonError, ValueError) as error:  # a bad first line, a refused token
                await socket.send(f"error {error}")
                await socket.close(1008, "open or resume first")
                return
            self.connected[session_id] = socket
            await socket.send(f"ok {session_id} {count}")
            async for message in socket:
                if message != "bump":
                    await socket.send("error unknown message")
                    continue
                try:
                    await self.baton.session_state_set(session_id, str(count + 1))
                except Moved:
                    # Handed over meanwhile (a drain): follow_handoffs tells this client
                    # where to reconnect and closes the socket. Leave it to that.
                    await self.wait_for_handoff(socket, session_id)
                    return
                except BatonError as error:
                    await socket.send(f"error {error}")
                    continue
                count += 1
                await socket.send(f"count {count}")
        except websockets.ConnectionClosed:
            pass  # the client left, or follow_handoffs closed the socket after its line
        finally:
            if session_id is not None and self.connected.get(session_id) is socket:
                del self.connected[session_id]

    async def wait_for_handoff(self, socket: websockets.WebSocketServerProtocol,
                               session_id: str) -> None:
        """The session moved to another node: its handoff-out names where, and
        follow_handoffs passes it on and closes the socket. Should that not come (no token
        for this uid, the follower gone), the client is told the session moved, and the
        socket closes."""
        try:
            await asyncio.wait_for(socket.wait_closed(), HANDOFF_PATIENCE_S)
            return
        except asyncio.TimeoutError:
            pass
        if self.connected.get(session_id) is socket:  # follow_handoffs did not take it
            del self.connected[session_id]
            await socket.send("error the session moved to another node; open a new one")
            await socket.close(1001, "session moved")

    async def start(self, first: str | bytes) -> tuple[str, int]:
        verb, _, argument = str(first).partition(" ")
        if verb == "open":
            opened = await self.baton.session_open(argument or "anonymous")
            await self.baton.session_state_set(opened.id, "0")
            return opened.id, 0
        if verb == "resume":
            resumed = await self.baton.session_resume(argument)
            return resumed.id, int(resumed.state or b"0")
        raise ValueError(f"expected open or resume, got {verb!r}")

    async def follow_handoffs(self) -> None:
        """Tells each client whose session this node hands over where to reconnect."""
        follower = await self.baton.follow_sessions()
        async with follower:
            async for handoff in follower:
                if not isinstance(handoff, HandoffOut) or handoff.token is None:
                    continue
                socket = self.connected.pop(handoff.id, None)
                if socket is None:
                    continue
                log.info("session %s moves to %s", handoff.id, handoff.target_address)
                try:
                    await socket.send(f"reconnect to {handoff.target_address} "
                                      f"with {handoff.token}")
                    await socket.close()
                except websockets.ConnectionClosed:
                    pass  # the client resumes with its previous token (API.md, RESUME)
        log.warning("the session follower ended: %r", follower.error)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--socket", default=None, help="batond's socket ($BATON_SOCKET)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    async with AsyncBaton(options.socket) as baton:
        server = Server(baton)
        following = asyncio.create_task(server.follow_handoffs())
        async with websockets.serve(server.serve_one, options.host, options.port):
            log.info("serving on %s:%d", options.host, options.port)
            await following  # ends when this node's batond is gone
            await asyncio.Future()  # then keep serving what is connected until stopped


if __name__ == "__main__":
    asyncio.run(main())
