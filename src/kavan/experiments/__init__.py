"""Experiments: the paper's protocol over splits, the ablation tables, the claims judged on them, attention
localisation, the demo, and what a config builds.

- ``protocol``: one config over every split, mean ± std of the paper's metrics (``run_protocol``);
- ``ablation``: the rows of a setting (bench, bench-trainable, paper) and the baselines, one table;
- ``claims``: the paper's claims as paired comparisons with a verdict (holds, within noise, does not hold);
- ``reporting``: results.md and its tables;
- ``localisation``: how often attention falls on the face, against a centre prior;
- ``config_sources`` and ``describe``: which values the paper states, and what a config builds;
- ``demo``: `kavan demo`, a SynthGIF set through the whole pipeline with its pictures.

May import: every package below it (core, labels, media, keypoints, config, data, synth, models, predict,
training, baselines).
"""
