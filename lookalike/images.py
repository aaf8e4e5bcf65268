"""Safe image decoding: every way an image can be bad becomes a BadImage with a reason."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import BadImage

#: Images above this many pixels are refused as possible decompression bombs (about 8k x 5k).
MAX_PIXELS = 40_000_000
#: Files above this many bytes are refused before decoding.
MAX_BYTES = 50 * 1024 * 1024
#: The EXIF tag that says how the camera was held (1 = upright, 2-8 = flipped or turned).
EXIF_ORIENTATION = 0x0112


def sha256_bytes(data: bytes) -> str:
    """Content hash used to detect changed images."""
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: str | Path, max_bytes: int = MAX_BYTES) -> bytes:
    """Read a file, refusing missing, empty and oversized files with a clear reason."""
    p = Path(path)
    if not p.exists():
        raise BadImage(f"file not found: {p}. Check the path, or the --images-root it is relative to")
    if not p.is_file():
        raise BadImage(f"not a file: {p}")
    size = p.stat().st_size
    if size == 0:
        raise BadImage(f"empty file (0 bytes): {p}. Re-export or re-download the image")
    if size > max_bytes:
        raise BadImage(f"file too large ({size} bytes > {max_bytes}): {p}. Resize the image first")
    return p.read_bytes()


def decode(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode bytes into an RGB image, honouring EXIF rotation; raise BadImage on anything wrong."""
    if not data:
        raise BadImage(f"{name}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise BadImage(
                    f"{name}: {w}x{h} pixels exceeds the limit of {max_pixels} "
                    "(possible decompression bomb). Resize the image first"
                )
            img.load()
    except BadImage:
        raise
    except UnidentifiedImageError:
        raise BadImage(f"{name}: not an image (unrecognised format). Use JPEG, PNG or WebP") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadImage(f"{name}: possible decompression bomb ({e}). Resize the image first") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise BadImage(f"{name}: corrupt or truncated image ({e}). Re-export or re-download it") from None
    try:
        # exif_transpose copies the whole image even when there is nothing to turn, so ask first (cheap: tags only)
        if img.getexif().get(EXIF_ORIENTATION, 1) != 1:
            img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block should not lose an otherwise good image
        pass
    if img.mode != "RGB":
        img = _to_rgb(img)
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Flatten transparency onto white, as product photos are shown on white."""
    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.split()[-1])
        return bg
    return img.convert("RGB")


def load(path: str | Path) -> Image.Image:
    """Read and decode an image file."""
    return decode(read_bytes(path), name=str(path))


def to_array(img: Image.Image) -> np.ndarray:
    """HxWx3 uint8 array."""
    return np.asarray(img, dtype=np.uint8)


def crop(img: Image.Image, box: tuple[int, int, int, int] | None) -> Image.Image:
    """Crop to (x0, y0, x1, y1) after checking the box lies inside the image."""
    if box is None:
        return img
    from .errors import BadInput

    x0, y0, x1, y1 = (int(v) for v in box)
    w, h = img.size
    if x1 <= x0 or y1 <= y0:
        raise BadInput(f"empty crop box {box}: use x0,y0,x1,y1 with x1>x0 and y1>y0")
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
        raise BadInput(f"crop box {box} lies outside the {w}x{h} image: use 0<=x0<x1<={w}, 0<=y0<y1<={h}")
    return img.crop((x0, y0, x1, y1))
