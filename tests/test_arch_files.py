"""Architecture JSON is checked field by field: the message names the arch, the file, the field,
what is accepted and what was given; valid files load exactly as before (issue 13)."""

from __future__ import annotations

import json
import re

import pytest

from lutnas.cli.profile import main as profile_main
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.io import load_archs, save_archs
from lutnas.spaces.named import get_named_arch, list_named_archs


def _record(**changes) -> dict:
    record = get_named_arch("mobilenetv2-1.0").to_dict()
    block = changes.pop("block", None)
    if block is not None:
        record["blocks"][2] = {**record["blocks"][2], **block}
    return {**record, **changes}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"resolution": "abc"}, "resolution must be a whole number from 32 to 2048 .*got 'abc'"),
        ({"resolution": 224.7}, r"from 32 to 2048 \(multiple of 8\), got 224.7"),
        ({"resolution": 4096}, "from 32 to 2048.*got 4096"),
        ({"resolution": 228}, r"\(multiple of 8\), got 228"),
        ({"resolution": True}, "whole number.*got True"),
        ({"space": 3}, "space must be a search space name, got 3"),
        ({"space": "nope"}, "unknown search space 'nope'"),
        ({"blocks": []}, "blocks must be a list of 7 blocks.*got 0 blocks"),
        ({"block": {"channels": 64.5}}, r"blocks\[2\].channels must be a whole number .*64.5"),
        ({"block": {"channels": 0}}, r"blocks\[2\].channels must be a whole number from 1"),
        ({"block": {"layers": "3"}}, r"blocks\[2\].layers must be a whole number.*'3'"),
        ({"block": {"kernel": 4}}, r"blocks\[2\].kernel .*\(odd\), got 4"),
        ({"block": {"se_ratio": "x"}}, r"blocks\[2\].se_ratio must be a number from 0.0"),
        ({"block": {"skip": "res"}}, r"blocks\[2\].skip must be one of poolskip, idskip"),
        ({"block": {"op": "conv", "expansion": 6}}, "expansion must be 1 for op 'conv'"),
        ({"block": {"width": 3}}, r"blocks\[2\]: unknown key\(s\) width"),
    ],
)
def test_each_bad_field_is_named_with_its_accepted_range(tmp_path, changes, message):
    path = tmp_path / "my.json"
    good = get_named_arch("mnasnet-a1").to_dict()
    path.write_text(json.dumps({"archs": [good, good, _record(**changes)]}))
    with pytest.raises(LutnasError, match=f"^arch 3 in {re.escape(str(path))}: .*{message}"):
        load_archs(path)
    with pytest.raises(LutnasError, match=message):
        Arch.from_dict(_record(**changes))


def test_a_missing_key_or_invalid_json_is_not_an_architecture_record():
    with pytest.raises(LutnasError, match="not an architecture record.*missing resolution"):
        Arch.from_dict({"space": "mnasnet", "blocks": []})
    with pytest.raises(LutnasError, match="not an architecture record.*invalid JSON"):
        Arch.from_json("{nope")
    with pytest.raises(LutnasError, match="not an architecture record"):
        Arch.from_dict([1, 2])


@pytest.mark.parametrize("content", ['{"archs": []}', "[]"])
def test_an_empty_architecture_list_is_an_error_naming_the_file(tmp_path, capsys, content):
    path = tmp_path / "empty.json"
    path.write_text(content)
    with pytest.raises(LutnasError, match=f"{re.escape(str(path))} has no architectures"):
        load_archs(path)
    assert profile_main(["--archs", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(path) in err[0]


def test_valid_files_load_as_before(tmp_path):
    archs = [get_named_arch(n) for n in list_named_archs()]  # MnasNet-A1: off-grid 112 width
    path = tmp_path / "archs.json"
    save_archs(path, archs)
    assert load_archs(path) == archs
    for a in archs:
        assert Arch.from_json(a.to_json()) == a
    single = tmp_path / "one.json"
    single.write_text(archs[0].to_json())
    assert load_archs(single) == archs[:1]
    plain_list = tmp_path / "list.json"
    plain_list.write_text(json.dumps([a.to_dict() for a in archs]))
    assert load_archs(plain_list) == archs
    whole_float = archs[0].to_dict() | {"resolution": 224.0}  # a whole number written as float
    assert Arch.from_dict(whole_float) == archs[0]
