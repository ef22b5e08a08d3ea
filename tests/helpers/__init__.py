"""What several test files share: generated data (tiny SynthGIF sets, dataset folders, malformed media, a tiny
model), stand-ins (keypoint estimators, a vote simulation, a web server, headless Chromium) and one script that
prints a docs table (heatmap_defaults_table.py). Imported as ``from helpers.<module> import ...``."""
