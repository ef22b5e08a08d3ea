import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kavan.demo import DemoSettings, run_demo


@pytest.mark.slow
def test_demo_writes_real_and_synthetic_results(tmp_path, real_gifs):
    written = run_demo(DemoSettings(out=tmp_path, real_gifs=real_gifs, n_synth=6, workers=1))
    lines = [json.loads(line) for line in (tmp_path / "real-gifs.jsonl").read_text().splitlines()]
    assert {Path(d["path"]).name: d["n_frames"] for d in lines}["folgers-decaffeinated.gif"] == 204
    assert len(lines) == len(list(real_gifs.glob("*.gif")))
    for key in ("real_gifs_sheet", "synthgif_preview", "heatmaps"):
        with Image.open(written[key]) as image:
            assert image.format == "PNG" and min(image.size) > 300
            # a picture, not a blank canvas
            assert np.asarray(image.convert("L")).std() > 10
    assert len(list((tmp_path / "synthgif" / "gifs").glob("*.gif"))) == 6
    model = json.loads((tmp_path / "model.json").read_text())
    assert model["feature_shape"] == {"channels": 2048, "cells": 7}
    # rerunning replaces the SynthGIF folder it wrote instead of failing on a non-empty folder
    run_demo(DemoSettings(out=tmp_path, real_gifs=None, n_synth=4, workers=1))
    assert len(list((tmp_path / "synthgif" / "gifs").glob("*.gif"))) == 4
