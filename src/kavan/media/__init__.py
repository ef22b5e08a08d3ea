"""Media files: reading GIFs (and MP4/WebM) into frames, within limits, and choosing which frames to read.

- ``gif``: the GIF container read by hand (frame count, delays, canvas) without decoding pixels;
- ``decode``: frames as RGB arrays with disposal composited, every safety limit (size, canvas, frames, pixels);
- ``sampling``: TSN frame indices (T segments, one frame from each);
- ``overlay``: an attention map upsampled and drawn over a frame;
- ``layout``: where a dataset folder keeps its media and which suffixes count.

May import: kavan.core.
"""
