"""A fingerprint of a search space: everything that must stay byte-identical when a space's
definition moves (from Python to a shipped file): its decisions and their choices in token
order, its unique layers per resolution (keys, in order), its geometry, random architectures'
keys, tokens, JSON and layers, and its named architectures.

``python tests/space_fingerprint.py`` writes the stored fingerprint of the built-in spaces
(``tests/data/builtin_spaces_fingerprint.json``); it was written once, from the Python
definitions before the spaces became files, and ``tests/test_space_files.py`` compares the
spaces loaded from files with it. Never rewrite it to make that test pass.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from lutnas.spaces.named import get_named_arch, list_named_archs  # noqa: E402
from lutnas.spaces.sampling import sample_archs  # noqa: E402
from lutnas.spaces.space import get_space  # noqa: E402

STORED = HERE / "data" / "builtin_spaces_fingerprint.json"
BUILTIN_SPACES = ("mnasnet", "mobilenetv3", "mobilenetv3-small")


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _arch_print(arch) -> dict:
    problems = arch.problems()
    return {
        "key": arch.key,
        "json": arch.to_json(),
        "tokens": None if problems else arch.to_tokens(),
        "problems": problems,
        "layers": _digest([s.key for s in arch.layers()]),
        "layers_10_classes": _digest([s.key for s in arch.layers(num_classes=10)]),
    }


def fingerprint(name: str) -> dict:
    space = get_space(name)
    out: dict = {
        "decisions": [[d.name, [repr(c) for c in d.choices]] for d in space.decisions()],
        "choice_counts": space.choice_counts(),
        "resolutions": list(space.resolutions),
        "stem_channels": space.stem_out_channels,  # the channels the first stage takes
        "stages": len(space.stages),
        "per_resolution": {},
    }
    for r in sorted({*space.resolutions, 96}):
        keys = [s.key for s in space.unique_layers(r)]
        out["per_resolution"][str(r)] = {
            "unique_layers": len(keys),
            "keys": _digest(keys),
            "first_key": keys[0],
            "last_key": keys[-1],
            "stage_inputs": space.stage_inputs(r),
            "final_hw": space.final_hw(r),
            "stem": [s.key for s in space.stem_specs(r)],
        }
    out["sampled"] = [_arch_print(a) for a in sample_archs(space, 25, seed=7)]
    out["sampled_at"] = [
        _arch_print(a) for a in sample_archs(space, 5, seed=8, resolutions=(space.resolutions[0],))
    ]
    return out


def named_fingerprint() -> dict:
    return {n: _arch_print(get_named_arch(n)) for n in list_named_archs()}


def all_fingerprints() -> dict:
    return {
        "spaces": {name: fingerprint(name) for name in BUILTIN_SPACES},
        "named": named_fingerprint(),
    }


if __name__ == "__main__":
    STORED.parent.mkdir(parents=True, exist_ok=True)
    STORED.write_text(json.dumps(all_fingerprints(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {STORED}")
