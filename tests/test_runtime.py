"""Where a run happens, as records state it."""

import pytest

from netsplit.runtime import onednn_enabled


@pytest.mark.parametrize("setting,enabled", [("0", False), ("false", False), ("1", True), ("True", True)])
def test_onednn_follows_tensorflows_documented_switch(monkeypatch, setting, enabled):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", setting)
    assert onednn_enabled() is enabled


def test_onednn_is_on_by_default_on_x86_linux(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    monkeypatch.setattr("platform.system", lambda: "Linux")
    assert onednn_enabled()
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    assert not onednn_enabled()
