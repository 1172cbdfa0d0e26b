"""checker.parse.base.construct against pydantic's model_construct, which it stands in for.

Both must give the same instance: the same field dict in the same order (a parse cache pickles it),
the same set of fields set, no extra and no private values; and a class or values construct does
not handle must go to model_construct itself.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from pydantic import BaseModel, Field, PrivateAttr

from checker.parse.base import ParseProblem, ParseResult, Sourced, construct
from checker.parse.loadgen_summary import Headline, LoadGenSummary, StatBlock


class _Aliased(BaseModel):
    name: str = Field("x", alias="Name")


class _Private(BaseModel):
    value: int = 0
    _seen: int = PrivateAttr(default=0)


class _MutableDefault(BaseModel):
    items: list[int] = [1]  # noqa: RUF012 - pydantic copies it per instance


class _FactoryWithData(BaseModel):
    a: int = 1
    b: int = Field(default_factory=lambda data: data["a"] + 1)


def _state(model: BaseModel) -> tuple[Any, ...]:
    return (type(model), list(model.__dict__.items()), model.__pydantic_fields_set__,
            model.__pydantic_extra__, model.__pydantic_private__)


CASES = [
    (LoadGenSummary, {"generation": "current", "footer_only": False}),
    (LoadGenSummary, {"notes": [Sourced("n", 3)], "generation": "2019", "fields": {"a": Sourced("b", 1)},
                      "headline": Headline.model_construct(label="x", value=1.0, line=2)}),
    (LoadGenSummary, {}),  # a required field missing
    (LoadGenSummary, {"generation": "current", "unknown": 1}),  # not a field
    (StatBlock, {"values": {}}),
    (StatBlock, {}),
    (Headline, {"label": "Samples per second", "value": 2.5, "line": 4}),
    (Headline, {"value": 2.5, "label": "x", "line": 4}),  # another order than the fields'
    (ParseProblem, {"path": "p", "code": "syntax", "message": "m"}),
    (ParseResult, {"kind": "k", "path": "p"}),
    (_Aliased, {"Name": "y"}),
    (_Aliased, {"name": "y"}),
    (_Private, {"value": 3}),
    (_MutableDefault, {}),
    (_FactoryWithData, {"a": 5}),
]


@pytest.mark.parametrize(("cls", "values"), CASES)
def test_construct_builds_what_model_construct_builds(cls, values):
    fast, careful = construct(cls, dict(values)), cls.model_construct(**dict(values))
    assert _state(fast) == _state(careful)
    assert _state(pickle.loads(pickle.dumps(fast))) == _state(pickle.loads(pickle.dumps(careful)))
    assert fast == careful


def test_construct_gives_each_instance_its_own_containers():
    one, two = construct(LoadGenSummary, {"generation": "x"}), construct(LoadGenSummary, {"generation": "x"})
    one.fields["a"] = Sourced("b")
    assert two.fields == {} and one.stats is not two.stats
