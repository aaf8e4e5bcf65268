"""Every way an image can be bad becomes a BadImage with a reason; good images decode to RGB."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from lookalike import images
from lookalike.errors import BadImage, BadInput


def _jpeg(w=64, h=48, color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "JPEG")
    return buf.getvalue()


def test_good_jpeg_decodes_to_rgb(demo_queries):
    img = images.load(demo_queries[0][0])
    assert img.mode == "RGB" and img.width > 100


def test_zero_bytes(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(BadImage, match="empty file"):
        images.load(p)


def test_missing_file(tmp_path):
    with pytest.raises(BadImage, match="file not found.*images-root"):
        images.load(tmp_path / "nope.jpg")


def test_not_an_image():
    with pytest.raises(BadImage, match="not an image"):
        images.decode(b"hello, I am text pretending to be a photo", "x.jpg")


def test_truncated_jpeg(demo_queries):
    data = demo_queries[0][0].read_bytes()
    with pytest.raises(BadImage, match="corrupt or truncated"):
        images.decode(data[: len(data) // 2], "half.jpg")


def test_decompression_bomb():
    buf = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buf, "PNG")  # 144 Mpx but tiny on disk
    assert len(buf.getvalue()) < 1_000_000
    with pytest.raises(BadImage, match="decompression bomb"):
        images.decode(buf.getvalue(), "bomb.png")


def test_transparency_flattened_on_white():
    buf = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(buf, "PNG")
    arr = images.to_array(images.decode(buf.getvalue()))
    assert arr.shape == (8, 8, 3) and (arr == 255).all()


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    assert images.decode(buf.getvalue()).size == (20, 40)


@pytest.mark.parametrize("orientation", [None, 1, 2, 3, 4, 5, 6, 7, 8, 0, 9])
def test_decode_matches_pillow_exif_transpose(orientation):
    """decode() skips exif_transpose when there is nothing to turn; the pixels equal Pillow's own answer anyway."""
    rng = np.random.default_rng(orientation or 0)
    img = Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "PNG", exif=exif)  # lossless, so the pixels compare exactly
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))).convert("RGB")
    got = images.decode(buf.getvalue())
    assert got.mode == "RGB" and got.size == expected.size
    assert (images.to_array(got) == np.asarray(expected)).all()


def test_crop_checks_the_box():
    img = images.decode(_jpeg(100, 80))
    assert images.crop(img, (10, 10, 50, 40)).size == (40, 30)
    with pytest.raises(BadInput, match="outside"):
        images.crop(img, (10, 10, 500, 40))
    with pytest.raises(BadInput, match="empty crop box"):
        images.crop(img, (10, 10, 10, 40))


def test_hash_is_content_based():
    a, b = _jpeg(), _jpeg(color=(0, 0, 0))
    assert images.sha256_bytes(a) == images.sha256_bytes(bytes(a)) != images.sha256_bytes(b)
    assert np.asarray(images.decode(a)).shape == (48, 64, 3)
