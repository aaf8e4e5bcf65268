"""Interactive 3D view of a model's embedding space: PCA (or UMAP), coloured by a metadata column, with image
thumbnails on hover, written as one standalone HTML file (plotly.js inlined, so it works offline)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np

from .. import images
from ..errors import BadInput, LookalikeError, NotFound
from ..store import image_of
from ..workspace import Workspace

MAX_COLOURS = 24
METHODS = ("pca", "umap")


def pca_3d(vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project rows onto their top 3 principal components; returns (n x 3 coordinates, explained ratios)."""
    x = np.asarray(vecs, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    comps = vt[:3]
    coords = x @ comps.T
    if coords.shape[1] < 3:  # fewer than 3 points or dims: pad so the 3D plot still draws
        coords = np.pad(coords, ((0, 0), (0, 3 - coords.shape[1])))
    var = s**2
    return coords, (var[:3] / var.sum()) if var.sum() > 0 else np.zeros(3)


def umap_3d(vecs: np.ndarray, seed: int = 0) -> np.ndarray:
    """UMAP to 3D with cosine distance (needs the optional umap-learn package)."""
    try:
        import umap
    except ImportError as e:
        raise BadInput("UMAP needs the umap-learn package: pip install umap-learn (or use --method pca)") from e
    return umap.UMAP(n_components=3, metric="cosine", random_state=seed).fit_transform(vecs)


def thumbnail_uri(path: str, size: int = 72) -> str:
    """A small JPEG of an image as a data: URI (a grey square when the file cannot be read)."""
    try:
        img = images.load(path)
    except (LookalikeError, OSError):
        from PIL import Image

        img = Image.new("RGB", (size, size), (200, 200, 200))
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def sample_points(ws: Workspace, model: str, color_by: str, max_points: int, seed: int = 0,
                  keep=None) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(image ids, vecs, product ids, colour values) of up to max_points original-view embeddings."""
    vids, vecs = ws.catalog.embeddings(model, views=[0])
    if len(vids) == 0:
        raise NotFound(f"no embeddings of model {model!r} in {ws.root}. "
                       f"Run: lookalike index -w {ws.root} --model {model}")
    img_ids = image_of(vids)
    owner = ws.catalog.image_products(img_ids)
    meta = ws.catalog.products()
    pids = [owner[int(i)] for i in img_ids]
    if color_by not in ("id", "product_id") and not any(color_by in m for m in meta.values()):
        cols = sorted({k for m in meta.values() for k in m})
        raise BadInput(f"column {color_by!r} is not in the product metadata; columns are: {', '.join(cols)}")
    rows = np.array([n for n, p in enumerate(pids) if keep is None or keep(meta[p])], dtype=np.int64)
    if len(rows) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_points, replace=False))
    colours = [p if color_by in ("id", "product_id") else str(meta[p].get(color_by, "")) for p in pids]
    return img_ids[rows], vecs[rows], [pids[i] for i in rows], [colours[i] for i in rows]


def _limit_colours(values: list[str]) -> list[str]:
    """Keep the most common values; the rest become 'other' so the legend stays readable."""
    uniq, counts = np.unique(values, return_counts=True)
    if len(uniq) <= MAX_COLOURS:
        return values
    top = set(uniq[np.argsort(-counts, kind="stable")[: MAX_COLOURS - 1]])
    return [v if v in top else "other" for v in values]


def plot_embeddings(ws: Workspace, model: str, out: str | Path, color_by: str = "group", max_points: int = 2000,
                    method: str = "pca", seed: int = 0, keep=None, thumb_size: int = 72) -> Path:
    """Write the interactive 3D embedding plot of `model` to `out` (a standalone HTML file)."""
    import plotly.graph_objects as go

    if method not in METHODS:
        raise BadInput(f"method {method!r} is unknown; use one of: {', '.join(METHODS)}")
    img_ids, vecs, pids, colours = sample_points(ws, model, color_by, max_points, seed, keep)
    if method == "umap":
        coords, subtitle = umap_3d(vecs, seed), "UMAP (cosine)"
    else:
        coords, ratio = pca_3d(vecs)
        subtitle = "PCA, explained variance " + " / ".join(f"{r:.1%}" for r in ratio)
    colours = _limit_colours(colours)
    fig = go.Figure()
    for value in sorted(set(colours)):
        idx = [i for i, c in enumerate(colours) if c == value]
        fig.add_trace(go.Scatter3d(
            x=coords[idx, 0], y=coords[idx, 1], z=coords[idx, 2], mode="markers", name=value or "(none)",
            marker={"size": 3, "opacity": 0.8}, customdata=idx,
            hovertext=[f"{pids[i]}<br>{color_by}: {colours[i]}" for i in idx], hoverinfo="text"))
    fig.update_layout(title=f"{model}: {len(pids)} images, coloured by {color_by} ({subtitle})",
                      margin={"l": 0, "r": 0, "t": 40, "b": 0}, legend={"itemsizing": "constant"})
    paths = {r.id: (r.local_path or r.source) for r in ws.catalog.images()}
    thumbs = [thumbnail_uri(paths[int(i)], thumb_size) for i in img_ids]
    return _write_html(fig, thumbs, out, f"{model} embedding space")


_HOVER_JS = """
var thumbs = %s;
var box = document.getElementById('thumb');
var plot = document.getElementById('{plot_id}');
plot.on('plotly_hover', function (ev) {
  var p = ev.points[0];
  box.src = thumbs[p.customdata];
  box.style.display = 'block';
});
plot.on('plotly_unhover', function () { box.style.display = 'none'; });
"""


def _write_html(fig, thumbs: list[str], out: str | Path, title: str) -> Path:
    """One page: the inlined plotly figure plus a corner image that shows the hovered point's thumbnail."""
    body = fig.to_html(full_html=False, include_plotlyjs=True, div_id="embedding-plot",
                       default_height="97vh",
                       post_script=_HOVER_JS % json.dumps(thumbs), config={"displaylogo": False})
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
            "<style>body{margin:0;font-family:sans-serif}"
            "#thumb{position:fixed;left:12px;bottom:12px;width:160px;border:2px solid #444;background:#fff;"
            "display:none;z-index:10}</style></head><body>"
            f"<img id='thumb' alt='hovered image'>{body}</body></html>")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
