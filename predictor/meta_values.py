"""Range checks of every value in a predictor's record that a prediction, a search or a report
uses, and of its LUT snapshot (``lut_rows.json``). A value out of its range is refused when the
predictor is loaded, with the field's name, the range and the value found: a NaN coefficient
must not give "nan ms", a negative interval widening must not collapse the interval.

The ranges are wide: they catch what no fit writes (NaN, infinities, wrong types, signs,
magnitudes no device has), not a plausible edit; the record's seal
(:func:`predictor.meta_schema.seal`) catches those.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from predictor.features import OOD_FEATURES
from predictor.layer_estimator import POOLED
from predictor.model import ALPHAS, BASE_TERMS

MAX_MS = 1e7  # no network or layer takes longer than about three hours
MAX_COEF = 1e6  # |coefficient| of the linear base (ms per ms, per layer, per million MACs, ms)
MAX_WIDENING = 5.0  # |conformal widening| of the interval, in log units (a factor of 148)
_SHOWN = 5  # problems named in one message


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _in(low: float, high: float) -> Callable[[object], bool]:
    return lambda v: _number(v) and low <= v <= high


def _check(problems: list[str], name: str, value: object, ok: bool, must: str) -> None:
    if not ok:
        problems.append(f"{name} must be {must}, got {_show(value)}")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def value_problems(meta: dict) -> list[str]:
    """What is out of range in a record that has every key (see
    :func:`predictor.meta_schema.validate_meta`); empty when every value is usable."""
    p: list[str] = []
    for key in ("tool_version", "created_at", "xgboost"):
        _check(p, key, meta[key], isinstance(meta[key], str), "text")
    for key in ("features", "model_features"):
        if key in meta:
            names = meta[key]
            ok = isinstance(names, list) and all(isinstance(n, str) for n in names)
            _check(p, key, names, ok, "a list of feature names")
    _lut(p, meta["lut"])
    _training(p, meta["training"])
    _interval_and_base(p, meta)
    _ood(p, meta["ood"])
    _estimator(p, meta["layer_estimator"])
    if "calibration" in meta:
        _calibration(p, meta["calibration"])
    return p


def _lut(p: list[str], lut: dict) -> None:
    path = lut["path"]
    _check(p, "lut.path", path, path is None or isinstance(path, str), "a file path")
    for key in ("backend_config", "settings", "device"):
        _check(p, f"lut.{key}", lut[key], isinstance(lut[key], dict), "an object")
    _check(p, "lut.rows", lut["rows"], _whole(lut["rows"]) and lut["rows"] >= 0, "a count")
    settings = lut["settings"] if isinstance(lut["settings"], dict) else {}
    for key, low in (("warmup", 0), ("runs", 1)):
        if key in settings:
            v = settings[key]
            _check(p, f"lut.settings.{key}", v, _whole(v) and v >= low, f"a whole number >= {low}")
    config = lut["backend_config"] if isinstance(lut["backend_config"], dict) else {}
    if "threads" in config:
        v = config["threads"]
        _check(p, "lut.backend_config.threads", v, _whole(v) and v >= 1, "a whole number >= 1")
    ref = lut.get("drift_reference")
    if ref is not None:
        ok = isinstance(ref, dict) and _in(1e-9, MAX_MS)(ref.get("nominal_ms"))
        _check(p, "lut.drift_reference.nominal_ms", ref, ok, f"a number of ms up to {MAX_MS:g}")


def _training(p: list[str], t: dict) -> None:
    n = t["measurements"]
    _check(p, "training.measurements", n, _whole(n) and n >= 1, "a count from 1")
    spaces = t["spaces"]
    ok = isinstance(spaces, list) and all(isinstance(s, str) for s in spaces)
    _check(p, "training.spaces", spaces, ok, "a list of search space names")
    res = t["resolutions"]
    ok = isinstance(res, list) and all(_whole(r) and 1 <= r <= 100_000 for r in res)
    _check(p, "training.resolutions", res, ok, "a list of resolutions in pixels")
    _check(p, "training.params", t["params"], isinstance(t["params"], dict), "an object")
    r = t["rounds"]
    _check(p, "training.rounds", r, _whole(r) and r >= 1, "a whole number from 1")
    cv = t["cv"]
    if not isinstance(cv, dict):
        _check(p, "training.cv", cv, False, "an object")
        return
    for key in ("within_5", "within_10", "interval_coverage"):
        _check(p, f"training.cv.{key}", cv.get(key), _in(0, 1)(cv.get(key)), "a share in [0, 1]")
    for key in ("rmspe", "mean_abs_pct", "max_abs_pct"):
        if key in cv or key == "rmspe":
            v = cv.get(key)
            _check(p, f"training.cv.{key}", v, _in(0, 1e9)(v), "a percentage from 0")
    folds = cv.get("folds")
    _check(p, "training.cv.folds", folds, _whole(folds) and folds >= 1, "a count from 1")
    for key in ("left_out",):
        if key in t:
            _check(p, f"training.{key}", t[key], _whole(t[key]) and t[key] >= 0, "a count")
    if "lut_sum_ratio_median" in t:
        v = t["lut_sum_ratio_median"]
        _check(p, "training.lut_sum_ratio_median", v, _in(1e-9, 1e9)(v), "a positive ratio")


def _interval_and_base(p: list[str], meta: dict) -> None:
    interval, base = meta["interval"], meta["base"]
    if not isinstance(interval, dict):
        _check(p, "interval", interval, False, "an object")
    else:
        q = interval.get("conformal_q")
        _check(
            p,
            "interval.conformal_q",
            q,
            _in(-MAX_WIDENING, MAX_WIDENING)(q),
            f"a widening in log units from {-MAX_WIDENING:g} to {MAX_WIDENING:g}",
        )
        alphas = interval.get("alphas")
        _check(p, "interval.alphas", alphas, alphas == list(ALPHAS), f"{list(ALPHAS)}")
    if not isinstance(base, dict):
        _check(p, "base", base, False, "an object")
        return
    terms = base.get("terms")
    ok = isinstance(terms, list) and all(isinstance(t, str) for t in terms)
    _check(p, "base.terms", terms, ok, "a list of term names")
    coef = base.get("coef")
    ok = (
        isinstance(coef, list)
        and len(coef) == (len(terms) if isinstance(terms, list) else len(BASE_TERMS))
        and all(_in(-MAX_COEF, MAX_COEF)(c) for c in coef)
    )
    _check(
        p,
        "base.coef",
        coef,
        ok,
        f"one finite coefficient per term ({len(BASE_TERMS)}), each within ±{MAX_COEF:g}",
    )


def _ood(p: list[str], ood: dict) -> None:
    if not isinstance(ood, dict):
        _check(p, "ood", ood, False, "an object")
        return
    ranges = ood.get("ranges")
    if not isinstance(ranges, dict) or set(ranges) != set(OOD_FEATURES):
        got = sorted(ranges) if isinstance(ranges, dict) else ranges
        _check(p, "ood.ranges", got, False, f"[low, high] of each of {', '.join(OOD_FEATURES)}")
        return
    for name, rng in ranges.items():
        ok = isinstance(rng, list) and len(rng) == 2 and all(_number(v) for v in rng)
        _check(p, f"ood.ranges.{name}", rng, ok and rng[0] <= rng[1], "[low, high], low <= high")


def _estimator(p: list[str], est: object) -> None:
    if est is None:
        return
    if not isinstance(est, dict):
        _check(p, "layer_estimator", est, False, "an object or null")
        return
    rows = est.get("rows_per_kind")
    ok = isinstance(rows, dict) and all(_whole(v) and v >= 0 for v in rows.values())
    _check(p, "layer_estimator.rows_per_kind", rows, ok, "counts of rows by op kind")
    names = est.get("features")
    ok = isinstance(names, list) and all(isinstance(n, str) for n in names)
    _check(p, "layer_estimator.features", names, ok, "a list of feature names")
    kinds = est.get("kinds")
    ok = isinstance(kinds, list) and POOLED in kinds
    _check(p, "layer_estimator.kinds", kinds, ok, f"a list of op kinds with {POOLED!r}")


def _calibration(p: list[str], record: object) -> None:
    if not isinstance(record, dict):
        _check(p, "calibration", record, False, "an object")
        return
    for key in ("source_device", "target_device"):
        _check(p, f"calibration.{key}", record.get(key), isinstance(record.get(key), str), "text")
    n = record.get("n")
    _check(p, "calibration.n", n, _whole(n) and n >= 1, "a count from 1")
    ratio = record.get("median_target_over_source", 1.0)
    ok = _in(1e-9, 1e9)(ratio)
    _check(p, "calibration.median_target_over_source", ratio, ok, "a positive ratio")
    model = record.get("model")
    if not isinstance(model, dict):
        _check(p, "calibration.model", model, False, "an object")
        return
    width = model.get("interval_log")
    _check(p, "calibration.model.interval_log", width, _in(0, 50)(width), "from 0 to 50")
    params = model.get("params")
    ok = isinstance(params, list) and all(_in(-1e12, 1e12)(v) for v in params)
    _check(p, "calibration.model.params", params, ok, "a list of finite numbers")


def row_problems(rows: object) -> list[str]:
    """What is wrong with a LUT snapshot (``{layer key: median ms}``): each row a positive
    number of ms up to :data:`MAX_MS`; at most a few problems, then a count."""
    if not isinstance(rows, dict):
        return [f"must map layer keys to median ms, got {type(rows).__name__}"]
    bad = [
        f"{key}: {_show(ms)}" for key, ms in rows.items() if not (_number(ms) and 0 < ms <= MAX_MS)
    ]
    if not bad:
        return []
    more = f" ({len(bad)} in all)" if len(bad) > _SHOWN else ""
    return [
        f"every row must be a positive number of ms up to {MAX_MS:g}; not so: "
        + "; ".join(bad[:_SHOWN])
        + more
    ]
