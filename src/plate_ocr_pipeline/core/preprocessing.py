"""Read any plate crop and shape it for the model: one function for training and inference.

Plain module (OpenCV and numpy only). ``preprocess_image`` turns 8/16-bit, gray, RGB or RGBA
input into the uint8 ``(img_height, img_width, channels)`` array that the model takes.

How an array's values are read (``to_uint8``); anything else is refused with
``ImageReadError`` naming the dtype and the reason, never turned into a blank crop:

- ``uint8``: as is. ``uint16``: a 16-bit image, scaled to 8 bits (``round(v / 257)``).
- other integer dtypes (``int8``/``int16``/``int32``/``int64``/``uint32``/``uint64``): no
  negative values (a ``uint16`` image viewed as ``int16`` shows up as negative values: pass
  ``image.view(np.uint16)``); values up to 255 are 8-bit pixels, values up to 65535 16-bit
  pixels (scaled as ``uint16``), larger values are refused.
- ``bool``: a black-and-white image, ``True`` white (255).
- floats: finite values only (NaN or inf is refused); values up to 1.0 are in ``[0, 1]``
  (times 255), larger ones in ``[0, 255]``; values below 0 or above 255 are refused (half a
  grey level of rounding slack).
- complex, object, string and other dtypes are refused.

Images have 1 (gray), 3 (RGB) or 4 (RGBA) channels; other channel counts are refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np

from plate_ocr_pipeline.core.image_header import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_PIXELS,
    UNKNOWN_HEADER,
    image_size,
)
from plate_ocr_pipeline.core.plate_config import PlateConfig

# What OpenCV 5 decodes (a GIF: its first frame).
IMAGE_EXTENSIONS = (
    ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".gif",
)  # fmt: skip

_INTERPOLATION_FLAGS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}


class ImageReadError(ValueError):
    """An input could not be read as an image; the message names the input and the reason."""

    def __init__(self, source: object, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


def read_image(source: str | os.PathLike | bytes) -> np.ndarray:
    """Decode an image file (or encoded bytes) as RGB/gray/RGBA, keeping its bit depth.

    Colour images come back in RGB order. Raises ``ImageReadError`` for a missing, empty or
    undecodable input, for a path that is not a regular file (a FIFO or device, also through
    a symlink) or a file (or bytes) over ``DEFAULT_MAX_FILE_BYTES``, which are never read, and
    for an image whose header says it has more than ``DEFAULT_MAX_PIXELS`` pixels or cannot be
    read (its size unknown), which is never decoded.
    """
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        name: object = "<bytes>"
        if len(data) > DEFAULT_MAX_FILE_BYTES:
            raise ImageReadError(
                name, f"{len(data):,} bytes, over {DEFAULT_MAX_FILE_BYTES:,}: not decoded"
            )
    else:
        if not os.fspath(source):  # Path("") would stand for the current folder
            raise ImageReadError("''", "empty path")
        path = Path(source)
        name = str(path)
        try:
            info = path.stat()
        except FileNotFoundError:
            reason = "broken symbolic link" if path.is_symlink() else "file does not exist"
            raise ImageReadError(name, reason) from None
        except OSError as error:  # a symlink loop, a folder on the way that cannot be entered
            raise ImageReadError(name, f"cannot be opened: {error.strerror or error}") from None
        except ValueError as error:  # a NUL byte in the path
            raise ImageReadError(name, f"not a usable path: {error}") from None
        if stat.S_ISDIR(info.st_mode):
            raise ImageReadError(name, "is a directory, not an image")
        if not stat.S_ISREG(info.st_mode):  # a FIFO would hang, a device (/dev/zero) never end
            raise ImageReadError(name, "not a regular file (a FIFO, device or socket)")
        if info.st_size > DEFAULT_MAX_FILE_BYTES:
            raise ImageReadError(
                name, f"file is {info.st_size:,} bytes, over {DEFAULT_MAX_FILE_BYTES:,}: not read"
            )
        try:
            data = path.read_bytes()
        except OSError as error:  # a file this user may not read
            raise ImageReadError(name, f"cannot be read: {error.strerror or error}") from None
    if not data:
        raise ImageReadError(name, "file is empty (0 bytes)")
    size = image_size(data)
    if size is None:
        raise ImageReadError(name, UNKNOWN_HEADER)
    if size[0] * size[1] > DEFAULT_MAX_PIXELS:
        raise ImageReadError(
            name, f"image is {size[0]}x{size[1]} pixels, over {DEFAULT_MAX_PIXELS:,}: not decoded"
        )
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageReadError(name, "not a decodable image (corrupt or unsupported format)")
    return _to_rgb_order(image, name)


def _to_rgb_order(image: np.ndarray, name: object) -> np.ndarray:
    if image.size == 0 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageReadError(name, "image has zero size")
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def to_uint8(image: np.ndarray, name: object = "<array>") -> np.ndarray:
    """The 8-bit pixels of ``image`` (see the module docstring for how each dtype is read).

    Raises ``ImageReadError`` naming ``name``, the dtype and the reason for values that are not
    pixels (negative, too large, NaN or inf) and for dtypes that are not images.
    """
    dtype = image.dtype
    if dtype == np.uint8:
        return image
    if dtype == np.uint16:
        return _sixteen_to_eight(image)
    if dtype == np.bool_:
        return image.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(dtype, np.integer):
        low, high = int(image.min()), int(image.max())
        if low < 0:
            hint = " (16-bit pixels stored as int16? pass image.view(np.uint16))"
            raise ImageReadError(
                name,
                f"{dtype} array has negative values (min {low}); pixels are 0-255 or 0-65535"
                + (hint if dtype == np.int16 else ""),
            )
        if high <= 255:
            return image.astype(np.uint8)
        if high <= 65535:
            return _sixteen_to_eight(image)
        raise ImageReadError(
            name, f"{dtype} array has values up to {high}, beyond 16 bits (0-65535)"
        )
    if np.issubdtype(dtype, np.floating):
        finite = np.isfinite(image)
        if not finite.all():
            what = "NaN" if np.isnan(image).any() else "inf"
            raise ImageReadError(
                name, f"{dtype} array holds {what} ({int((~finite).sum())} of {image.size} values)"
            )
        low, high = float(image.min()), float(image.max())
        # Floats in [0, 1] are the common convention; anything larger is taken as 0-255.
        scale = 255.0 if high <= 1.0 else 1.0
        if low * scale < -0.5 or high * scale > 255.5:
            scale_name = "0-1" if scale == 255.0 else "0-255"
            raise ImageReadError(
                name,
                f"{dtype} array values {low:g}..{high:g} are not pixels: floats are read "
                f"as 0-1 (when at most 1) or 0-255 ({scale_name} here)",
            )
        scaled = image.astype(np.float32) * np.float32(scale)
        return np.clip(scaled, 0, 255).round().astype(np.uint8)
    raise ImageReadError(
        name, f"unsupported array dtype {dtype}: pass uint8, uint16, bool, integer or float pixels"
    )


def _sixteen_to_eight(image: np.ndarray) -> np.ndarray:
    return (image.astype(np.float32) / 257.0).round().astype(np.uint8)


def _to_channels(image: np.ndarray, color_mode: str) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        # Composite transparent pixels on white, as a plate crop with alpha would be seen.
        rgb = image[:, :, :3].astype(np.float32)
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        image = (rgb * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    if color_mode == "grayscale":
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        return image[:, :, None]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return image


def preprocess_image(image: np.ndarray, config: PlateConfig) -> np.ndarray:
    """Any decoded image to the model's uint8 ``(img_height, img_width, channels)`` input."""
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ImageReadError("<array>", f"cannot use an array of shape {image.shape} as an image")
    if image.size == 0:
        raise ImageReadError("<array>", f"image has zero size (shape {image.shape})")
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ImageReadError(
            "<array>",
            f"{image.shape[2]} channels (shape {image.shape}); expected 1 (gray), 3 (RGB) "
            "or 4 (RGBA)",
        )
    image = _to_channels(to_uint8(image), config.color_mode)
    flag = _INTERPOLATION_FLAGS[config.interpolation]
    target_h, target_w = config.img_height, config.img_width
    if not config.keep_aspect_ratio:
        resized = cv2.resize(image, (target_w, target_h), interpolation=flag)
        return resized.reshape(config.input_shape)

    height, width = image.shape[:2]
    scale = min(target_w / width, target_h / height)
    new_w = max(1, min(target_w, round(width * scale)))
    new_h = max(1, min(target_h, round(height * scale)))
    resized = cv2.resize(image, (new_w, new_h), interpolation=flag)
    resized = resized.reshape(new_h, new_w, config.num_channels)
    fill = config.padding_color[:1] if config.num_channels == 1 else config.padding_color
    canvas = np.empty(config.input_shape, dtype=np.uint8)
    canvas[:] = np.array(fill, dtype=np.uint8)
    top = (target_h - new_h) // 2
    left = (target_w - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas
