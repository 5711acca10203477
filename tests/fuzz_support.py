"""Shared pieces of the fuzz tests of training, registry and connector (not a test
module): malformed strings, raw wire bytes, and running a call to its status.

Every fuzz test asserts the same things of each answer: the code is one a caller can act
on (never INTERNAL, UNKNOWN, or RESOURCE_EXHAUSTED from a status too big for the
headers), a failure has a message, and the message quotes little of what was sent."""

from __future__ import annotations

import asyncio
import random

import grpc

# What a malformed request may get. RESOURCE_EXHAUSTED is left out on purpose: here it
# could only be the client refusing a status whose headers outgrew its limit.
ALLOWED = frozenset({
    grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS,
})
MAX_DETAILS_CHARS = 2000
HUGE = 20_000


def odd_string(rng: random.Random, good: str = "") -> str:
    """`good` most of the time, otherwise a string a careless server trips over."""
    if rng.random() < 0.6:
        return good
    return rng.choice([
        "", "\x00", f"{good}\x00", "a\x00b", "x" * HUGE, "ä" * 3000, "ß漢字🙂",
        "\u202egnp.exe", "../../etc/passwd", "/etc/passwd", "' OR 1=1 --", "%s%n", "\r\n", " ", "NULL",
        good.upper(), good + "\n",
    ])


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        bits, n = n & 0x7F, n >> 7
        if n:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def length_delimited(field: int, payload: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def deep_value(depth: int) -> bytes:
    """A google.protobuf.Value nested `depth` Structs deep, as wire bytes (the Python
    protobuf runtime refuses to build one that deep)."""
    value = length_delimited(3, b"x")  # Value.string_value
    for _ in range(depth):
        value = length_delimited(5, length_delimited(1, length_delimited(1, b"a") + length_delimited(2, value)))
    return value


def garbage(rng: random.Random) -> bytes:
    """Bytes that are not a valid message of any of our request types (mostly)."""
    return rng.choice([
        b"\xff" * rng.randint(1, 8),                       # a tag with no end
        b"\x0a\x05ab",                                     # string field cut short
        b"\x0a\x02\xc3\x28",                               # string field with invalid UTF-8
        b"\x0a" + varint(2**40) + b"x",                    # absurd length
        rng.randbytes(rng.randint(1, 64)),
    ])


def raw_unary(channel: grpc.aio.Channel, method: str):
    return channel.unary_unary(method, request_serializer=None, response_deserializer=None)


async def outcome(call, *, stream: bool = False, first_only_s: float | None = None) -> tuple[grpc.StatusCode, str]:
    """Run a call to its status. A server stream is read to the end, or (first_only_s)
    only its first message, and a stream still open after that long counts as OK."""
    try:
        if stream:
            if first_only_s is None:
                async for _ in call:
                    pass
            else:
                try:
                    await asyncio.wait_for(call.read(), first_only_s)
                except TimeoutError:
                    pass
                finally:
                    call.cancel()
        else:
            await call
        return grpc.StatusCode.OK, ""
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    except asyncio.CancelledError:
        return grpc.StatusCode.OK, ""


def judge(failures: list, case: int, kind: str, code: grpc.StatusCode, details: str) -> None:
    if code not in ALLOWED or (code is not grpc.StatusCode.OK and not details) or len(details) > MAX_DETAILS_CHARS:
        failures.append((case, kind, code.name, details[:300]))
