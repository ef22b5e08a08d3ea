"""What kavan shows a newcomer: `kavan demo` and `kavan describe`.

- ``demo``: `kavan demo` (what `make demo` runs), a SynthGIF set through the whole pipeline with its pictures, and
  where the real GIFs are (``real_gif_folder``);
- ``describe``: what a config or a model file builds (parameters, feature shape);
- ``config_sources``: which values of a config the paper states and which are the project's.

May import: every package below it (the demo runs an ablation of kavan.experiments).
"""
