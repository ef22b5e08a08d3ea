"""Training one config on one split: the loop, the losses, the metrics, checkpoints, DDP and logs.

- ``trainer``: ``train_split``, set-up, one epoch, evaluation, checkpoint, in that order;
- ``losses``: the paper's multi-task loss (regression, ranking, quadrant, attention supervision);
- ``metrics``: nMSE per GIF and per emotion, Pearson r, quadrant accuracy;
- ``evaluation``: test predictions of a trained model and their metrics;
- ``checkpoint``: resumable checkpoints; ``distributed``: DDP; ``run_log``: the TensorBoard and JSON logs;
  ``provenance``: what a model was trained on; ``init_weights``: fine-tuning, a run's starting weights from a
  trained model (``--init``).

``run_protocol`` (kavan.experiments.protocol) runs ``train_split`` on every split; docs/training.md describes both.

May import: kavan.core, kavan.labels, kavan.media, kavan.keypoints, kavan.config, kavan.data, kavan.synth,
kavan.models.
"""
