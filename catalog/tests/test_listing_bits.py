"""The listing index's bit helpers against their plain definitions (catalog/listing_index.py):
which positions a mask selects, the ids there, and the price range of those products."""
from hypothesis import given
from hypothesis import strategies as st

from catalog import listing_index


class _Part:
    """What the helpers read of a decoded Part: ids, low and high prices (-1: no price), full."""

    __slots__ = ("ids", "low", "high", "full", "_full_range")

    def __init__(self, prices: list[tuple[int, int] | None]) -> None:
        self.ids = [1000 + n for n in range(len(prices))]
        self.low = [price[0] if price else -1 for price in prices]
        self.high = [max(price) if price else -1 for price in prices]
        self.full = (1 << len(prices)) - 1
        self._full_range = False


prices = st.lists(st.one_of(st.none(), st.tuples(st.integers(0, 10**6), st.integers(0, 10**6))), max_size=300)


@given(prices, st.data())
def test_positions_ids_and_price_range_follow_their_definitions(product_prices, data):
    part = _Part(product_prices)
    mask = data.draw(st.integers(0, part.full))
    chosen = [position for position in range(len(product_prices)) if mask >> position & 1]
    priced = [position for position in chosen if part.low[position] >= 0]

    assert listing_index.positions(mask) == chosen
    assert listing_index.ids_at(part, mask) == [part.ids[position] for position in chosen]
    expected = (min(part.low[p] for p in priced), max(part.high[p] for p in chosen)) if priced else None
    assert listing_index.price_range(part, mask) == expected
    # The full mask's range is kept on the part and read back unchanged.
    full = listing_index.price_range(part, part.full)
    assert listing_index.price_range(part, part.full) == full == (
        (min(p for p in part.low if p >= 0), max(part.high)) if any(p >= 0 for p in part.low) else None
    )
