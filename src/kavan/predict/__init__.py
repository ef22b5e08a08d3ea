"""Prediction: the Python API (Predictor, ``load``), batch prediction over files, and the pictures.

- kavan.predict.predictor: ``load(checkpoint)`` -> Predictor with ``.predict(path_or_frames)`` and ``.attention(...)``;
- kavan.predict.result: Prediction (the fields of `kavan predict`'s JSON), Attention, Analysis;
- kavan.predict.clip: TSN evaluation frames of a file or of frames in memory, transformed for the model;
- kavan.predict.batch: many files through DataLoader workers and batched forwards;
- kavan.predict.pictures: the attention overlay GIF and the emotion bar chart;
- kavan.predict.inputs, kavan.predict.jsonl: the command's file discovery and its resumable --out file;
- kavan.predict.onnx: ONNX export checked against PyTorch, and the ONNX Runtime Predictor ([onnx] extra);
- kavan.predict.ray_data: the model as a Ray Data map_batches class, for clusters ([ray] extra).

May import: kavan.core, kavan.media, kavan.keypoints, kavan.config, kavan.data, kavan.models; never kavan.training
(inference needs no training code).
"""

from kavan.predict.batch import BatchSettings, FileResult, predict_files
from kavan.predict.pictures import OverlayStyle, chart_png, overlay_gif, write_chart, write_overlay
from kavan.predict.predictor import Predictor, load
from kavan.predict.result import Analysis, Attention, ModelInfo, Prediction, QuadrantResult

__all__ = [
    "Analysis", "Attention", "BatchSettings", "FileResult", "ModelInfo", "OverlayStyle", "Prediction", "Predictor",
    "QuadrantResult", "chart_png", "load", "overlay_gif", "predict_files", "write_chart", "write_overlay",
]
