"""benchmarks/gpu_check.sh on a machine without a GPU: it times batch prediction on the CPU (torch and ONNX
Runtime), says why the GPU part was skipped, and exits 0."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.mark.subprocess
def test_without_a_gpu_the_cpu_part_runs_and_the_rest_says_why(tiny_model, real_gifs, tmp_path):
    pytest.importorskip("onnxruntime")
    env = {**os.environ, "REPEAT": "1", "CHECKPOINT": str(tiny_model), "KAVAN_REAL_GIFS": str(real_gifs)}
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(tmp_path / "out")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "out" / "predict-cpu.json").read_text())
    assert result["gifs"] == len(list(real_gifs.glob("*.gif"))) and result["device"] == "cpu"
    assert {row["backend"]: row["gifs_s"] > 0 for row in result["rows"]} == {"torch": True, "onnxruntime": True}
    if shutil.which("nvidia-smi") is None:
        assert "nvidia-smi not found" in (tmp_path / "out" / "skipped.txt").read_text()
        assert "skipped" in done.stdout
