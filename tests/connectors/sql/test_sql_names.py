"""A column named in a message's hint (``read the column as text in the stream's query (born::text)``)."""

from __future__ import annotations

import pytest

from connectors.sql.pg_values import sql_name


@pytest.mark.parametrize(
    ("column", "written"),
    [("born", "born"), ("order", '"order"'), ("user", '"user"'), ("Born", '"Born"'), ('a"b', '"a""b"')],
)
def test_a_column_named_in_a_hint_is_written_as_sql_takes_it(column: str, written: str) -> None:
    assert sql_name(column) == written, "a reserved word unquoted (order::text) is a syntax error"
