"""Read a catalog (folder, CSV or JSONL) into product records; bad rows become problems, not crashes."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
ID_GUESSES = ("id", "product_id", "sku", "instance_id")
IMAGE_GUESSES = ("image", "images", "path", "image_path", "url", "image_url", "file", "filename")
#: separator for several images inside one cell
MULTI_SEP = "|"


@dataclass
class ProductRecord:
    """One product as the catalog lists it: id, metadata and image sources."""

    id: str
    metadata: dict = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


@dataclass
class CatalogOptions:
    """How to read a CSV or JSONL catalog."""

    id_column: str | None = None
    image_columns: list[str] | None = None
    metadata_columns: list[str] | None = None
    images_root: str | None = None


def is_url(source: str) -> bool:
    """True for http(s) sources."""
    return source.startswith(("http://", "https://"))


def read_catalog(path: str | Path, opts: CatalogOptions) -> tuple[list[ProductRecord], list[tuple[str, str]]]:
    """Products and (item, reason) problems from a folder, .csv or .jsonl file."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f"catalog {p} not found. Give a folder of images, a .csv or a .jsonl file")
    if p.is_dir():
        return read_folder(p)
    if p.suffix.lower() in (".csv", ".tsv"):
        return read_rows(p, _csv_rows(p), opts)
    if p.suffix.lower() in (".jsonl", ".ndjson"):
        return read_rows(p, _jsonl_rows(p), opts)
    raise BadInput(f"cannot read catalog {p}: use a folder, a .csv/.tsv or a .jsonl file")


def read_folder(root: Path) -> tuple[list[ProductRecord], list[tuple[str, str]]]:
    """root/PRODUCT/*.jpg gives one product per sub-folder; root/PRODUCT.jpg gives one per file."""
    products: dict[str, ProductRecord] = {}
    problems: list[tuple[str, str]] = []
    for f in sorted(root.rglob("*")):
        if not f.is_file() or f.name.startswith("."):
            continue
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append((str(f), f"skipped: suffix {f.suffix or '(none)'} is not an image type"))
            continue
        rel = f.relative_to(root)
        pid = rel.parts[0] if len(rel.parts) > 1 else f.stem
        rec = products.setdefault(pid, ProductRecord(pid, {"folder": str(rel.parent) if len(rel.parts) > 1 else ""}))
        rec.sources.append(str(f.resolve()))
    return list(products.values()), problems


def _csv_rows(path: Path):
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delim)
        try:
            header = next(reader)
        except StopIteration:
            raise BadInput(f"{path} is empty: it needs a header row such as id,image,category") from None
        header = [h.strip() for h in header]
        yield header
        for lineno, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield lineno, None, f"has {len(row)} fields, the header has {len(header)}; quote commas in values"
                continue
            yield lineno, dict(zip(header, row)), None


def _jsonl_rows(path: Path):
    header: list[str] = []
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                rows.append((lineno, None, f"is not valid JSON ({e.msg})"))
                continue
            if not isinstance(obj, dict):
                rows.append((lineno, None, "is not a JSON object"))
                continue
            for k in obj:
                if k not in header:
                    header.append(k)
            rows.append((lineno, obj, None))
    yield header
    yield from rows


def _pick(header: list[str], wanted: str | None, guesses: tuple[str, ...], what: str, flag: str, path: Path) -> str:
    if wanted is not None:
        if wanted not in header:
            raise BadInput(
                f"column {wanted!r} not found in {path.name}; columns are: {', '.join(header)}. Use {flag} NAME"
            )
        return wanted
    for g in guesses:
        if g in header:
            return g
    raise BadInput(f"no {what} column in {path.name}; columns are: {', '.join(header)}. Use {flag} NAME")


def _image_values(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(MULTI_SEP) if v.strip()]


def _resolve(source: str, base: Path) -> str:
    if is_url(source):
        return source
    p = Path(source)
    return str((p if p.is_absolute() else base / p).resolve())


def read_rows(path: Path, rows, opts: CatalogOptions) -> tuple[list[ProductRecord], list[tuple[str, str]]]:
    """Turn header + rows into products; one product may span several rows and image columns."""
    header = next(rows)
    id_col = _pick(header, opts.id_column, ID_GUESSES, "id", "--id-column", path)
    if opts.image_columns:
        img_cols = [_pick(header, c, (), "image", "--image-column", path) for c in opts.image_columns]
    else:
        img_cols = [_pick(header, None, IMAGE_GUESSES, "image", "--image-column", path)]
    if opts.metadata_columns is not None:
        meta_cols = [_pick(header, c, (), "metadata", "--metadata-column", path) for c in opts.metadata_columns]
    else:
        meta_cols = [h for h in header if h != id_col and h not in img_cols]
    base = Path(opts.images_root) if opts.images_root else path.parent
    products: dict[str, ProductRecord] = {}
    problems: list[tuple[str, str]] = []
    for lineno, row, err in rows:
        item = f"{path.name} line {lineno}"
        if err:
            problems.append((item, err))
            continue
        pid = str(row.get(id_col) if row.get(id_col) is not None else "").strip()
        if not pid:
            problems.append((item, f"empty {id_col!r}: every row needs a product id"))
            continue
        meta = {c: row.get(c) for c in meta_cols if row.get(c) not in (None, "")}
        sources = [_resolve(s, base) for c in img_cols for s in _image_values(row.get(c))]
        if not sources:
            problems.append((item, f"product {pid!r} has no image in {', '.join(img_cols)}"))
        rec = products.get(pid)
        if rec is None:
            products[pid] = ProductRecord(pid, meta, sources)
            continue
        if meta and rec.metadata and meta != rec.metadata:
            problems.append((item, f"duplicate id {pid!r} with different metadata; kept the first row's metadata"))
        for s in sources:
            if s in rec.sources:
                problems.append((item, f"duplicate image {s} for product {pid!r}; ignored"))
            else:
                rec.sources.append(s)
    return list(products.values()), problems
