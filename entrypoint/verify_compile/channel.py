"""The framed channel between the parent and a worker.

A case runs arbitrary model code inside the worker, and that code can write into the worker's socket. So every
message is a frame (magic, length, CRC-32, payload) and what a worker sends is plain JSON, never a pickle: a
corrupt or forged byte stream is detected, and at worst costs the case it arrived in. The parent's messages to
the worker are pickles inside frames: the worker trusts its parent.
"""

from __future__ import annotations

import json
import pickle
import socket
import struct
import zlib
from typing import Any

MAGIC = b"VCF1"
# Also part of the contract with a worker: the environment variable naming the run's scratch folder, which the
# parent removes when the run ends, so files a killed worker leaves behind (an AOTInductor package) go with it.
SCRATCH_ENV = "VERIFY_COMPILE_SCRATCH"
_HEADER = struct.Struct(">4sII")  # magic, payload length, CRC-32 of the payload
MAX_FRAME = 256 * 2**20  # a result is kilobytes; anything near this is not one


class ChannelError(Exception):
    """The byte stream is not a sequence of valid frames."""


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def json_frame(message: dict) -> bytes:
    # default=str: a stray non-JSON value (a dtype, a path) travels as text rather than failing the send
    return frame(json.dumps(message, default=str).encode("utf-8"))


def pickle_frame(message: Any) -> bytes:
    return frame(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


class FrameReader:
    """Cuts a byte stream into frame payloads; ChannelError on the first byte that does not fit."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list:
        self._buffer += data
        payloads = []
        while len(self._buffer) >= _HEADER.size:
            magic, length, crc = _HEADER.unpack_from(self._buffer)
            if magic != MAGIC:
                raise ChannelError(f"a frame starts with {bytes(self._buffer[:4])!r}, not {MAGIC!r}")
            if length > MAX_FRAME:
                raise ChannelError(f"a frame claims {length} bytes (more than the {MAX_FRAME} allowed)")
            end = _HEADER.size + length
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[_HEADER.size:end])
            if zlib.crc32(payload) != crc:
                raise ChannelError("a frame's checksum does not match its payload")
            del self._buffer[:end]
            payloads.append(payload)
        return payloads


def decode_json(payload: bytes) -> dict:
    """A worker's message: a JSON object with a string `kind`."""
    try:
        message = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ChannelError(f"a frame is not JSON ({type(e).__name__})") from None
    if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
        raise ChannelError("a frame is not a message object")
    return message


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """n bytes from a blocking socket; EOFError when the peer is gone first."""
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 2**20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_pickle(sock: socket.socket) -> Any:
    """The worker's side: the parent's next message (EOFError when the parent is gone)."""
    magic, length, crc = _HEADER.unpack(recv_exact(sock, _HEADER.size))
    if magic != MAGIC or length > MAX_FRAME:
        raise ChannelError("the parent's frame is corrupt")
    payload = recv_exact(sock, length)
    if zlib.crc32(payload) != crc:
        raise ChannelError("the parent's frame's checksum does not match")
    return pickle.loads(payload)
