"""Training and the paper's evaluation protocol: batches, feature cache, checkpoints, DDP, logs, metrics.

``train_split`` trains one config on one split and tests it (kavan.training.trainer); ``run_protocol`` does that
for every split and reports mean ± std (kavan.training.protocol). docs/training.md describes both.
"""
