"""A LUT and a predictor know their space: the definition is stored with them, a received LUT or
predictor is used without the space file, and a changed file under the same name is refused on
resume, merge, fit and predict, naming the field that differs."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import shutil
from concurrent.futures import ProcessPoolExecutor

import pytest
from space_fixtures import QUICK_PROFILE, TINY, write_space

from lut.export import merge
from lut.store import LutStore
from lutnas.cli.main import main
from lutnas.errors import LutnasError
from lutnas.spaces import list_spaces, load_space
from lutnas.spaces.arch import Arch
from lutnas.spaces.registry import isolated_spaces
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.stored import LUT_META_KEY

CHANGED = TINY.replace("kernels = [3, 5]", "kernels = [3, 7]")
CHANGED_FIELD = "stages[0].kernels[1]"


def _profile_args(space_path, out, *extra: str) -> list[str]:
    space = ["--space", str(space_path), "--resolution", "32"]
    return ["profile-device", *space, *QUICK_PROFILE, "--out", str(out), *extra]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A LUT of the tiny space (its 15 layers at 32 px and 8 whole models) and a predictor
    fitted on it, made from the command line; the space file is then deleted."""
    where = tmp_path_factory.mktemp("stored")
    space_file = write_space(where, TINY)
    lut, predictor = where / "tiny.lut", where / "tiny.predictor"
    with isolated_spaces():
        assert main(_profile_args(space_file, lut, "--whole-models", "8")) == 0
        assert main(["fit", "--lut", str(lut), "--out", str(predictor)]) == 0
        arch = Arch.from_json(
            json.dumps(
                sample_archs(load_space(space_file), 1, seed=5, resolutions=(32,))[0].to_dict()
            )
        )
    (where / "arch.json").write_text(arch.to_json())
    definition = json.loads(json.dumps(load_definition(space_file)))
    space_file.unlink()
    return {"dir": where, "lut": lut, "predictor": predictor, "definition": definition}


def load_definition(path) -> dict:
    with isolated_spaces():
        return load_space(path).definition()


def test_the_lut_and_the_predictor_store_the_full_definition(made):
    with LutStore.open(made["lut"], writable=False) as store:
        assert store.meta[LUT_META_KEY] == {"tiny": made["definition"]}
    meta = json.loads((made["predictor"] / "meta.json").read_text())
    assert meta["training"]["spaces"] == ["tiny"]
    assert meta["training"]["space_definitions"] == {"tiny": made["definition"]}


