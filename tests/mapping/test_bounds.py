"""What an expression may cost: huge results are refused before they are made, alike in the sandbox and in
the expressions translated to Python, and the record fails alone naming its field and the cause.

The hostile values are large enough to pass the bounds many times over, yet small enough that without the
bounds each would still finish in moments: a test here never hangs, it fails.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from app.mapping import bounds
from app.mapping.bounds import MAX_DIGITS, MAX_LENGTH, ExpressionTooCostly
from app.mapping.expressions import ENVIRONMENT, ExpressionSyntaxError, compile_condition, compile_template
from app.record_checks import written_size
from tests.mapping.conftest import CompileFields
from tests.mapping.test_compiler import mapping_error
from tests.mapping.test_jinja_python import _compiled

RECORD: dict[str, Any] = {
    "id": 7,
    "n": 20_000,
    "s": "x" * 2_000,
    "items": list(range(2_000)),
    "many": ["y" * 1_000] * 2_000,
    "tab": "\t" * 1_000,
    "lines": "\n" * 2_000,
    "some": list(range(250)),
    "few": list(range(20)),
    "nested": [[item] for item in range(20_000)],
    "day": date(2024, 3, 5),
    "moment": datetime(2024, 3, 5, 9, 30),
}

COSTLY = [
    ("{{ record.n ** record.n }}", "** would make a number of about 86,021 digits; the most is 4300"),
    ("{{ 2 ** 20000 }}", "** would make a number of about 6,021 digits"),
    ("{{ (10 ** 3000) * (10 ** 3000) }}", "* would make a number of about 6,001 digits"),
    ("{{ record.s * record.n }}", f"* would make 40,000,000 characters or items; the most is {MAX_LENGTH:,}"),
    ("{{ record.items * 600 }}", "* would make 1,200,000 characters or items"),
    ("{{ 'ab' * 600000 }}", "* would make 1,200,000 characters"),
    ("{{ '%09999999d' % 1 }}", "% would make 9,999,999 characters"),
    ("{{ '%0" + "9" * 5000 + "d' % 1 }}", "% would make 10,000,000 characters"),
    ("{{ '{:" + "9" * 5000 + "}'.format(1) }}", "format would make 10,000,000 characters"),
    ("{{ '%.*f' % (1500000, 1.5) }}", "% would make 1,500,000 characters"),
    ("{{ '%09999999d' | format(1) }}", "% would make 9,999,999 characters"),
    ("{{ 'x' | center(9999999) }}", "center would make 9,999,999 characters"),
    ("{{ record.lines | indent(record.n) }}", "indent would make 40,022,000 characters"),
    ("{{ record.s | replace('', record.s) }}", "replace would make 4,004,000 characters"),
    ("{{ record.many | join(record.s) }}", "join would make 5,998,000 characters"),
    ("{{ record.items | batch(1500000, 0) | list }}", "batch/slice would make 1,500,000 characters"),
    ("{{ record.items | slice(1500000) | list }}", "batch/slice would make 1,500,000"),
    ("{{ record.s | wordwrap(1, wrapstring=record.s) }}", "wordwrap would make"),
    ("{{ 'x'.ljust(9999999) }}", "ljust would make 9,999,999 characters"),
    ("{{ 'x'.zfill(9999999) }}", "zfill would make 9,999,999"),
    ("{{ record.tab.expandtabs(record.n) }}", "expandtabs would make 20,001,000"),
    ("{{ record.s.replace('x', record.s) }}", "replace would make 4,000,000"),
    ("{{ record.s.join(record.many) }}", "join would make 5,998,000"),
    ("{{ record.s.translate({120: record.s}) }}", "translate would make 4,000,000"),
    ("{{ (1).to_bytes(9999999, 'big') }}", "to_bytes would make 9,999,999"),
    ("{{ '{:>9999999}'.format(1) }}", "format would make 9,999,999"),
    ("{{ '{:.{p}f}'.format(1.5, p=1500000) }}", "format would make 1,500,000"),
    ("{{ '{x:>9999999}'.format_map({'x': 1}) }}", "format would make 9,999,999"),
    (
        "{{ 'a' * 999999 ~ 'a' * 999999 ~ 'a' * 999999 ~ 'a' * 999999 ~ 'a' * 999999 ~ 'a' * 999999 ~ 'a' * 999999"
        " ~ 'a' * 999999 ~ 'a' * 999999 ~ 'a' * 999999 ~ 'a' * 999999 }}",
        "*: the expression does more than 10,000,000 steps for one record",
    ),
    (
        "{% for a in record.some %}{% for b in record.some %}{% for c in record.some %}.{% endfor %}"
        "{% endfor %}{% endfor %}",
        "a loop: the expression does more than 10,000,000 steps",
    ),
    (
        "{% for a in record.few %}{{ record.s.center(999999) }}{% endfor %}",
        "the expression does more than 10,000,000 steps",
    ),
    ("{{ record.few | map('center', 999999) | join }}", "the expression does more than 10,000,000 steps"),
    ("{{ '%(name)999999999s' | format(name='x') }}", "% would make 999,999,999 characters"),
    ("{{ '%(a(b))999999999s' % {'a(b)': 1} }}", "% would make 999,999,999 characters"),
    ("{{ record.items | tojson(indent=999999999) }}", "tojson would make"),
    ("{{ record.nested | sum(start=[]) | length }}", "sum: the expression does more than 10,000,000 steps"),
    # strftime pads as wide as asked, or gives '' past some width: a value silently lost
    ("{{ record.day.strftime('%999999999Y') }}", "strftime: a part of the format is 999999999 characters wide"),
    (
        "{{ record.moment.strftime('%d %-101H') }}",
        "strftime: a part of the format is 101 characters wide; the most is 100",
    ),
    ("{{ record.moment.time().strftime('%0999M') }}", "strftime: a part of the format is 999 characters wide"),
    ("{{ '{:%999999Y}'.format(record.day) }}", "format: a part of the format is 999999 characters wide"),
]


def _sandboxed(text: str) -> Any:
    """``text`` evaluated by Jinja's sandbox alone, as one evaluation."""
    if text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1:
        expression = ENVIRONMENT.compile_expression(text[2:-2], undefined_to_none=True)
        bounds.start_evaluation()
        return expression(record=RECORD)
    bounds.start_evaluation()
    return ENVIRONMENT.from_string(text).render(record=RECORD)


