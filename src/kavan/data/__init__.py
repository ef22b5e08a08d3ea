"""Datasets: the folder layout, its checks, splits, frame transforms and the loaders that feed the model.

- ``dataset``: a dataset folder (scores, media, keypoints, votes) as ``Dataset``;
- ``check``: `kavan data check`, every problem of a folder in one report;
- ``splits``: the paper's seeded 80/20 splits (and k folds), and split files;
- ``transforms``: the frame transform (resize, crop, flip, colour) that moves keypoints with the pixels;
- ``loader``: ``ClipDataset`` and ``FeatureClipDataset``, the clips (frames or cached features, targets,
  keypoint heatmaps) a training batch is made of;
- ``feature_cache``: features stored per GIF with one validity rule (key and media SHA-256), so a frozen
  backbone, or a baseline's feature extractor, runs once per GIF.

May import: kavan.core, kavan.labels, kavan.media, kavan.keypoints, kavan.config.
"""