def test_a_received_lut_and_predictor_work_without_the_space_file(made, tmp_path, capsys):
    assert "tiny" not in list_spaces()  # this test starts without the space
    lut = shutil.copy(made["lut"], tmp_path / "received.lut")
    out = tmp_path / "refit.predictor"
    assert main(["fit", "--lut", str(lut), "--out", str(out)]) == 0
    assert main(["lut", "show", str(lut), "--space", "tiny"]) == 0
    assert "coverage of tiny @32: 15/15 (100.0%)" in capsys.readouterr().out
    arch_json = str(made["dir"] / "arch.json")
    assert main(["predict", "--predictor", str(out), "--arch-json", arch_json, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["network"].startswith("tiny@32:")
    with isolated_spaces(fresh=True):  # as a process that knows it only from the predictor
        assert main(["space", "show", "tiny", "--predictor", str(made["predictor"])]) == 0
    assert f"space tiny (layerwise), from predictor {made['predictor']}" in capsys.readouterr().out


def test_resuming_with_a_changed_file_is_refused_naming_the_field(made, tmp_path, capsys):
    lut = shutil.copy(made["lut"], tmp_path / "resumed.lut")
    changed = write_space(tmp_path, CHANGED, "tiny.toml")
    assert main(_profile_args(changed, lut)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{lut} holds measurements of space 'tiny'" in err
    assert f"({CHANGED_FIELD}: {lut} has 5, {changed} 7)" in err
    with LutStore.open(lut, writable=False) as store:  # nothing was written
        assert store.meta[LUT_META_KEY] == {"tiny": made["definition"]}
    same = write_space(tmp_path, TINY, "same.toml")  # the same space resumes
    with isolated_spaces(fresh=True):  # (in a new process)
        assert main(_profile_args(same, lut)) == 0
    assert "0 measured" in capsys.readouterr().out


def test_fitting_or_predicting_with_a_changed_file_is_refused(made, tmp_path, capsys):
    changed = write_space(tmp_path, CHANGED, "tiny.toml")
    out = tmp_path / "p"
    assert main(["fit", "--lut", str(made["lut"]), "--space", str(changed), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"space 'tiny' from LUT {made['lut']} is not the space 'tiny' of {changed}" in err
    assert f"{CHANGED_FIELD}: {changed} has 7, LUT {made['lut']} 5" in err
    assert not out.exists()
    predict = ["predict", "--predictor", str(made["predictor"]), "--space", str(changed)]
    assert main([*predict, "--arch-json", str(made["dir"] / "arch.json")]) == 2
    err = capsys.readouterr().err
    assert f"from predictor {made['predictor']} is not the space 'tiny'" in err
    assert CHANGED_FIELD in err


def test_merging_luts_of_two_spaces_under_one_name_is_refused(made, tmp_path):
    with isolated_spaces():
        changed = load_space(write_space(tmp_path, CHANGED, "tiny.toml")).definition()
    other = shutil.copy(made["lut"], tmp_path / "other.lut")
    with LutStore.edit(other) as store:  # what profiling the changed file writes
        store.set_meta(LUT_META_KEY, {"tiny": changed})
    with pytest.raises(LutnasError) as err:
        merge(tmp_path / "merged.lut", [made["lut"], other])
    assert f"{CHANGED_FIELD}: {made['lut']} has 5, {other} 7" in str(err.value)
    assert not (tmp_path / "merged.lut").exists()  # refused before anything was written
    counts = merge(tmp_path / "merged.lut", [made["lut"], made["lut"]])
    assert counts["models"] == 8
    with LutStore.open(tmp_path / "merged.lut", writable=False) as store:
        assert store.meta[LUT_META_KEY] == {"tiny": made["definition"]}


def test_a_builtin_name_cannot_be_taken_by_another_space(tmp_path, capsys):
    path = write_space(tmp_path, TINY.replace('name = "tiny"', 'name = "mnasnet"'))
    assert main(["space", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        f"space 'mnasnet' from {path} is not the space 'mnasnet' of the built-in space file ("
        in err
    )
    assert "a changed space needs a new name" in err


def layer_keys(arch: Arch) -> list[str]:
    """In a spawned process: the architecture's layer keys (its space known from the pickle)."""
    return [s.key for s in arch.layers()]


def test_an_architecture_carries_its_file_space_to_another_process(tmp_path):
    space = load_space(write_space(tmp_path, TINY))
    archs = sample_archs(space, 3, seed=1)
    assert pickle.loads(pickle.dumps(archs[0])) == archs[0]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = list(pool.map(layer_keys, archs))
    assert remote == [layer_keys(a) for a in archs]


def test_a_search_record_of_a_file_space_holds_its_definition_digest(tmp_path):
    from lutnas.spaces import get_space
    from search.session import space_identity

    assert space_identity(get_space("mnasnet")) == {  # what records made before say: unchanged
        "name": "mnasnet",
        "choices": get_space("mnasnet").choice_counts(),
    }
    with isolated_spaces():
        tiny = space_identity(load_space(write_space(tmp_path, TINY)))
    with isolated_spaces():
        changed = space_identity(load_space(write_space(tmp_path, CHANGED, "changed.toml")))
    assert tiny["name"] == changed["name"] and tiny["choices"] == changed["choices"]
    assert len(tiny["definition_sha256"]) == 16
    assert tiny["definition_sha256"] != changed["definition_sha256"]  # a resume is refused
