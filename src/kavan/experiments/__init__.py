"""Experiments: the paper's protocol over splits, the ablation tables, the claims judged on them, attention
localisation.

- ``protocol``: one config over every split, mean ± std of the paper's metrics (``run_protocol``);
- ``ablation``: the rows of a setting (bench, bench-trainable, paper) and the baselines, one table;
- ``claims``: the paper's claims as paired comparisons with a verdict (holds, within noise, does not hold);
- ``reporting``: results.md and its tables;
- ``localisation``: how often attention falls on the face, against a centre prior;
- ``tables``: the "mean ± std" cell and the Markdown table renderer of evaluation.md and results.md.

May import: every package below it (core, assets, labels, media, config, keypoints, data, synth, models, predict,
training, baselines).
"""
