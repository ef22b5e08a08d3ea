"""kavan.core.yamlfile: the one YAML reader of configs and --set values reads exponents as floats (YAML 1.2), and
nothing else differently from PyYAML's safe loader."""

from __future__ import annotations

import pytest
import yaml

from kavan.core.yamlfile import load_yaml


@pytest.mark.parametrize("text, value", [
    ("1e-4", 0.0001), ("1E3", 1000.0), ("-2e-3", -0.002), ("5e+2", 500.0), ("1.0e5", 100000.0), ("+1e5", 1e5),
    ("-.5", -0.5), ("1.e5", 1e5),
])
def test_numbers_with_an_exponent_or_without_digits_before_the_dot_are_floats(text, value):
    assert yaml.safe_load(text) == text  # YAML 1.1 (PyYAML) reads them as strings
    got = load_yaml(text)
    assert type(got) is float and got == value


@pytest.mark.parametrize("text", [
    "5", "-5", "1_000", "0x1f", "017", "1:30", "1.5", "1.0e-5", ".5", ".inf", "-.inf", "true", "null", "none",
    "1e", "e5", "1e4x", "e", "1e-", "abc123", "2024-01-02", '"1e-4"', "'5'", "[1, 2.5, x]", "{a: 1}",
])
def test_everything_else_reads_as_the_safe_loader_reads_it(text):
    assert load_yaml(text) == yaml.safe_load(text)
    assert type(load_yaml(text)) is type(yaml.safe_load(text))


def test_the_loader_reads_a_whole_document_and_leaves_pyyaml_alone():
    assert load_yaml("train:\n  lr: 1e-4\n  epochs: 5\n  id: '1e-4'\n") == \
        {"train": {"lr": 0.0001, "epochs": 5, "id": "1e-4"}}
    assert yaml.safe_load("lr: 1e-4") == {"lr": "1e-4"}  # the safe loader itself is not changed
    with pytest.raises(yaml.YAMLError):
        load_yaml("model: [\n")
