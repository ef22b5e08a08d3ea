"""Facial keypoints: the 70-point layout (iBUG 68 + pupils), the per-GIF keypoint cache, the heatmaps that
supervise attention, and the offline estimator that makes the keypoints.

- ``landmarks``: the layout, its mirror permutation and its checks;
- ``cache``: one safetensors file of keypoints and confidences per GIF;
- ``heatmaps``: keypoints -> the attention's supervision map (docs/heatmaps.md);
- ``config``: KeypointConfig (backend, thresholds, confidence constants).
- ``mapping``: MediaPipe's 478-point face mesh to the 70-point layout.
- ``backends``: the MediaPipe face mesh and the detection -> dlib 68-point backends (``Estimator``), and
  ``backends.tracking``, which follows faces from frame to frame between detections.
- ``confidence``: the per-point confidence formula.
- ``run``: one file, or a dataset folder (resumable, parallel, sharded) into kavan.keypoints.cache files.
- ``draw`` and ``json_output``: what `kavan keypoints FILE --draw/--json` writes.

Importing this package loads neither MediaPipe nor dlib; the backends do, when an estimator is made.
docs/keypoints.md describes the method, its checks on real GIFs and its speed.

May import: kavan.core, kavan.media and kavan.config (the estimator decodes frames and walks a dataset's media folder;
the heatmaps read their settings, kavan.config.HeatmapConfig).
"""
