import os
import time

import pytest


def total(*prices):
    return sum(prices)


def test_adds():
    print("traceparent", os.environ.get("TRACEPARENT"), "param who", os.environ.get("HANDOFF_PARAM_WHO"))
    assert total(100, 250) == 350


@pytest.mark.parametrize("currency,want", [("eur", 300), ("usd", 301)])
def test_total(currency, want):
    assert total(100, 200) == want


@pytest.mark.skip(reason="refunds are not built yet")
def test_refund():
    pass


def test_flaky():
    marker = os.environ.get("EXAMPLE_FLAKY_MARKER")
    if not marker:
        pytest.skip("set EXAMPLE_FLAKY_MARKER to a path to make this test flaky")
    if not os.path.exists(marker + ".py"):
        open(marker + ".py", "w").close()
        pytest.fail("first attempt fails")


def test_hang():
    if not os.environ.get("EXAMPLE_HANG") and not os.environ.get("HANDOFF_PARAM_HANG"):
        pytest.skip("set EXAMPLE_HANG=1 (or the param hang) to make this test hang")
    print("waiting for a reply that never comes", flush=True)
    time.sleep(3600)
