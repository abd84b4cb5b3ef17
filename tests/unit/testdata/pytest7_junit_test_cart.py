import pytest

def test_adds():
    assert 1 + 1 == 2

@pytest.mark.parametrize("currency", ["eur", "usd"])
def test_total(currency):
    print("total computed for", currency)
    assert (3 if currency == "eur" else 4) == 4

@pytest.mark.skip(reason="not yet")
def test_later():
    pass

@pytest.fixture
def db():
    raise ConnectionRefusedError("no database on 5432")

def test_db(db):
    pass

class TestRefund:
    def test_full(self):
        assert True
