"""Hostile scene files, made byte by byte: what a damaged disk, an interrupted generator or a
crafted upload puts where Stash's sprites, VTTs and performer images live.

Decompression bombs are tiny files whose header declares an enormous image: Pillow reads the size
from the header when the file is opened and would allocate width x height x 3 bytes on load.
"""
from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header (IHDR, RGB 8 bit) declaring width x height, with a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def jpeg_bomb(width: int = 65000, height: int = 65000) -> bytes:
    """A real small JPEG whose SOF0 header is patched to declare width x height."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)   # marker(2) length(2) precision(1)
    return bytes(data)


class StalledBody(bytes):
    """A body whose Content-Length promises more than is sent: the stand-in writes the bytes it
    has and the transfer stalls there, like a sprite on a hung network share."""

    def __len__(self) -> int:
        return super().__len__() + 1_000_000
