"""kavan.core.overrides: the one ``--set key=value`` parser behind every command."""

from __future__ import annotations

import argparse

import pytest

from kavan.cli._common import add_overrides, command_line
from kavan.core.errors import KavanError
from kavan.core.overrides import as_arguments, parse_override, set_overrides


def test_parse_strips_blanks_and_reads_the_value_as_yaml():
    override = parse_override(" train.epochs = 3 ")
    assert (override.key, override.text, override.path) == ("train.epochs", "3", ["train", "epochs"])
    assert override.value() == 3
    assert parse_override("data.crop_scale=[0.8, 1.0]").value() == [0.8, 1.0]
    assert parse_override("model.weights=none").value() == "none"
    assert parse_override("a=b=c").text == "b=c"  # only the first '=' splits


@pytest.mark.parametrize("text, value", [("1e-4", 0.0001), ("1E3", 1000.0), ("-2e-3", -0.002), ("5e+2", 500.0)])
def test_a_number_with_an_exponent_is_a_float(text, value):
    got = parse_override(f"train.lr={text}").value()
    assert type(got) is float and got == value
    assert set_overrides({}, [f"train.lr={text}"]) == {"train": {"lr": value}}


def test_the_train_command_reads_set_with_an_exponent_as_a_float(monkeypatch, tmp_path, capsys):
    from kavan.cli import main
    from kavan.training import trainer

    seen = {}

    def train_split(config, data, out, **kwargs):
        seen["lr"] = config.train.lr
        raise KavanError("stopped before training")

    monkeypatch.setattr(trainer, "train_split", train_split)
    assert main(["train", "--config", "bench/mtl-softatt-hslstm", "--data", str(tmp_path), "--out",
                 str(tmp_path / "run"), "--set", "train.lr=1e-4"]) == 1
    assert "stopped before training" in capsys.readouterr().err  # not "train.lr must be float"
    assert seen["lr"] == 0.0001 and type(seen["lr"]) is float


@pytest.mark.parametrize("text, value", [("5", 5), ('"1e-4"', "1e-4"), ("1e", "1e"), ("e5", "e5")])
def test_ints_stay_ints_and_strings_stay_strings(text, value):
    got = parse_override(f"key={text}").value()
    assert type(got) is type(value) and got == value


@pytest.mark.parametrize("item", ["epochs", "=3", " =3"])
def test_an_item_without_key_or_equals_is_refused(item):
    with pytest.raises(KavanError, match="not of the form key=value"):
        parse_override(item)


def test_set_overrides_makes_sections_and_leaves_the_input_alone():
    data = {"train": {"lr": 0.001}, "model": {"t": 8}}
    result = set_overrides(data, ["train.epochs=5", "loss.lambda_att=0.5", "model.t=4"])
    assert result == {"train": {"lr": 0.001, "epochs": 5}, "model": {"t": 4}, "loss": {"lambda_att": 0.5}}
    assert data == {"train": {"lr": 0.001}, "model": {"t": 8}}


def test_a_value_cannot_be_used_as_a_section():
    with pytest.raises(KavanError, match="epochs is not a section") as err:
        set_overrides({"train": {"epochs": 3}}, ["train.epochs.max=4"], source="cfg.yaml")
    assert err.value.path is not None and str(err.value.path) == "cfg.yaml"


def test_bad_yaml_names_the_item():
    with pytest.raises(KavanError, match=r"override 'train.lr=\[1': value is not valid YAML"):
        set_overrides({}, ["train.lr=[1"])


def test_the_recorded_command_gives_back_the_same_overrides():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data")
    add_overrides(parser, "override")
    args = parser.parse_args(["--data", "d", "--set", "train.epochs=2", "--set", "model.t=4"])
    words = command_line("train", args, ["data"], extra=["--resume"])
    assert words == ["kavan", "train", "--data", "d", "--resume", "--set", "train.epochs=2", "--set", "model.t=4"]
    assert parser.parse_args(["--data", "d", *as_arguments(args.overrides)]).overrides == args.overrides
