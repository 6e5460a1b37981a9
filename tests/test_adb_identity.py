"""Who measured a phone LUT: the runner re-downloaded (same version: resumed, noted per row)
or replaced by another release (refused unless allowed, then recorded), LUTs from before runner
versions, and the same phone given twice (USB and Wi-Fi). On the emulated phone through the
real adb server (marker ``adb``)."""

from __future__ import annotations

import pytest
from test_adb_backend import SPECS
from test_adb_conditions import SETTINGS, cli

from lut.store import LutStore
from lutnas.errors import LutnasError
from profiler.backends.adb import AdbBackend
from profiler.loop import profile_layers

pytestmark = pytest.mark.adb


@pytest.fixture
def options(benchmark_model_runner, tmp_path_factory):
    return {"runner": benchmark_model_runner, "cache_dir": tmp_path_factory.getbasetemp() / "m"}


def _copy(runner, path, extra_flag: str | None = None):
    """A copy of the stand-in: other bytes; with ``extra_flag`` also another usage text (as a
    newer release that gained a flag)."""
    text = runner.read_text() + "\n# rebuilt\n"
    if extra_flag:
        anchor = '    ("help", "bool", False, "Print out all supported flags if true."),\n'
        text = text.replace(anchor, anchor + f'    ("{extra_flag}", "bool", False, "new"),\n')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def profiled(options: dict, out, specs) -> tuple[str, dict, object]:
    """Profile ``specs`` into ``out`` with the runner of ``options``; (its version, the LUT's
    meta, its layers by key) afterwards."""
    with AdbBackend(**options) as backend:
        with backend.open_lut(out, SETTINGS.identity()) as store:
            profile_layers(backend, store, specs, SETTINGS, progress=False)
            meta, layers = store.meta, store.layers_frame().set_index("key")
        return backend.config()["runner_version"], meta, layers


def test_a_redownloaded_runner_of_the_same_version_resumes_with_a_note(
    phone, options, benchmark_model_runner, tmp_path
):
    out = tmp_path / "id.lut"
    first_version, _, _ = profiled(options, out, SPECS[:1])
    again = _copy(benchmark_model_runner, tmp_path / "nightly" / "benchmark_model")
    version, meta, layers = profiled({**options, "runner": again}, out, SPECS[:2])
    assert version == first_version
    assert not isinstance(layers.loc[SPECS[0].key, "note"], str)  # NULL: the first binary
    note = layers.loc[SPECS[1].key, "note"]
    assert "runner binary sha256" in note and f"same version {first_version}" in note
    assert len(meta["runner_changes"]) == 1 and meta["backend_config"]["runner_version"] == (
        first_version
    )


def test_another_runner_version_is_refused_unless_allowed_and_then_recorded(
    phone, options, benchmark_model_runner, tmp_path
):
    out = tmp_path / "v.lut"
    old, _, _ = profiled(options, out, SPECS[:1])
    newer = _copy(benchmark_model_runner, tmp_path / "new" / "benchmark_model", "use_magic")
    with AdbBackend(**{**options, "runner": newer}) as backend:
        new = backend.config()["runner_version"]
        assert new != old
        with pytest.raises(LutnasError, match="--allow-runner-change") as err:
            backend.open_lut(out, SETTINGS.identity())
        assert old in str(err.value) and new in str(err.value)
    allowed = {**options, "runner": newer, "allow_runner_change": True}
    _, meta, layers = profiled(allowed, out, SPECS[:2])
    assert meta["backend_config"]["runner_version"] == new
    assert meta["runner_changes"][-1]["from"] == old and meta["runner_changes"][-1]["to"] == new
    assert f"runner changed from version {old} to version {new}" in layers.loc[SPECS[1].key].note
    with AdbBackend(**{**options, "runner": newer}) as backend:  # the new version is the LUT's
        with backend.open_lut(out, SETTINGS.identity()):
            pass


def test_a_lut_written_before_runner_versions_resumes_with_its_binary(phone, options, tmp_path):
    out = tmp_path / "old-id.lut"
    with AdbBackend(**options) as backend:
        config = backend.config()
        old_config = {k: v for k, v in config.items() if k != "runner_version"}
        old_config["runner_sha256"] = backend.runner_sha256
        with LutStore.create(out, old_config, backend.device_info(), SETTINGS.identity()) as s:
            profile_layers(backend, s, SPECS[:1], SETTINGS, progress=False)
        with backend.open_lut(out, SETTINGS.identity()) as store:
            profile_layers(backend, store, SPECS[:2], SETTINGS, progress=False)
            meta, layers = store.meta, store.layers_frame()
    assert meta["backend_config"] == config  # brought to the new form
    assert meta["runner"] == {"sha256": backend.runner_sha256}
    assert layers.note.isna().all() and "runner_changes" not in meta


def test_the_same_phone_on_usb_and_wifi_is_profiled_once(
    phone_factory, benchmark_model_runner, tmp_path, monkeypatch, capsys, caplog
):
    from lutnas.cli.profile import main

    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))
    usb = phone_factory()
    wifi = phone_factory(serialno=usb.profile.props["ro.serialno"])
    args = cli(benchmark_model_runner, tmp_path / "{serial}.lut", "--no-progress", "--limit", "1")
    with caplog.at_level("WARNING"):
        code = main([*args[3:], "--serial", usb.address, "--serial", wifi.address])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"profiling 1 phone: {usb.address}" in out
    assert f"{usb.address} and {wifi.address} are the same phone" in caplog.text
    assert not [c for c in wifi.shell_commands if "--graph=" in c]


def test_parallel_phones_label_their_quality_lines(
    phone_factory, benchmark_model_runner, tmp_path, monkeypatch, capsys
):
    from lutnas.cli.profile import main

    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))
    a, b = phone_factory(), phone_factory()
    args = cli(benchmark_model_runner, tmp_path / "{serial}.lut", "--no-progress", "--limit", "1")
    assert main([*args[3:], "--serial", a.address, "--serial", b.address]) == 0
    verdicts = [x for x in capsys.readouterr().out.splitlines() if "verdict:" in x]
    assert sorted(v.split()[0] for v in verdicts) == sorted([f"[{a.address}]", f"[{b.address}]"])
