"""Polite image downloads: timeout, retries with backoff, Retry-After, and a size cap."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime

from . import __version__
from .errors import BadImage
from .images import MAX_BYTES

RETRY_STATUS = {429, 500, 502, 503, 504}


def _retry_after(header: str | None, default: float) -> float:
    if not header:
        return default
    try:
        return min(float(header), 30.0)
    except ValueError:
        try:
            return max(0.0, min(parsedate_to_datetime(header).timestamp() - time.time(), 30.0))
        except (TypeError, ValueError):
            return default


def fetch(url: str, timeout: float = 10.0, retries: int = 3, backoff: float = 0.5, max_bytes: int = MAX_BYTES) -> bytes:
    """GET a URL's bytes, retrying transient failures; raise BadImage with the reason otherwise."""
    req = urllib.request.Request(url, headers={"User-Agent": f"lookalike/{__version__} (catalog ingest)"})
    last = ""
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length")
                if length and int(length) > max_bytes:
                    raise BadImage(f"{url}: {length} bytes exceeds the {max_bytes}-byte limit")
                data = resp.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise BadImage(f"{url}: larger than the {max_bytes}-byte limit")
                return data
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code} {e.reason}"
            if e.code not in RETRY_STATUS or attempt == retries:
                break
            time.sleep(_retry_after(e.headers.get("Retry-After"), backoff * 2**attempt))
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
            last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if attempt == retries:
                break
            time.sleep(backoff * 2**attempt)
    raise BadImage(f"{url}: download failed after {retries + 1} tries ({last}). Check the URL or try again later")
