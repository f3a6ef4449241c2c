import cv2
import numpy as np
import pytest

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.preprocessing import (
    ImageReadError,
    preprocess_image,
    read_image,
)


@pytest.fixture
def gray_config(plate_params):
    return PlateConfig.from_dict(plate_params)


@pytest.fixture
def rgb_config(plate_params):
    return PlateConfig.from_dict({**plate_params, "color_mode": "rgb"})


@pytest.mark.parametrize(
    "image",
    [
        np.full((30, 90), 200, np.uint8),
        np.full((30, 90, 1), 200, np.uint8),
        np.full((30, 90, 3), 200, np.uint8),
        np.dstack([np.full((30, 90, 3), 200, np.uint8), np.full((30, 90), 255, np.uint8)]),
        np.full((30, 90, 3), 200 * 257, np.uint16),
        np.full((30, 90), 200 / 255, np.float32),
    ],
    ids=["gray", "gray1", "rgb", "rgba", "rgb16", "float"],
)
def test_any_input_gives_configured_shape(image, gray_config, rgb_config):
    gray = preprocess_image(image, gray_config)
    assert gray.shape == (64, 128, 1) and gray.dtype == np.uint8
    assert int(gray[32, 64, 0]) == 200
    rgb = preprocess_image(image, rgb_config)
    assert rgb.shape == (64, 128, 3) and rgb.dtype == np.uint8


def test_rgba_transparent_pixels_become_white(rgb_config):
    image = np.zeros((10, 20, 4), np.uint8)
    assert (preprocess_image(image, rgb_config) == 255).all()


def test_keep_aspect_ratio_letterboxes(plate_params):
    config = PlateConfig.from_dict(
        {**plate_params, "keep_aspect_ratio": True, "padding_color": [7, 7, 7]}
    )
    # A square image in a 2:1 target: 64x64 content centred, 32 px of padding each side.
    out = preprocess_image(np.full((50, 50), 255, np.uint8), config)
    assert out.shape == (64, 128, 1)
    assert (out[:, :32] == 7).all() and (out[:, -32:] == 7).all()
    assert (out[:, 32:96] == 255).all()


