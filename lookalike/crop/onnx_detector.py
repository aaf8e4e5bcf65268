"""The `onnx-detector` cropper: boxes from any ONNX object detector the user supplies.

Output formats: `xyxy` ([N, 6] or [1, N, 6]: x0, y0, x1, y1, score, class), `yolov5` ([1, N, 5 + C]: cx, cy, w,
h, objectness, class scores) and `yolov8` ([1, 4 + C, N]: cx, cy, w, h, class scores). Coordinates are in the
detector's input pixels unless normalized=True (0..1). From the command line (`--crop onnx-detector:PATH.onnx`) the
options come from PATH.json beside the model, for example {"input_size": 640, "output_format": "yolov8"}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import BadInput, ModelUnavailable, NotFound
from .regions import nms
from .registry import Cropper, Region

FORMATS = ("xyxy", "yolov5", "yolov8")
OPTIONS = ("input_size", "output_format", "score_threshold", "normalized", "classes", "mean", "std")


def sidecar_options(path: str | Path) -> dict:
    """Detector options from DETECTOR.json beside DETECTOR.onnx, if there is one (for --crop onnx-detector:PATH)."""
    import json

    side = Path(path).with_suffix(".json")
    if not side.is_file():
        return {}
    try:
        opts = json.loads(side.read_text())
    except ValueError as e:
        raise BadInput(f"{side} is not valid JSON ({e}); it may hold: {', '.join(OPTIONS)}") from None
    unknown = set(opts) - set(OPTIONS)
    if unknown:
        raise BadInput(f"{side}: unknown detector options {sorted(unknown)}; valid ones: {', '.join(OPTIONS)}")
    return opts


def parse_detections(out: np.ndarray, fmt: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes n x 4 as x0,y0,x1,y1, scores, classes) from a detector's raw output."""
    out = np.asarray(out, dtype=np.float32)
    if fmt == "yolov8":
        out = out.reshape(-1, out.shape[-1]).T if out.ndim <= 2 else out[0].T
    else:
        out = out.reshape(-1, out.shape[-1])
    need = {"xyxy": 6, "yolov5": 5, "yolov8": 5}[fmt]
    if out.shape[1] < need:
        raise BadInput(f"detector output has {out.shape[1]} values per box; format {fmt!r} needs at least {need}. "
                       f"Pick the format that matches your model: {', '.join(FORMATS)}")
    if fmt == "xyxy":
        return out[:, :4], out[:, 4], out[:, 5].astype(np.int64)
    cx, cy, bw, bh = out[:, 0], out[:, 1], out[:, 2], out[:, 3]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
    cls_scores = out[:, 5:] if fmt == "yolov5" else out[:, 4:]
    if fmt == "yolov5":
        obj = out[:, 4]
        if cls_scores.shape[1] == 0:
            return boxes, obj, np.zeros(len(out), dtype=np.int64)
        return boxes, obj * cls_scores.max(1), cls_scores.argmax(1)
    return boxes, cls_scores.max(1), cls_scores.argmax(1)


class OnnxDetectorCropper(Cropper):
    """Runs a user-supplied ONNX detector on the photo and keeps its most confident boxes."""

    name = "onnx-detector"

    def __init__(self, path: str | Path | None = None, input_size: int | tuple[int, int] = 640,
                 output_format: str = "xyxy", score_threshold: float = 0.25, normalized: bool = False,
                 classes: list[int] | None = None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)):
        if path is None:
            raise BadInput("the onnx-detector cropper needs a model file: use --crop onnx-detector:PATH.onnx")
        if output_format not in FORMATS:
            raise BadInput(f"unknown detector output format {output_format!r}; use one of {', '.join(FORMATS)}")
        self.path = Path(path)
        if not self.path.is_file():
            raise NotFound(f"detector file {self.path} not found. Give the path of an .onnx object detector")
        size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        self.input_w, self.input_h = int(size[0]), int(size[1])
        self.format, self.threshold, self.normalized = output_format, float(score_threshold), bool(normalized)
        self.classes = None if classes is None else {int(c) for c in classes}
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.session = self._open()

    def _open(self):
        try:
            import onnxruntime as ort

            session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own types for bad files
            raise ModelUnavailable(f"cannot load detector {self.path}: {e}") from None
        self._input = session.get_inputs()[0].name
        return session

    def detect(self, img: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """(boxes in image pixels, scores) above the threshold, for the wanted classes."""
        x = np.asarray(img.convert("RGB").resize((self.input_w, self.input_h), Image.Resampling.BILINEAR),
                       dtype=np.float32) / 255.0
        x = ((x - self.mean) / self.std).transpose(2, 0, 1)[None]
        out = self.session.run(None, {self._input: np.ascontiguousarray(x, dtype=np.float32)})[0]
        boxes, scores, classes = parse_detections(out, self.format)
        keep = scores >= self.threshold
        if self.classes is not None:
            keep &= np.isin(classes, list(self.classes))
        sx, sy = (img.width, img.height) if self.normalized else (img.width / self.input_w, img.height / self.input_h)
        boxes = boxes[keep] * np.array([sx, sy, sx, sy], dtype=np.float32)
        return boxes, scores[keep]

    def _propose(self, img, n: int, searcher, filters) -> list[Region]:
        boxes, scores = self.detect(img)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, img.width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, img.height)
        ok = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        boxes, scores = boxes[ok], scores[ok]
        return [Region(tuple(boxes[i]), float(scores[i])) for i in nms(boxes, scores, 0.45, n)]
