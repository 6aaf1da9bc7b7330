"""The Bloom filter that tells which ids of a health stream may repeat an earlier chunk's."""

import pytest

from spm.ingest.seen_ids import SeenIds


def test_every_id_added_before_is_named_again_and_few_others():
    seen = SeenIds(1 << 16)
    first = [f"obs-{i}" for i in range(2_000)]
    assert len(seen.add(first[:1_000])) <= 5  # an empty filter: at most a few false alarms within a call
    seen.add(first[1_000:])
    again = seen.add(first[::7] + [f"new-{i}" for i in range(1_000)])
    assert set(first[::7]) <= set(again)
    assert len(again) - len(first[::7]) < 50  # false alarms: ~0.07 % expected at this load


def test_bits_of_one_byte_set_in_the_same_call_all_stick():
    # With 8 bits every position shares one byte: a plain fancy `|=` would keep one bit per call.
    seen = SeenIds(8)
    seen.add([str(i) for i in range(40)])
    assert seen.add([str(i) for i in range(40)]) == [str(i) for i in range(40)]


@pytest.mark.parametrize("bits", [0, 3, 12])
def test_a_size_that_is_not_a_power_of_two_is_refused(bits):
    with pytest.raises(ValueError, match="power of two"):
        SeenIds(bits)
