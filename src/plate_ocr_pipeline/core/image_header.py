"""Width and height of an encoded image from its first bytes, without decoding it, so that
a huge image can be refused before it takes memory (stdlib only)."""

from __future__ import annotations

import re
import struct

#: Pixel count above which readers refuse an image before decoding it.
DEFAULT_MAX_PIXELS = 40_000_000
#: File size above which readers refuse an image before reading it (no plate crop comes near).
DEFAULT_MAX_FILE_BYTES = 50_000_000
#: Why an image whose size cannot be read from its header is refused: its pixel count is
#: unknown, and OpenCV would decode up to a gigapixel.
UNKNOWN_HEADER = (
    "not a recognised image: the header is not PNG, JPEG, BMP, GIF, WebP, TIFF or PNM "
    "(or is cut short)"
)


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the header of a PNG, JPEG, BMP, GIF, WebP, TIFF or PNM/PFM
    image, without decoding it; ``None`` when the bytes are none of these or the header is cut
    short."""
    for reader in (_png_size, _jpeg_size, _gif_size, _bmp_size, _webp_size, _tiff_size):
        try:
            size = reader(data)
        except (struct.error, IndexError, ValueError):
            size = None
        if size is not None:
            return size
    return _pnm_size(data)


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


_JPEG_FRAME_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        elif marker in _JPEG_FRAME_MARKERS:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        elif marker in (0xD9, 0xDA):  # end of image or scan data before any frame header
            return None
        else:
            i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


def _gif_size(data: bytes) -> tuple[int, int] | None:
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", data[6:10])
    return None


def _bmp_size(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"BM":
        return None
    if struct.unpack("<I", data[14:18])[0] == 12:  # OS/2 core header: 16-bit sizes
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height is a top-down bitmap


def _webp_size(data: bytes) -> tuple[int, int] | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy: 14-bit sizes
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: two 14-bit sizes minus one
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas sizes minus one
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or struct.unpack(order + "H", data[2:4])[0] != 42:  # noqa: PLR2004
        return None  # BigTIFF (43) is not read
    (offset,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[offset : offset + 2])
    sizes: dict[int, int] = {}
    for k in range(count):
        entry = offset + 2 + 12 * k
        tag, kind = struct.unpack(order + "HH", data[entry : entry + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT (3) or LONG (4)
            fmt, end = ("H", entry + 10) if kind == 3 else ("I", entry + 12)  # noqa: PLR2004
            sizes[tag] = struct.unpack(order + fmt, data[entry + 8 : end])[0]
    if 256 in sizes and 257 in sizes:  # noqa: PLR2004
        return sizes[256], sizes[257]
    return None


_PNM_HEADER = re.compile(rb"P[1-6Ff](?:\s+|#[^\n\r]*[\n\r])+(\d+)(?:\s+|#[^\n\r]*[\n\r])+(\d+)")


def _pnm_size(data: bytes) -> tuple[int, int] | None:
    match = _PNM_HEADER.match(data[:1024])
    return (int(match[1]), int(match[2])) if match else None
