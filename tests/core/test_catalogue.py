"""The task catalogue: names, signatures, docs, retry defaults and periodic schedules."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest

from desktop_app.core.catalogue import Catalogue
from desktop_app.core.errors import UserError


def test_lists_every_task_with_full_and_short_names(huey):
    catalogue = Catalogue(huey)
    names = {t.short_name for t in catalogue}
    assert names == {"add", "paint", "gather", "boom", "with_context", "every_six_hours"}
    add = catalogue.get("add")
    assert add.name.endswith(".add")
    assert catalogue.get(add.name) is add


def test_signature_defaults_annotations_and_docs(huey):
    paint = Catalogue(huey).get("paint")
    params = {p.name: p for p in paint.params}
    assert params["colour"].required
    assert params["colour"].annotation_text == "Colour"
    assert not params["when"].required
    assert params["price"].kind == "KEYWORD_ONLY"
    assert paint.summary == "Paint something."
    assert (paint.retries, paint.retry_delay, paint.priority) == (2, 5.0, 7)
    assert not paint.periodic


def test_context_task_hides_the_injected_parameter(huey):
    info = Catalogue(huey).get("with_context")
    assert [p.name for p in info.params] == ["n"]
    assert "task" not in info.signature.parameters


def test_var_args_are_described(huey):
    gather = Catalogue(huey).get("gather")
    kinds = [p.kind for p in gather.params]
    assert kinds == ["VAR_POSITIONAL", "VAR_KEYWORD"]
    assert not any(p.required for p in gather.params)


def test_periodic_schedule_is_described_and_next_runs_computed(huey):
    info = Catalogue(huey).get("every_six_hours")
    assert info.periodic
    assert info.schedule == "0 */6 * * *"
    runs = info.next_runs(dt.datetime(2026, 11, 25, 7, 30), count=3)
    assert runs == [
        dt.datetime(2026, 11, 25, 12, 0),
        dt.datetime(2026, 11, 25, 18, 0),
        dt.datetime(2026, 11, 26, 0, 0),
    ]


def test_unknown_and_ambiguous_names(huey):
    catalogue = Catalogue(huey)
    with pytest.raises(UserError, match="Unknown task 'nope'; known tasks: add, boom"):
        catalogue.get("nope")
    # a second task with the same short name in another module makes it ambiguous
    other = type(
        "add",
        (huey._registry._registry[catalogue.get("add").name].__bases__[0],),
        {"__module__": "elsewhere", "execute": lambda self: None},
    )
    huey._registry.register(other)
    with pytest.raises(UserError, match="ambiguous; use one of"):
        Catalogue(huey).get("add")
    assert Catalogue(huey).get("elsewhere.add").module == "elsewhere"


def test_demo_tasks_are_documented_and_annotated():
    from tasks import huey as default_huey

    catalogue = Catalogue(default_huey)
    assert {
        "send_email",
        "noop",
        "sleep_for",
        "always_fail",
        "flaky",
        "make_thumbnail",
        "crunch_report",
        "tidy_temp_files",
    } <= {t.short_name for t in catalogue}
    for task in catalogue:
        assert task.doc, f"{task.name} has no docstring"
        for p in task.params:
            assert p.annotation is not inspect.Parameter.empty, f"{task.name}.{p.name}"
    assert catalogue.get("make_thumbnail").priority == 10
    assert catalogue.get("flaky").retries == 3
    assert catalogue.get("tidy_temp_files").periodic