@pytest.mark.parametrize(("text", "cause"), COSTLY)
def test_a_costly_expression_is_refused_before_it_runs(text: str, cause: str) -> None:
    with pytest.raises(ExpressionTooCostly) as compiled:
        compile_template(text)(RECORD)

    assert cause in str(compiled.value)


@pytest.mark.parametrize(("text", "cause"), [case for case in COSTLY if not case[0].startswith("{%")])
def test_the_sandbox_refuses_what_the_translation_refuses_with_the_same_words(text: str, cause: str) -> None:
    with pytest.raises(ExpressionTooCostly) as sandboxed:
        _sandboxed(text)

    assert cause in str(sandboxed.value)
    _, source = _compiled(text)
    with pytest.raises(ExpressionTooCostly) as compiled:
        compile_template(text)(RECORD)
    assert str(compiled.value) == str(sandboxed.value), source


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{ 2 ** 1000 }}", 2**1000),
        ("{{ 10 ** 4299 }}", 10**4299),
        ("{{ 2 ** -2 }}", 0.25),
        ("{{ 2.5 ** 2 }}", 6.25),
        ("{{ -1 ** 99999999999 }}", -1),
        ("{{ 0 * record.n }}", 0),
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ 'ab' * -3 }}", ""),
        ("{{ [1] * 3 }}", [1, 1, 1]),
        ("{{ 3 * 'ab' }}", "ababab"),
        ("{{ record.n % 7 }}", 20_000 % 7),
        ("{{ '%05d' % record.id }}", "00007"),
        ("{{ record.day.strftime('%d.%m.%Y %%100Y %10Y') }}", "05.03.2024 %100Y 0000002024"),
        ("{{ '{:%Y-%m}'.format(record.moment) }}", "2024-03"),
        ("{{ '%s-%s' % (1, 2) }}", "1-2"),
        ("{{ '%05d' | format(record.id) }}", "00007"),
        ("{{ 'x' | center(5) }}", "  x  "),
        ("{{ 'ab'.ljust(4, '.') }}", "ab.."),
        ("{{ '{:>5}'.format(7) }}", "    7"),
        ("{{ ['a', 'b'] | join('-') }}", "a-b"),
        ("{{ 'a b'.replace(' ', '_') }}", "a_b"),
        ("{{ (record.s * 500) | length }}", 1_000_000),
    ],
)
def test_what_stays_within_the_bounds_works_as_before(text: str, value: Any) -> None:
    assert compile_template(text)(RECORD) == value
    assert _sandboxed(text) == value


