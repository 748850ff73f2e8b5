"""Tests of the fault proxy against a tiny echo server standing in for Redis. Delays are
checked with lower bounds only and waits are generous, so a loaded machine makes the tests
slower, not flaky. Run: cd chaos && /usr/bin/python3 -m unittest tests.test_proxy -v
"""
import asyncio
import random
import time
import unittest

from baton_chaos.proxy import FaultProxy

PATIENCE_S = 10.0  # upper bound for anything that should happen "soon"


class EchoServer:
    """Upstream stand-in: echoes every byte and remembers what it received and how many of
    its connections are open."""

    def __init__(self):
        self.received = bytearray()
        self.writers = set()
        self.accepted = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def handle(self, reader, writer):
        self.accepted += 1
        self.writers.add(writer)
        try:
            while data := await reader.read(65536):
                self.received += data
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    @property
    def open(self) -> int:
        return len(self.writers)

    async def stop(self):
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()


async def eventually(predicate, what: str):
    deadline = time.monotonic() + PATIENCE_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {PATIENCE_S}s: {what}")
        await asyncio.sleep(0.01)


class ProxyTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.echo = EchoServer()
        self.echo_port = await self.echo.start()
        self.proxy = FaultProxy("127.0.0.1", self.echo_port, name="test", seed=1)
        self.port = await self.proxy.start()
        self.clients = []

    async def asyncTearDown(self):
        for writer in self.clients:
            writer.close()
        await self.proxy.stop()
        await self.echo.stop()

    async def connect(self, port=None):
        reader, writer = await asyncio.open_connection("127.0.0.1", port or self.port)
        self.clients.append(writer)
        return reader, writer

    async def roundtrip(self, reader, writer, payload: bytes) -> float:
        """Seconds from sending payload until its echo is back."""
        start = time.monotonic()
        writer.write(payload)
        echoed = await asyncio.wait_for(reader.readexactly(len(payload)), PATIENCE_S)
        self.assertEqual(echoed, payload)
        return time.monotonic() - start

    async def assert_closed_by_peer(self, reader):
        try:
            rest = await asyncio.wait_for(reader.read(65536), PATIENCE_S)
        except ConnectionResetError:
            return
        self.assertEqual(rest, b"", "expected the proxy to close the connection")

    async def assert_silent(self, reader, seconds=0.3):
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), seconds)

    # -- pass -------------------------------------------------------------------------------

    async def test_pass_forwards_both_ways(self):
        reader, writer = await self.connect()
        await self.roundtrip(reader, writer, b"PING\r\n")
        big = random.Random(0).randbytes(1 << 20)  # many chunks each way
        await self.roundtrip(reader, writer, big)
        stats = self.proxy.stats()
        total = len(big) + 6
        self.assertEqual(stats["bytes_to_upstream"], total)
        self.assertEqual(stats["bytes_to_client"], total)
        self.assertEqual((stats["accepted"], stats["open"], stats["mode"]), (1, 1, "pass"))

    async def test_client_close_closes_upstream(self):
        reader, writer = await self.connect()
        await self.roundtrip(reader, writer, b"x")
        writer.close()
        await eventually(lambda: self.echo.open == 0, "upstream side closed")
        await eventually(lambda: self.proxy.stats()["open"] == 0, "link forgotten")

    async def test_listen_on_localhost(self):
        proxy = FaultProxy("localhost", self.echo_port, listen_host="localhost")
        port = await proxy.start()
        try:
            reader, writer = await self.connect(port)
            await self.roundtrip(reader, writer, b"hello")
        finally:
            await proxy.stop()

    # -- slow -------------------------------------------------------------------------------

    async def test_slow_delays_each_way_and_keeps_order(self):
        old_reader, old_writer = await self.connect()
        t = await self.proxy.set_mode("slow", delay_ms=150)
        self.assertLessEqual(t, time.monotonic())
        new_reader, new_writer = await self.connect()
        for reader, writer in ((old_reader, old_writer), (new_reader, new_writer)):
            self.assertGreaterEqual(await self.roundtrip(reader, writer, b"PING"), 0.300)
        sent = bytearray()
        for i in range(20):  # spaced out so the proxy reads them as separate chunks
            message = b"%03d;" % i
            new_writer.write(message)
            sent += message
            await asyncio.sleep(0.005)
        echoed = await asyncio.wait_for(new_reader.readexactly(len(sent)), PATIENCE_S)
        self.assertEqual(echoed, bytes(sent))
        self.assertGreaterEqual(self.proxy.stats()["chunks_delayed"], 4)

    async def test_heal_after_slow_delivers_held_chunks_first(self):
        reader, writer = await self.connect()
        await self.proxy.set_mode("slow", delay_ms=300)
        start = time.monotonic()
        writer.write(b"first;")
        await eventually(lambda: self.proxy.stats()["chunks_delayed"] == 1, "first held")
        healed = await self.proxy.set_mode("pass")
        self.assertGreaterEqual(healed - start, 0.300, "heal waits for held chunks")
        writer.write(b"second;")
        echoed = await asyncio.wait_for(reader.readexactly(13), PATIENCE_S)
        self.assertEqual(echoed, b"first;second;")

    # -- partition --------------------------------------------------------------------------

    async def test_partition_blackholes_then_heal_closes_survivors(self):
        old_reader, old_writer = await self.connect()
        await self.roundtrip(old_reader, old_writer, b"before;")
        await self.proxy.set_mode("partition")
        old_writer.write(b"lost-old;")
        await self.assert_silent(old_reader)
        # A connection made during the partition is accepted, but nothing reaches upstream.
        new_reader, new_writer = await self.connect()
        new_writer.write(b"lost-new;")
        await self.assert_silent(new_reader)
        self.assertEqual(self.echo.accepted, 1)

        await self.proxy.set_mode("pass")
        await self.assert_closed_by_peer(old_reader)
        await self.assert_closed_by_peer(new_reader)
        await eventually(lambda: self.echo.open == 0, "upstream side of survivors closed")
        reader, writer = await self.connect()
        await self.roundtrip(reader, writer, b"after;")
        self.assertEqual(bytes(self.echo.received), b"before;after;", "dropped, not buffered")
        stats = self.proxy.stats()
        self.assertEqual(stats["closed_by_heal"], 2)
        self.assertGreaterEqual(stats["chunks_dropped"], 2)
        self.assertEqual(stats["open"], 1)

    async def test_partition_does_not_carry_a_close(self):
        reader, writer = await self.connect()
        await self.roundtrip(reader, writer, b"x")
        await self.proxy.set_mode("partition")
        writer.close()
        await asyncio.sleep(0.3)
        self.assertEqual(self.echo.open, 1, "upstream must not hear the close")
        await self.proxy.set_mode("pass")
        await eventually(lambda: self.echo.open == 0, "closed at heal")

    async def test_partition_drops_held_chunks(self):
        reader, writer = await self.connect()
        await self.proxy.set_mode("slow", delay_ms=300)
        writer.write(b"held;")
        await eventually(lambda: self.proxy.stats()["chunks_delayed"] == 1, "held")
        await self.proxy.set_mode("partition")
        await asyncio.sleep(0.5)
        self.assertEqual(bytes(self.echo.received), b"")

    # -- lossy ------------------------------------------------------------------------------

    async def test_lossy_stall_delays(self):
        reader, writer = await self.connect()
        await self.proxy.set_mode("lossy", stall_prob=1.0, stall_ms=150)
        self.assertGreaterEqual(await self.roundtrip(reader, writer, b"PING"), 0.300)
        await self.roundtrip(reader, writer, b"second")
        self.assertGreaterEqual(self.proxy.stats()["chunks_delayed"], 4)

    async def test_lossy_reset_closes_both_sides(self):
        reader, writer = await self.connect()
        await self.roundtrip(reader, writer, b"before;")
        await self.proxy.set_mode("lossy", reset_prob=1.0)
        writer.write(b"doomed;")
        await self.assert_closed_by_peer(reader)
        await eventually(lambda: self.echo.open == 0, "upstream side reset")
        self.assertEqual(bytes(self.echo.received), b"before;")
        self.assertEqual(self.proxy.stats()["chunks_reset"], 1)

    async def test_same_seed_same_decisions(self):
        async def delayed_with_seed(seed: int) -> int:
            proxy = FaultProxy("127.0.0.1", self.echo_port, seed=seed)
            port = await proxy.start()
            try:
                await proxy.set_mode("lossy", stall_prob=0.5, stall_ms=10)
                reader, writer = await self.connect(port)
                for i in range(16):  # one chunk each way per round trip
                    await self.roundtrip(reader, writer, b"%02d" % i)
                return proxy.stats()["chunks_delayed"]
            finally:
                await proxy.stop()

        first = await delayed_with_seed(7)
        self.assertTrue(0 < first < 32, first)
        self.assertEqual(await delayed_with_seed(7), first)

    # -- configuration and lifecycle --------------------------------------------------------

    def test_refuses_non_loopback_hosts(self):
        for host in ("10.0.0.1", "0.0.0.0", "192.168.1.2", "example.com", "::1", ""):
            with self.subTest(host=host), self.assertRaises(ValueError):
                FaultProxy(host, 6379)
        with self.assertRaises(ValueError):
            FaultProxy("127.0.0.1", 6379, listen_host="0.0.0.0")
        FaultProxy("127.0.0.2", 6379, listen_host="localhost")  # accepted

    async def test_refuses_bad_modes(self):
        for mode, params in (("flaky", {}), ("slow", {}), ("slow", {"delay_ms": -1}),
                             ("lossy", {"stall_prob": 2}), ("lossy", {"stall_ms": "x"}),
                             ("pass", {"delay_ms": 1})):
            with self.subTest(mode=mode, params=params), self.assertRaises(ValueError):
                await self.proxy.set_mode(mode, **params)
        self.assertEqual(self.proxy.stats()["mode"], "pass")

    async def test_upstream_down_closes_client(self):
        await self.echo.stop()
        with self.assertLogs("baton_chaos.proxy", "WARNING"):
            reader, writer = await self.connect()
            await self.assert_closed_by_peer(reader)
        self.assertEqual(self.proxy.stats()["upstream_connect_failures"], 1)

    async def test_stop_closes_everything(self):
        readers = []
        for _ in range(2):
            reader, writer = await self.connect()
            await self.roundtrip(reader, writer, b"x")
            readers.append(reader)
        await self.proxy.set_mode("slow", delay_ms=1000)
        self.clients[0].write(b"held")
        await eventually(lambda: self.proxy.stats()["chunks_delayed"] == 1, "held")
        await self.proxy.stop()
        for reader in readers:
            await self.assert_closed_by_peer(reader)
        await eventually(lambda: self.echo.open == 0, "upstream sides closed")
        self.assertEqual(self.proxy.stats()["open"], 0)
        with self.assertRaises(OSError):
            await self.connect()


if __name__ == "__main__":
    unittest.main()