def test_read_image_files_of_every_depth(tmp_path, gray_config):
    bgr = np.zeros((20, 40, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    assert tuple(read_image(tmp_path / "red.png")[0, 0]) == (255, 0, 0)
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((20, 40), 65535, np.uint16))
    deep = read_image(tmp_path / "deep.png")
    assert deep.dtype == np.uint16
    assert (preprocess_image(read_image(tmp_path / "deep.png"), gray_config) == 255).all()


def test_bad_inputs_name_the_file(tmp_path):
    with pytest.raises(ImageReadError, match="missing.png: file does not exist"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    with pytest.raises(ImageReadError, match="dangling.png: broken symbolic link"):
        read_image(tmp_path / "dangling.png")
    (tmp_path / "loop_a.png").symlink_to(tmp_path / "loop_b.png")
    (tmp_path / "loop_b.png").symlink_to(tmp_path / "loop_a.png")
    with pytest.raises(ImageReadError, match="loop_a.png: cannot be opened: Too many levels"):
        read_image(tmp_path / "loop_a.png")
    with pytest.raises(ImageReadError, match="empty path"):
        read_image("")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.png: file is empty"):
        read_image(tmp_path / "empty.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(
        ImageReadError, match="text.png: not a recognised image: the header is not PNG"
    ):
        read_image(tmp_path / "text.png")
    with pytest.raises(ImageReadError, match="zero"):
        preprocess_image(np.zeros((0, 5), np.uint8), None)


def test_bytes_that_could_take_unbounded_memory_are_refused_before_decoding(monkeypatch):
    """Encoded bytes over the file cap, and a format whose pixel count cannot be read from
    its header (here PAM, which OpenCV decodes), are refused without decoding: OpenCV alone
    would decode up to a gigapixel."""
    from plate_ocr_pipeline.core import preprocessing

    pam = b"P7\nWIDTH 4\nHEIGHT 4\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n" + bytes(16)
    assert cv2.imdecode(np.frombuffer(pam, np.uint8), cv2.IMREAD_UNCHANGED) is not None
    with pytest.raises(ImageReadError, match="<bytes>: not a recognised image"):
        read_image(pam)
    png = cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()
    monkeypatch.setattr(preprocessing, "DEFAULT_MAX_FILE_BYTES", len(png) - 1)
    with pytest.raises(ImageReadError, match=f"{len(png):,} bytes, over {len(png) - 1:,}"):
        read_image(png)


# How each dtype is read (issue 20, case 9): read like an image, or refused naming the reason.
GRAY = np.full((30, 90), 200, np.uint8)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (GRAY.astype(np.int16) * 128, 100),  # 16-bit values in int16 (max 25600): 25600/257
        (GRAY.astype(np.int16), 200),  # 8-bit values in int16
        (GRAY.astype(np.int64), 200),  # what np.array([[200, ...]]) gives
        (GRAY.astype(np.int32) * 257, 200),  # 16-bit values in int32
        (GRAY.astype(np.uint16) * 257, 200),
        (GRAY > 0, 255),  # bool: True is white
        (GRAY / 255.0, 200),  # float64 in [0, 1]
        (GRAY.astype(np.float32), 200),  # float in [0, 255]
        ((GRAY / 255.0).astype(np.float16), 200),
    ],
    ids=[
        "int16-16bit",
        "int16-8bit",
        "int64",
        "int32-16bit",
        "uint16",
        "bool",
        "f64-01",
        "f32-255",
        "f16-01",
    ],  # fmt: skip
)
def test_every_dtype_is_read_as_pixels(image, expected, gray_config):
    out = preprocess_image(image, gray_config)
    assert out.dtype == np.uint8 and out.shape == (64, 128, 1)
    assert int(out[32, 64, 0]) == expected


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (np.full((30, 90), -5, np.int16), "int16 array has negative values.*view"),
        (np.full((30, 90), 70000, np.int64), "int64 array has values up to 70000, beyond 16"),
        (np.where(GRAY > 0, np.nan, 0.0), "float64 array holds NaN"),
        (np.full((30, 90), np.inf, np.float32), "float32 array holds inf"),
        (np.full((30, 90), 300.0), "values 300..300 are not pixels"),
        (np.full((30, 90), -0.5), r"values -0\.5..-0\.5 are not pixels"),
        (GRAY.astype(complex), "unsupported array dtype complex128"),
        (GRAY.astype(object), "unsupported array dtype object"),
        (np.zeros((30, 90, 2), np.uint8), "2 channels"),
        (np.zeros((30, 90, 5), np.uint8), "5 channels"),
        (np.zeros((2, 30, 90, 1), np.uint8), "cannot use an array of shape"),
    ],
    ids=[
        "negative",
        "beyond-16-bits",
        "nan",
        "inf",
        "float-300",
        "float-negative",
        "complex",
        "object",
        "2-channels",
        "5-channels",
        "4-d",
    ],  # fmt: skip
)
def test_arrays_that_are_not_pixels_are_refused_with_the_reason(image, reason, gray_config):
    with pytest.raises(ImageReadError, match=reason):
        preprocess_image(image, gray_config)


def test_an_image_too_large_by_its_header_is_refused_before_decoding(tmp_path):
    import struct
    import zlib

    from plate_ocr_pipeline.core.preprocessing import ImageReadError, read_image

    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    png = (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )
    (tmp_path / "huge.png").write_bytes(png)
    with pytest.raises(ImageReadError, match="20000x20000 pixels.*not decoded"):
        read_image(tmp_path / "huge.png")


def test_a_path_with_a_nul_byte_or_an_unreadable_file_is_an_image_read_error(tmp_path, monkeypatch):
    with pytest.raises(ImageReadError, match="not a usable path"):
        read_image(str(tmp_path / "a\0b.png"))
    locked = tmp_path / "locked.png"
    locked.write_bytes(b"\x89PNG")

    def refuse(self):  # as for a file without read permission (the tests may run as root)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(locked), "read_bytes", refuse)
    with pytest.raises(ImageReadError, match="locked.png: cannot be read: Permission denied"):
        read_image(locked)
