"""kavan: human-centred emotion recognition in animated GIFs (KAVAN, Yang, Zhang & Luo, ICME 2019)."""

__version__ = "0.1.0"