def test_bounds_count_per_evaluation_not_per_mapping() -> None:
    """Each record starts from nothing: a mapping run over many records is not refused for their sum."""
    half = "{{ 'a' * 999999 ~ 'a' * 999999 ~ 'a' * 999999 ~ 'a' * 999999 ~ 'a' * 999999 }}"
    compiled = compile_template(half)
    sandboxed = compile_template("{% if true %}" + half + "{% endif %}")

    for _ in range(5):
        assert len(compiled(RECORD)) == 5 * 999_999
        assert len(sandboxed(RECORD)) == 5 * 999_999


def test_a_condition_is_bounded_too() -> None:
    with pytest.raises(ExpressionTooCostly, match=r"\*\* would make"):
        compile_condition("record.n ** record.n > 1")(RECORD)


def test_range_and_other_globals_do_not_exist() -> None:
    for text in ("{{ range(10 ** 9) | list }}", "{{ lipsum(10 ** 9) }}", "{{ dict(a=1) }}"):
        with pytest.raises(ExpressionSyntaxError, match="unknown name"):
            compile_template(text)


def test_a_record_whose_field_costs_too_much_fails_alone_naming_the_field(compile_fields: CompileFields) -> None:
    mapping = compile_fields({"out": "{{ record.n ** record.n }}", "id": "id"})

    error = mapping_error(compile_fields, "{{ record.n ** record.n }}", {"id": 1, "n": 100_000})

    assert error.field == "out"
    assert error.source_key == "1"
    assert str(error.cause) == (
        f"expression refused: ** would make a number of about 500,000 digits; the most is {MAX_DIGITS}"
    )
    assert mapping.apply({"id": 2, "n": 3}) == {"out": 27, "id": 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ " + "[" * 45 + "]" * 45 + " }}", "bad expression: it is nested more than 40 levels deep"),
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nested more than 40 levels deep"),
        ("{{ record.a" + " + 1" * 5000 + " }}", "nested more than 40 levels deep"),
        ("{{ " + "-" * 5000 + "1 }}", "nested more than 40 levels deep"),
        ("{{ " + "[" * 5000 + "]" * 5000 + " }}", "nested more than 40 levels deep"),
        ("{{ 1" + "0" * MAX_DIGITS + " }}", f"bad expression: a number in it has more than {MAX_DIGITS} digits"),
    ],
)
def test_hostile_expression_text_is_a_syntax_error_not_a_crash(text: str, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as template:
        compile_template(text)
    with pytest.raises(ExpressionSyntaxError) as condition:
        compile_condition(text)

    assert message in str(template.value)
    assert message in str(condition.value)


SMALL_TEXT = 100_000
"""``MAX_TEXT`` for the tests below: what they build passes it many times over, in moments, without it."""


@pytest.mark.parametrize(
    "text",
    [
        "{% for item in record.some %}{{ record.s }}{% endfor %}",
        "{% set a = record.s ~ record.s %}{% set b = a ~ a %}{% set c = b ~ b %}{% set d = c ~ c %}"
        "{% set e = d ~ d %}{% set f = e ~ e %}{{ f | length }}",
        "{{ " + " ~ ".join(["record.s"] * 60) + " }}",
        "{{ (record.many + record.many + record.many) | length }}",
        "{% for item in record.some %}{{ item }}{{ record.s }}{% endfor %}",
    ],
    ids=["a-loops-output", "doubling-by-set", "a-chain-of-tildes", "lists-added", "a-loop-of-two-outputs"],
)
def test_text_put_together_from_parts_is_bounded_as_it_grows(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop's output, ``~`` and ``+`` were not sized: a 180 KB CSV made a 4 GB field, and orjson, hashing
    it, crashed the process (on texts of 2 GiB and more)."""
    monkeypatch.setattr(bounds, "MAX_TEXT", SMALL_TEXT)
    record = {**RECORD, "many": ["y"] * 40_000}

    with pytest.raises(ExpressionTooCostly, match=f"the most is {SMALL_TEXT:,}"):
        compile_template(text)(record)


def test_text_put_together_within_the_bound_is_as_before() -> None:
    assert compile_template("{% for i in record.few %}{{ i }}{% endfor %}")(RECORD) == "".join(map(str, range(20)))
    assert compile_template("{{ record.id ~ '-' ~ record.missing ~ 'x' }}")(RECORD) == "7-x"
    assert compile_template("{{ [1] + [2] }}")(RECORD) == [1, 2]
    assert compile_template("{{ record.nested[:3] | sum(start=[]) }}")(RECORD) == [0, 1, 2]
    assert compile_template("{{ [1, 2] | sum }}")(RECORD) == 3


SHARED = "[record.items] * 500"
"""A list of 500 items that are each the same list of 2,000: small in memory, 1,000,501 items written out
(every list counts as one, and each number in it)."""


@pytest.mark.parametrize(
    "text",
    [
        "{{ " + SHARED + " }}",
        "{{ (" + SHARED + ") | string | length }}",
        "{{ (" + SHARED + ") | tojson | length }}",
        "{{ (" + SHARED + ") | pprint | length }}",
        "{{ (" + SHARED + ") | e | length }}",
        "{{ ((" + SHARED + ") ~ '') | length }}",
        "{{ ('%s' % [" + SHARED + "]) | length }}",
        "{{ '{}'.format(" + SHARED + ") | length }}",
        "x{{ " + SHARED + " }}",
        "{% set a = [record.items] * 50 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}{{ b | string | length }}",
        "{% set a = [record.items] * 50 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}{{ b }}",
    ],
    ids=[
        "the-result",
        "string",
        "tojson",
        "pprint",
        "escape",
        "tilde",
        "percent",
        "format",
        "output",
        "set",
        "set-output",
    ],
)
def test_a_value_that_holds_one_list_many_times_is_sized_as_written_out(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[[1] * 99999] * 99999`` passed every bound (99,999 items each time) yet is ten billion numbers written
    out: ``| string``, ``| tojson`` or the value itself (hashed, written) ran in C for hours, or the process
    died of memory, instead of the record failing."""
    monkeypatch.setattr(bounds, "MAX_TEXT", SMALL_TEXT)

    written_out = f"would make 1,0[0-9,]{{6}} characters or items; the most is {SMALL_TEXT:,}"
    with pytest.raises(ExpressionTooCostly, match=written_out):
        compile_template(text)(RECORD)


def test_a_value_sized_as_written_out_counts_each_part_once_in_time() -> None:
    deep: Any = [1] * 1_000
    for _ in range(50):
        deep = [deep, deep]  # 2**50 copies written out, 101 lists in memory

    assert written_size(deep) > 2**50
    assert written_size({"a": "xyz", "b": [1, 2]}) == 1 + (1 + 3) + (1 + 1 + 1 + 1)


@pytest.mark.parametrize(
    "text",
    [
        "{{ (" + SHARED + ") == (" + SHARED + ") }}",
        "{{ [1] in (" + SHARED + ") }}",
        "{% if (" + SHARED + ") != [] %}x{% endif %}",
    ],
    ids=["equal", "in", "in-a-template"],
)
def test_a_comparison_sizes_its_operands_as_written_out(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two lists each holding one list many times over are compared item by item, in C: ten billion steps
    for ``[[1] * 99999] * 99999`` on each side, a minute or more per record, where no step is counted."""
    monkeypatch.setattr(bounds, "MAX_TEXT", SMALL_TEXT)

    with pytest.raises(ExpressionTooCostly, match=f"a comparison would make 1,000,501 .* the most is {SMALL_TEXT:,}"):
        compile_template(text)(RECORD)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ (" + SHARED + ") == 'x' }}", False),
        ("{{ 'x' in (" + SHARED + ") }}", False),
        ("{{ 7 != (" + SHARED + ") }}", True),
        ("{{ none == (" + SHARED + ") }}", False),
    ],
    ids=["equal-text", "text-in", "number-not-equal", "null"],
)
def test_a_comparison_with_a_constant_text_or_number_is_not_sized(
    text: str, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One side a constant text, number or null (``status == 'active'``, the commonest condition): the
    comparison costs at most the other side's size in memory, so it is not sized as written out (which
    tripled its cost); here it is answered where sizing would refuse it."""
    monkeypatch.setattr(bounds, "MAX_TEXT", SMALL_TEXT)

    assert compile_template(text)(RECORD) is expected
    assert compile_condition(text)(RECORD) is expected


def test_a_translated_filter_sizes_no_field_of_the_record_as_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A source gives no value twice, so a field as read (``record.nested``) holds no list many times over:
    sizing it at every filter call (the commonest form, ``record.email | lower``) tripled a filter's cost.
    What an expression made of it is still sized (the tests above)."""
    monkeypatch.setattr(bounds, "MAX_TEXT", 30_000)  # record.nested is 40,001 written out
    compiled, source = _compiled("{{ record.nested | string | length }}")

    assert "sandboxed" not in source
    assert compiled(RECORD) == len(str(RECORD["nested"]))
    with pytest.raises(ExpressionTooCostly, match="string would make 40,001 characters or items"):
        _compiled("{{ (record.nested + []) | string | length }}")[0](RECORD)


def test_a_condition_sizes_what_it_compares(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounds, "MAX_TEXT", SMALL_TEXT)

    with pytest.raises(ExpressionTooCostly, match="a comparison would make"):
        compile_condition("{{ (" + SHARED + ") == (" + SHARED + ") }}")(RECORD)
    assert compile_condition("{{ record.id == 7 and [1] in [[1], 2] }}")(RECORD) is True


def test_a_record_whose_strftime_asks_too_wide_a_part_fails_alone(compile_fields: CompileFields) -> None:
    """``.strftime('%999999999Y')`` gave empty text, written to the target as the value; the ``date:`` filter
    already refused such a width."""
    spec = "{{ record.day.strftime(record.layout) }}"
    mapping = compile_fields({"out": spec, "id": "id"})

    error = mapping_error(compile_fields, spec, {"id": 1, "day": date(2024, 3, 5), "layout": "%999999999Y"})

    assert (error.field, error.source_key) == ("out", "1")
    assert (
        str(error.cause)
        == "expression refused: strftime: a part of the format is 999999999 characters wide; the most is 100"
    )
    assert mapping.apply({"id": 2, "day": date(2024, 3, 5), "layout": "%Y"}) == {"out": "2024", "id": 2}
