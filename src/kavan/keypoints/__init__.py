"""Offline facial keypoints for GIFs: 70 points (iBUG 68 + pupils) with a confidence each, cached per GIF.

- ``config``: KeypointConfig (backend, thresholds, confidence constants).
- ``mapping``: MediaPipe's 478-point face mesh to the 70-point layout.
- ``backends``: the MediaPipe face mesh and the detection -> dlib 68-point backends (``Estimator``), and
  ``backends.tracking``, which follows faces from frame to frame between detections.
- ``confidence``: the per-point confidence formula.
- ``run``: one file, or a dataset folder (resumable, parallel, sharded) into kavan.keypoint_cache files.
- ``draw`` and ``json_output``: what `kavan keypoints FILE --draw/--json` writes.

Importing this package loads neither MediaPipe nor dlib; the backends do, when an estimator is made.
docs/keypoints.md describes the method, its checks on real GIFs and its speed.
"""
