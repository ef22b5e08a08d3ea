"""ONNX export and the ONNX Runtime backend (kavan.predict.onnx): the graph reproduces PyTorch on real clips, the
export refuses a graph outside the tolerance and leaves no file, `kavan predict --backend onnxruntime` and
`kavan.load(..., backend="onnxruntime")` give the torch backend's records, and a file without kavan's metadata is
refused by name."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import kavan
from kavan.cli import main
from kavan.core.errors import KavanError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from kavan.predict import onnx as kavan_onnx  # noqa: E402 (after the skip: needs the [onnx] extra)

CHECK = ("cool.gif", "rainbow-vomit.gif")  # a real face and the cartoon


@pytest.fixture(scope="module")
def export_run(tiny_model, real_gifs, tmp_path_factory) -> tuple[Path, dict, object]:
    """`kavan export` of the tiny model, checked on two real clips: the ONNX file, the report it printed and the
    program torch's exporter returned (one export for the whole module: the dynamo exporter takes most of the
    module's time)."""
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    printed, programs = io.StringIO(), []
    export = torch.onnx.export

    def keeping(*args, **kwargs):
        programs.append(export(*args, **kwargs))
        return programs[-1]

    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(torch.onnx, "export", keeping)
        code = main(["export", str(tiny_model), "--onnx", str(out), "--check",
                     *(str(real_gifs / name) for name in CHECK)])
    assert code == 0 and len(programs) == 1
    return out, json.loads(printed.getvalue()), programs[0]


@pytest.fixture(scope="module")
def exported(export_run) -> Path:
    return export_run[0]


def test_the_onnx_predictor_gives_the_torch_predictors_answers(exported, tiny_model, real_gifs):
    torch_side = kavan.load(tiny_model, "cpu")
    onnx_side = kavan.load(exported, backend="onnxruntime")
    assert onnx_side.info.config_hash == torch_side.info.config_hash and onnx_side.t == torch_side.t
    for name in [*CHECK, "like-a-boss.gif"]:
        a = torch_side.analyse(str(real_gifs / name)).prediction.to_json()
        b = onnx_side.analyse(str(real_gifs / name)).prediction.to_json()
        assert set(a) == set(b)
        assert np.allclose([a["emotions"][e] for e in a["emotions"]], [b["emotions"][e] for e in b["emotions"]],
                           atol=kavan_onnx.TOLERANCE)
        assert a["quadrant"]["label"] == b["quadrant"]["label"]
    cells = onnx_side.attention(str(real_gifs / "cool.gif")).cells
    assert np.allclose(cells, torch_side.attention(str(real_gifs / "cool.gif")).cells, atol=kavan_onnx.TOLERANCE)
    assert np.allclose(cells.sum(axis=(1, 2)), 1.0, atol=1e-5)


def test_kavan_predict_with_the_onnxruntime_backend(exported, tiny_model, real_gifs, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("cool.gif", "dis-good.gif", "rainbow-vomit.gif"):
        (folder / name).symlink_to(real_gifs / name)
    (folder / "bad.gif").write_text("not a GIF")
    records = {}
    for backend, model in (("torch", tiny_model), ("onnxruntime", exported)):
        out = tmp_path / f"{backend}.jsonl"
        assert main(["predict", str(folder), "--checkpoint", str(model), "--backend", backend, "--out", str(out),
                     "--workers", "0", "--no-progress"]) == 1  # bad.gif fails in both
        records[backend] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in records["torch"]] == [r["path"] for r in records["onnxruntime"]]
    for a, b in zip(records["torch"], records["onnxruntime"]):
        assert set(a) == set(b)
        if "error" in a:
            assert a["error"] == b["error"]
            continue
        assert max(abs(a["emotions"][e] - b["emotions"][e]) for e in a["emotions"]) <= kavan_onnx.TOLERANCE


def test_an_export_outside_the_tolerance_is_refused_and_leaves_no_file(export_run, tiny_model, tmp_path,
                                                                       monkeypatch):
    # the exporter's program for this same model file comes from the module's export (tracing it again takes ~20 s);
    # the check, the refusal and the clean-up run as in any export
    monkeypatch.setattr(torch.onnx, "export", lambda *args, **kwargs: export_run[2])
    monkeypatch.setattr(kavan_onnx, "TOLERANCE", 0.0)  # no float graph reproduces another to the last bit
    with pytest.raises(KavanError, match="differs from PyTorch"):
        kavan_onnx.export_onnx(tiny_model, tmp_path / "out" / "model.onnx")
    assert list((tmp_path / "out").iterdir()) == []


def test_files_that_are_not_kavan_onnx_files_are_refused(tmp_path, tiny_model):
    import onnx
    from onnx import TensorProto, helper

    with pytest.raises(KavanError, match="ONNX file not found"):
        kavan.load(tmp_path / "none.onnx", backend="onnxruntime")
    (tmp_path / "text.onnx").write_text("not protobuf at all")
    with pytest.raises(KavanError, match="text.onnx"):
        kavan.load(tmp_path / "text.onnx", backend="onnxruntime")
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), tmp_path / "other.onnx")
    with pytest.raises(KavanError, match="without kavan's metadata"):
        kavan.load(tmp_path / "other.onnx", backend="onnxruntime")
    with pytest.raises(KavanError, match="unknown backend"):
        kavan.load(tiny_model, backend="tensorrt")


def test_the_export_command_prints_its_check(export_run):
    out, report, _ = export_run
    assert report["outputs"] == ["intensities", "quadrant_logits", "attention"]
    assert report["check_clips"] == len(CHECK) and report["opset"] == kavan_onnx.OPSET
    assert set(report["max_abs_difference"]) == {"intensities", "quadrant_logits", "attention"}
    assert all(0 <= d <= kavan_onnx.TOLERANCE for d in report["max_abs_difference"].values()), report
    assert out.is_file()
