"""Parts of a mesh a gateway test can take away and give back (not a test module).

- TcpForwarder: 127.0.0.1:<port> → a real server (PostgreSQL, Redis, a user database).
  cut() closes the listener and every open connection, as a network partition or a
  crashed server would look to a client; restore() listens again on the same port.
- HungListener: accepts TCP connections and never says anything (a hung service).
- HealthOnlyServer: a gRPC server that only answers grpc.health.v1 (SERVING), standing
  in for a service whose health is all the monitor asks; stop() and start() again on
  the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

from servers.runtime.server import GrpcServer
from servers.runtime.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                flowing: asyncio.Event | None = None, passes: Callable[[bytes], bool] | None = None) -> None:
    try:
        while data := await reader.read(65536):
            if flowing is not None:
                await flowing.wait()
            if passes is not None and not passes(data):
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class TcpForwarder:
    def __init__(self, target_host: str, target_port: int, *, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    def freeze(self) -> None:
        """Connections stay open and bytes stop moving (a hung server)."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> TcpForwarder:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        tasks = [asyncio.ensure_future(_pipe(reader, up_writer, self._flowing, self._client_check())),
                 asyncio.ensure_future(_pipe(up_reader, writer, self._flowing))]
        self._tasks.update(tasks)
        try:
            await asyncio.gather(*tasks)
        finally:
            self._tasks.difference_update(tasks)
            self._writers.difference_update((writer, up_writer))

    def _client_check(self) -> Callable[[bytes], bool] | None:
        """For a subclass: a check, made per connection (it may keep state), of each chunk
        the client sends; False stops forwarding that connection."""
        return None

    async def cut(self) -> None:
        """Stop listening and drop every connection (clients see resets / EOF)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            with contextlib.suppress(Exception):
                transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.sleep(0)

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()


class HungListener:
    """A TCP port that accepts and then says nothing, ever."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> HungListener:
        async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)
            with contextlib.suppress(Exception):
                while await reader.read(65536):
                    pass

        self._server = await asyncio.start_server(swallow, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()


class HealthOnlyServer:
    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self._server: GrpcServer | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> HealthOnlyServer:
        self._server = GrpcServer(self.settings, [], host="127.0.0.1", port=self.port)
        await self._server.start()
        return self

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace_s=0, drain_delay_s=0)
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None


async def wait_for(predicate, *, timeout_s: float = 20.0, interval_s: float = 0.1, what: str = "condition"):
    """Poll an async predicate until it returns something truthy (a deadline, not a
    timing assert: reconnecting channels and pools take a moment)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last = None
    while loop.time() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"{what} not reached in {timeout_s} s (last: {last!r})")
