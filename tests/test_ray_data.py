"""Ray Data: kavan's model as a map_batches callable class over Ray's binary-file reader, on a local Ray runtime
with 2 CPUs, gives `kavan predict`'s records, record by record (error records included)."""

from __future__ import annotations

import json

import pytest

from kavan.cli import main

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False
        yield ray
    finally:
        ray.shutdown()


def test_ray_records_equal_kavan_predicts(local_ray, tiny_model, real_gifs, tmp_path):
    from kavan.predict.ray_data import predict_dataset, read_records

    folder = tmp_path / "clips"
    folder.mkdir()
    for gif in sorted(real_gifs.glob("*.gif")):
        (folder / gif.name).symlink_to(gif)
    (folder / "bad.gif").write_text("not a GIF, whatever its name says")
    expected = tmp_path / "predict.jsonl"
    assert main(["predict", str(folder), "--checkpoint", str(tiny_model), "--out", str(expected), "--workers", "0",
                 "--no-progress"]) == 1
    want = sorted((json.loads(line) for line in expected.read_text().splitlines()), key=lambda r: r["path"])
    # two actors of half a CPU each, so that the reader has a CPU of the two: with a whole CPU each the read task
    # waits for a CPU forever (a Ray Data resource deadlock on small machines, docs/scale.md)
    predict_dataset([str(folder)], str(tiny_model), str(tmp_path / "ray-out"), batch_size=3, concurrency=2,
                    num_cpus=0.5)
    got = read_records(tmp_path / "ray-out")
    assert [r["path"] for r in got] == [r["path"] for r in want] and len(got) == 11
    for a, b in zip(got, want):
        if "error" in b:
            assert a == b
            continue
        assert set(a) == set(b) and a["quadrant"]["label"] == b["quadrant"]["label"]
        assert max(abs(a["emotions"][e] - b["emotions"][e]) for e in b["emotions"]) < 1e-5
