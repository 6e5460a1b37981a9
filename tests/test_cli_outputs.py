"""Every file a command writes is named in its output (issue 14)."""

from __future__ import annotations

from lutnas.cli.predict import _report_measured


def test_measure_missing_names_the_lut_it_extended(tmp_path, capsys):
    lut = tmp_path / "host.lut"
    lut.write_bytes(b"")
    _report_measured(str(lut), 7)
    assert f"7 rows measured and added to {lut}" in capsys.readouterr().err
    _report_measured(str(tmp_path / "gone.lut"), 3)
    err = capsys.readouterr().err
    assert "3 rows measured for this prediction only" in err and "gone.lut does not exist" in err
    _report_measured(str(lut), 0)
    assert f"no row was missing ({lut} unchanged)" in capsys.readouterr().err
