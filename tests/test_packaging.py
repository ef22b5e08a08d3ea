"""kavan as an installed package: what the wheel holds, one version, clean requirements, no machine paths, and the
main commands run from the unpacked wheel alone, outside the source tree."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import kavan
from kavan.config import shipped_configs

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(kavan.__file__).resolve().parent
# an absolute path of some machine: a Unix home, root or temporary folder, a workplace folder, a Windows drive, or a
# folder beside the checkout
MACHINE_PATH = re.compile(r"""(?<![\w.])(/home/|/root/|/work/|/tmp/|/Users/|[A-Z]:\\\\|\.\./shared)""")


def test_no_file_of_the_package_names_a_machine_path():
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".yaml", ".html", ".js", ".css", ".md", ".txt"}:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if MACHINE_PATH.search(line):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_machine_path_pattern_catches_what_it_should():
    for line in ('ROOT = Path("/work/shared/data")', "default=/home/me/gifs", r'"C:\\data"', "../shared/data/x"):
        assert MACHINE_PATH.search(line), line
    for line in ("see docs/data.md", "a/b/c.gif", "sys.prefix / 'share'", "https://example.org/x"):
        assert not MACHINE_PATH.search(line), line


@pytest.mark.subprocess
def test_one_version_from_the_package_metadata():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert kavan.__version__ == importlib.metadata.version("kavan") == declared
    assert declared not in (PACKAGE / "__init__.py").read_text()  # written once, in pyproject.toml
    done = subprocess.run([sys.executable, "-m", "kavan", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"kavan {declared}"


@pytest.mark.subprocess
def test_pip_check_is_clean():
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_extras_cover_every_third_party_import():
    """Each third-party module the package imports is a core dependency, or belongs to the extra that kavan's
    CLI names when it is missing (kavan.cli.EXTRAS)."""
    from kavan.cli import EXTRAS

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {"torch", "torchvision", "numpy", "PIL", "av", "yaml", "tqdm", "matplotlib", "safetensors"}
    names = {re.split(r"[<>=!\[ ]", r)[0].lower() for r in project["dependencies"]}
    assert names == {"torch", "torchvision", "numpy", "pillow", "av", "pyyaml", "tqdm", "matplotlib", "safetensors"}
    imported = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"kavan", "__future__"}
    assert third_party - core <= set(EXTRAS)
    assert set(EXTRAS) - third_party == {"tensorboard"}  # imported through torch.utils.tensorboard
    extras = project["optional-dependencies"]
    assert {"train", "keypoints", "baselines", "all", "test"} <= set(extras)
    assert set(EXTRAS.values()) <= set(extras)


@pytest.mark.subprocess
def test_a_missing_extra_names_what_to_install(tmp_path):
    votes = tmp_path / "votes.csv"
    votes.write_text("left,right,emotion,choice\na,b,happiness,left\n")
    code = ("import sys; sys.modules['trueskill'] = None\n"
            "from kavan.cli import main\n"
            f"sys.exit(main(['scores', {str(votes)!r}, '--out', {str(tmp_path / 's.csv')!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert "pip install 'kavan[train]'" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(REPO)], check=True, capture_output=True)
    (found,) = out.glob("kavan-*.whl")
    return found


@pytest.mark.subprocess
def test_the_wheel_holds_every_shipped_config_and_the_web_page(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in shipped_configs():
        assert f"kavan/configs/{name}.yaml" in names, name
    assert any(n.startswith("kavan/serve/static/") and n.endswith(".html") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "docs/")) for n in names)


@pytest.mark.subprocess
@pytest.mark.slow
def test_demo_and_ablation_run_from_the_unpacked_wheel_in_an_empty_folder(wheel, tmp_path):
    """The commands a user runs after `pip install kavan`: no source tree on the import path, an empty working
    folder, every config and web file from the package itself."""
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    work = tmp_path / "work"
    work.mkdir()
    source = str(PACKAGE.parent)
    launcher = (f"import sys; sys.path[:] = [p for p in sys.path if p.rstrip('/') != {source!r}]\n"
                "import kavan\n"
                f"assert kavan.__file__.startswith({str(unpacked)!r}), kavan.__file__\n"
                "from kavan.cli import main\n"
                "sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": str(unpacked), "OMP_NUM_THREADS": "1"}
    env.pop("KAVAN_REAL_GIFS", None)

    def kavan_command(*argv: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-c", launcher, *argv], cwd=work, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, f"kavan {' '.join(argv)}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        return done

    demo = kavan_command("demo", "--out", "demo", "--n", "12", "--epochs", "1", "--workers", "1", "--no-progress",
                         "--set", "train.batch_size=4")
    assert "real-GIF" in demo.stderr or "real GIF" in demo.stderr  # the one line saying the sheet is skipped
    assert (work / "demo" / "model.safetensors").is_file()
    # the demo's ablation is `kavan ablation --settings bench` on every shipped bench row, read from the package
    results = (work / "demo" / "ablation" / "results.md").read_text()
    assert "MTL Soft-Att + HS-LSTM" in results and "chance" in results.lower()
    kavan_command("synth", "--out", "tiny", "--n", "12", "--workers", "1", "--no-progress")
    assert len(list((work / "tiny" / "gifs").glob("*.gif"))) == 12
    shown = kavan_command("configs", "show", "bench/mtl-softatt-hslstm").stdout
    assert shown.startswith("# Table 1/2 row 'MTL Soft-Att + HS-LSTM' at BENCHMARK settings")


def test_a_shipped_config_is_named_like_its_file_and_the_old_paths_still_work(tmp_path, monkeypatch, capsys):
    from kavan.cli import main
    from kavan.config import SETTINGS, config_file, config_hash, load_config

    shipped = shipped_configs()
    assert {name.split("/")[0] for name in shipped} == set(SETTINGS) and len(shipped) == 24
    path = shipped["bench/mtl-softatt-hslstm"]
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    assert config_file("bench/mtl-softatt-hslstm") == config_file("bench/mtl-softatt-hslstm.yaml") == path
    assert config_file("configs/bench/mtl-softatt-hslstm.yaml") == path
    assert config_file("configs/softatt-lstm.yaml") == config_file("softatt-lstm") == shipped["paper/softatt-lstm"]
    mine = tmp_path / "bench" / "mtl-softatt-hslstm.yaml"  # a file of the user's wins over a shipped name
    mine.parent.mkdir()
    mine.write_text("model: {}\n")
    assert config_file(mine) == mine and config_file("bench/mtl-softatt-hslstm.yaml") == Path("bench/mtl-softatt-hslstm.yaml")
    assert main(["configs", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == list(shipped)
    assert main(["configs", "show", "paper/softatt-lstm", "--as-written"]) == 0
    assert capsys.readouterr().out == shipped["paper/softatt-lstm"].read_text()
    assert main(["configs", "show", "bench/mtl-softatt-hslstm"]) == 0  # resolved, though a bench/ folder is here
    shown = tmp_path / "shown.yaml"
    shown.write_text(capsys.readouterr().out)
    assert config_hash(load_config(shown)) == config_hash(load_config("bench/mtl-softatt-hslstm"))
    assert main(["configs", "show", "bench-trainable/softatt-lstm", "--diff"]) == 0
    changed = [line for line in capsys.readouterr().out.splitlines()[2:] if line[:1] in "+-"]
    assert changed == ["-  frozen: true", "-  frozen_until: ''", "+  frozen: false", "+  frozen_until: features.12"]
    assert main(["configs", "show", "bench/resnet50-lstm", "--diff"]) == 1
    assert "names no base" in capsys.readouterr().err
    assert main(["configs", "show", "bench/none"]) == 1
    assert "no such file, nor a shipped config" in capsys.readouterr().err
