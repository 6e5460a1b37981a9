"""A phone LUT's runner identity: the runner kind and its reported version, not its file.

Neither ``benchmark_model`` nor ``onnxruntime_perf_test`` prints a version number, so the version
a runner *reports* is what its ``--help`` says: the fingerprint of its usage text (the flags and
defaults of that release), with the binary's own path taken out (:func:`help_version`). A
re-downloaded nightly of the same release prints the same usage and is the same version; a
release that adds, drops or changes a flag is another.

Resuming a LUT (:func:`plan_resume`):

- same kind and version, same binary: the file resumes as it is;
- same kind and version, another binary than the one that measured the LUT's first rows (its
  sha256 differs): it resumes, and every row it measures carries a note naming both;
- another version: refused, unless ``allow_change`` (``--allow-runner-change``), which records
  the change in the LUT's metadata (``runner_changes``) and a note on every new row;
- another kind: refused, like any other configuration difference.

Files written before this (their config held ``runner_sha256`` instead of ``runner_version``)
resume with the same binary and are brought to the new form; another binary is a change.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from lut.store import LutStore
from lut.store_util import now
from lutnas.errors import LutnasError
from profiler.adb import runners
from profiler.adb.client import AdbDevice
from profiler.adb.runners import RunnerKind

VERSION_KEY = "runner_version"
OLD_KEY = "runner_sha256"  # the identity of LUTs written before runner_version


def identify(
    device: AdbDevice, remote_runner: str, file_name: str, kind: RunnerKind | None
) -> tuple[RunnerKind, str]:
    """The pushed runner's kind and version, from its ``--help`` on the phone; ``kind`` (named,
    or guessed from the file name) is checked against what the help text says.

    Raises:
        LutnasError: the help text says another kind, or (no ``kind``) neither.
    """
    help_text = device.shell(f"{shlex.quote(remote_runner)} --help 2>&1", timeout_s=30).stdout
    told = runners.runner_kind_from_help(help_text)
    if kind is not None and told is not None and told is not kind:
        raise LutnasError(
            f"runner {file_name} is {told.name} by its --help output on the phone, not "
            f"{kind.name}; pass the right binary as --runner (or its kind as --runner-kind)"
        )
    return kind or runners.kind_from_help(help_text, file_name), help_version(
        help_text, remote_runner
    )


def help_version(help_text: str, remote_runner: str) -> str:
    """The version a runner reports: ``usage-`` and 12 hex digits of the sha256 of its usage
    text (its own path removed, trailing spaces and blank lines ignored)."""
    text = help_text.replace(remote_runner, "RUNNER")
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "usage-" + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ResumePlan:
    """How to open an existing phone LUT with this session's runner."""

    open_config: dict  # the config to open the file with (equal to the file's when accepted)
    new_config: dict | None  # the file's config from now on (None: unchanged)
    note: str | None  # the note on every row measured in this session
    change: dict | None  # appended to meta["runner_changes"]


def _short(value: object) -> str:
    text = str(value)
    return text[:12] if re.fullmatch(r"[0-9a-f]{64}", text) else text


def plan_resume(
    stored: dict,
    runner_meta: dict | None,
    config: dict,
    binary_sha256: str,
    allow_change: bool,
    path: object,
) -> ResumePlan:
    """The plan for resuming ``path`` (its backend config ``stored`` and meta ``runner``: the
    binary that measured its first rows) with this session's ``config``; see the module
    docstring.

    Raises:
        LutnasError: another runner version (or an old file's other binary) without
            ``allow_change``.
    """
    identity = {VERSION_KEY, OLD_KEY}
    others = {k for k in set(stored) | set(config) if k not in identity}
    if any(stored.get(k) != config.get(k) for k in others):
        return ResumePlan(config, None, None, None)  # the store's own refusal says what differs
    old_sha = (runner_meta or {}).get("sha256") or stored.get(OLD_KEY)
    old_version = stored.get(VERSION_KEY)
    version = config.get(VERSION_KEY)
    same_version = old_version == version if old_version else old_sha == binary_sha256
    if not same_version:
        was = f"version {old_version}" if old_version else f"a binary of sha256 {_short(old_sha)}"
        if not allow_change:
            raise LutnasError(
                f"{path} was measured with {config.get('runner')} {was}; this runner reports "
                f"version {version} (another release: its --help differs), and resuming would "
                "mix two releases' numbers. Use the runner the LUT was measured with, profile "
                "into a new --out, or pass --allow-runner-change to go on (the change is "
                "recorded in the LUT and on every row measured after it)"
            )
        note = f"runner changed from {was} to version {version} (--allow-runner-change)"
        change = {"at": now(), "from": old_version or _short(old_sha), "to": version}
        return ResumePlan(stored, config, note, {**change, "sha256": binary_sha256})
    new_config = config if stored != config else None  # an old file: the new identity keys
    if old_sha and old_sha != binary_sha256:
        note = (
            f"runner binary sha256 {_short(binary_sha256)}, not {_short(old_sha)} of the LUT's "
            f"first rows (same version {version})"
        )
        change = {"at": now(), "from": _short(old_sha), "to": _short(binary_sha256)}
        return ResumePlan(stored, new_config, note, {**change, "sha256": binary_sha256})
    return ResumePlan(stored, new_config, None, None)


def open_lut(
    path: str | Path,
    config: dict,
    device: dict,
    settings: dict,
    resume: bool,
    binary_sha256: str,
    allow_change: bool,
) -> tuple[LutStore, str | None]:
    """Create the phone LUT at ``path``, or resume it as :func:`plan_resume` decides; the
    LUT's meta ``runner`` keeps the first rows' binary, ``runner_changes`` every change (once
    per binary). Returns the open store and the note for the rows this session measures.

    Raises:
        LutnasError: as :func:`plan_resume` and :meth:`LutStore.create_or_resume` do.
    """
    path = Path(path)
    plan = None
    if resume and path.is_file():
        with LutStore.open(path, writable=False) as old:
            meta = old.meta
        stored = meta.get("backend_config", {})
        plan = plan_resume(stored, meta.get("runner"), config, binary_sha256, allow_change, path)
    store = LutStore.create_or_resume(
        path, plan.open_config if plan else config, device, settings, resume=resume
    )
    try:
        meta = store.meta
        if "runner" not in meta:  # the binary of the first rows (unknown: an old file's)
            first = meta["backend_config"].get(OLD_KEY) if plan else binary_sha256
            store.set_meta("runner", {"sha256": first})
        if plan and plan.new_config:
            store.set_meta("backend_config", plan.new_config)
        changes = meta.get("runner_changes", [])
        last_sha = changes[-1].get("sha256") if changes else None
        if plan and plan.change and plan.change["sha256"] != last_sha:  # once per binary
            store.set_meta("runner_changes", [*changes, plan.change])
    except BaseException:
        store.close()
        raise
    return store, plan.note if plan else None
