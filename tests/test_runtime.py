"""Where a run happens, as records state it."""

import pytest

from netsplit.runtime import onednn_enabled


@pytest.mark.parametrize("setting,enabled", [("0", False), ("false", False), ("1", True), ("True", True)])
def test_onednn_follows_tensorflows_documented_switch(monkeypatch, setting, enabled):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", setting)
    assert onednn_enabled() is enabled


def test_onednn_is_on_by_default_on_x86_linux_with_the_features_tensorflow_asks_for(monkeypatch):
    import netsplit.runtime as runtime

    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "maybe")  # not a switch value: the default decides
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    monkeypatch.setattr("platform.system", lambda: "Linux")
    details = runtime.cpu_details()
    monkeypatch.setattr(runtime, "cpu_details", lambda: {**details, "flags": ["avx2", "avx512_vnni"]})
    assert onednn_enabled()
    monkeypatch.setattr(runtime, "cpu_details", lambda: {**details, "flags": ["avx2", "avx512f"]})
    assert not onednn_enabled(), "AVX-512 alone does not turn it on"
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    monkeypatch.setattr(runtime, "cpu_details", lambda: {**details, "flags": ["avx512_vnni"]})
    assert not onednn_enabled()
