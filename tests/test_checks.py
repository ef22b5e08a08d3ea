"""kavan.core.checks: the settings' range checks, one message shape, NaN refused everywhere."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from kavan.core.checks import at_least, greater_than, one_of, positive, within
from kavan.core.errors import KavanError


@dataclass
class Settings:
    a: float = 0.0
    b: float = 1.0
    kind: str = "x"


@pytest.mark.parametrize("check, message", [
    (lambda s: at_least(s, ("b", "a"), 0.5, "p."), "p.a must be >= 0.5, got 0.0"),
    (lambda s: positive(s, ("a",)), "a must be > 0, got 0.0"),
    (lambda s: greater_than(s, ("b",), 1, "q."), "q.b must be > 1, got 1.0"),
    (lambda s: within(s, ("b",), "[0, 1)"), "b must be in [0, 1), got 1.0"),
    (lambda s: within(s, ("a",), "(0, 1]"), "a must be in (0, 1], got 0.0"),
    (lambda s: one_of(s, "kind", ("y", "z"), "t."), "t.kind must be one of y, z, got 'x'"),
])
def test_each_check_names_the_field_the_range_and_the_value(check, message):
    with pytest.raises(KavanError) as err:
        check(Settings())
    assert str(err.value) == message


def test_values_inside_pass_and_nan_never_does():
    at_least(Settings(), ("a", "b"), 0)
    within(Settings(), ("a", "b"))
    within(Settings(a=0.5), ("a",), "(0, 1)")
    one_of(Settings(), "kind", ("x",))
    for check in (lambda s: at_least(s, ("a",), 0), lambda s: within(s, ("a",)), lambda s: positive(s, ("a",)),
                  lambda s: greater_than(s, ("a",), -1)):
        with pytest.raises(KavanError, match="got nan"):
            check(Settings(a=math.nan))
    with pytest.raises(KavanError, match="got inf"):
        positive(Settings(a=math.inf), ("a",))


@pytest.mark.parametrize("field, value, message", [
    ("scale_factor", 1.0, "face_expression.scale_factor must be > 1, got 1.0"),
    ("margin", -1, "face_expression.margin must be >= 0, got -1"),
    ("min_face", 1.5, "face_expression.min_face must be in [0, 1], got 1.5"),
])
def test_the_face_expression_settings_say_which_field_is_out_of_range(field, value, message):
    from kavan.baselines.config import FaceExpressionConfig

    with pytest.raises(KavanError) as err:
        FaceExpressionConfig(**{field: value})
    assert str(err.value) == message

