import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test writes its data cache under pytest's temp folder, never into the home folder."""
    monkeypatch.setenv("STEADYGAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
