"""An `items` page stays under the status page's byte budget, one item at least."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pit.dag.run import STATUS_PAGE_BYTES, fit_items
from pit.dag.status import NodeStatus


@given(st.lists(st.integers(min_value=0, max_value=STATUS_PAGE_BYTES), max_size=12))
def test_a_page_fits_the_budget_and_is_a_prefix(sizes: list[int]) -> None:
    items = [NodeStatus(output="x" * size) for size in sizes]
    page = fit_items(items)
    assert page == items[: len(page)]
    assert len(page) >= min(1, len(items))
    if len(page) > 1:
        assert sum(len(item.model_dump_json()) for item in page) <= STATUS_PAGE_BYTES
