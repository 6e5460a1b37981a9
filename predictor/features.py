"""Features of a network for the predictor: per-layer costs, summed per architecture.

A network is a list of :class:`~lut.spec.LayerSpec` (a chain or a graph: only the layers
count). Each layer becomes one row of :data:`LAYER_COLUMNS` (its LUT latency, split by op
group, feature-map scale, skip, SE and activation, plus analytic FLOPs, parameters and
activation memory); a network's row is the sum of its layers' rows, and
:func:`network_features` derives the model inputs (:data:`FEATURES`) from those sums:
absolute sums, shares of the LUT sum, counts and the input resolution. The predictor learns
``log(measured / lut_sum)`` from them.

Units: latencies in ms, MACs and parameters in millions, activation memory in millions of
fp32 elements.
"""

from __future__ import annotations

import math

import numpy as np

from lut.spec import ACTS, LayerSpec

# op groups: the spaces' ops (fcact counts as fc), then the graph units by what they cost:
# residual blocks (ResNet, RegNet), pooling, element-wise joins, and data movement
OP_GROUPS = ("stem", "conv", "dconv", "mbconv", "head", "fc", "block", "pool", "eltwise", "move")
GROUP_OF = {
    "fcact": "fc",
    "basic": "block",
    "bottleneck": "block",
    "maxpool": "pool",
    "avgpool": "pool",
    "gpool": "pool",
    "add": "eltwise",
    "mul": "eltwise",
    "concat": "move",
    "split": "move",
    "shuffle": "move",
}
SCALES = 6  # feature-map scale buckets: input / 1, 2, 4, 8, 16, >= 32
SKIP_KINDS = ("idskip", "poolskip", "convskip")

LAYER_COLUMNS: tuple[str, ...] = (
    "lut_ms",
    "est_ms",
    "n_layers",
    "n_estimated",
    "macs_m",
    "params_m",
    "act_m",
    *(f"ms_{op}" for op in OP_GROUPS),
    *(f"n_{op}" for op in OP_GROUPS),
    *(f"ms_scale{i}" for i in range(SCALES)),
    *(f"macs_scale{i}" for i in range(SCALES)),
    *(f"ms_{skip}" for skip in SKIP_KINDS),
    "ms_se",
    "n_se",
    "ms_dw_k5",
    *(f"ms_act_{act}" for act in ACTS),
    "tr_ms",  # the share of lut_ms resting on transferred rows (reported, not a model input)
    "n_transferred",
)
_COL = {name: i for i, name in enumerate(LAYER_COLUMNS)}


def _conv_cost(cin: int, cout: int, k: int, groups: int, hw_out: int) -> tuple[float, float]:
    """(MACs, params) of a k×k conv with BN folded."""
    weights = k * k * (cin // groups) * cout
    return float(weights * hw_out), float(weights + cout)


def layer_cost(spec: LayerSpec) -> tuple[float, float, float]:
    """Analytic (MACs, parameters, activation elements) of one layer, in millions.

    Activation elements count the input and every intermediate and output tensor once.
    """
    h, w = spec.input_h, spec.input_w
    ho, wo = spec.output_hw if spec.op not in ("head",) else (h, w)
    hw_in, hw_out = h * w, ho * wo
    k, cin, cout = spec.kernel, spec.cin, spec.cout
    macs = params = 0.0
    acts = float(cin * hw_in)

    def add(m: float, p: float, a: float) -> None:
        nonlocal macs, params, acts
        macs += m
        params += p
        acts += a

    if spec.op in ("stem", "conv"):
        add(*_conv_cost(cin, cout, k, spec.group_count, hw_out), cout * hw_out)
    elif spec.op == "basic":
        add(*_conv_cost(cin, cout, k, 1, hw_out), cout * hw_out)
        add(*_conv_cost(cout, cout, k, 1, hw_out), cout * hw_out)
    elif spec.op in ("mbconv", "bottleneck"):  # 1×1 to the inner width, k×k on it, 1×1 out
        mid = spec.mid_channels
        if spec.op == "bottleneck" or mid != cin:  # an mbconv of expansion 1 has no 1×1 in
            add(*_conv_cost(cin, mid, 1, 1, hw_in), mid * hw_in)
        groups = mid if spec.op == "mbconv" else spec.group_count  # mbconv's is depthwise
        add(*_conv_cost(mid, mid, k, groups, hw_out), mid * hw_out)
        add(*_conv_cost(mid, cout, 1, 1, hw_out), cout * hw_out)
    elif spec.op in ("maxpool", "avgpool"):
        add(float(k * k * cin * hw_out), 0.0, cout * hw_out)
    elif spec.op == "gpool":
        add(float(cin * hw_in), 0.0, float(cout))
    elif spec.op in ("add", "mul"):
        add(float(cin * hw_in), 0.0, cin * hw_in + cout * hw_out)  # the second input, the sum
    elif spec.op in ("concat", "split", "shuffle"):
        add(0.0, 0.0, cout * hw_out)  # copies, no arithmetic
    elif spec.op == "dconv":
        add(*_conv_cost(cin, cin, k, cin, hw_out), cin * hw_out)
        add(*_conv_cost(cin, cout, 1, 1, hw_out), cout * hw_out)
    elif spec.op == "head":
        add(*_conv_cost(cin, cout, 1, 1, hw_in), cout * hw_in + cout)
        macs += cout * hw_in  # the average pool
    else:  # fc, fcact
        add(float(cin * cout), float(cin * cout + cout), float(cout))
    if spec.se_ratio:
        c, sq = spec.se_channels, spec.se_squeeze_channels
        add(2.0 * c * sq + 2.0 * c * hw_out, 2.0 * c * sq + c + sq, float(c * hw_out))
    if spec.skip == "idskip":
        add(float(cout * hw_out), 0.0, float(cout * hw_out))
    elif spec.skip == "poolskip":
        add(9.0 * cin * hw_out, 0.0, float(cin * hw_out))
        if cin != cout:
            add(*_conv_cost(cin, cout, 1, 1, hw_out), cout * hw_out)
        add(float(cout * hw_out), 0.0, float(cout * hw_out))
    elif spec.skip == "convskip":
        add(*_conv_cost(cin, cout, 1, 1, hw_out), cout * hw_out)
        add(float(cout * hw_out), 0.0, float(cout * hw_out))
    return macs / 1e6, params / 1e6, acts / 1e6


def scale_bucket(spec: LayerSpec, resolution: int) -> int:
    """0 at the network's input size, +1 per halving, capped; the classifier is last."""
    if spec.op in ("fc", "fcact") or spec.input_shape == (1, spec.cin):
        return SCALES - 1
    ratio = max(1.0, resolution / max(1, spec.input_h))
    return min(SCALES - 1, int(round(math.log2(ratio))))


def layer_row(
    spec: LayerSpec,
    latency_ms: float,
    estimated: bool,
    resolution: int,
    transferred: bool = False,
) -> np.ndarray:
    """One layer's contribution to the sums of :data:`LAYER_COLUMNS`; ``transferred``: its row
    was moved from another device's LUT (:mod:`lut.transferred`), not measured."""
    row = np.zeros(len(LAYER_COLUMNS))
    macs, params, acts = layer_cost(spec)
    op = GROUP_OF.get(spec.op, spec.op)
    scale = scale_bucket(spec, resolution)
    row[_COL["lut_ms"]] = latency_ms
    row[_COL["est_ms"]] = latency_ms if estimated else 0.0
    row[_COL["n_layers"]] = 1
    row[_COL["n_estimated"]] = float(estimated)
    row[_COL["tr_ms"]] = latency_ms if transferred else 0.0
    row[_COL["n_transferred"]] = float(transferred)
    row[_COL["macs_m"]], row[_COL["params_m"]], row[_COL["act_m"]] = macs, params, acts
    row[_COL[f"ms_{op}"]] = latency_ms
    row[_COL[f"n_{op}"]] = 1
    row[_COL[f"ms_scale{scale}"]] = latency_ms
    row[_COL[f"macs_scale{scale}"]] = macs
    if spec.skip in SKIP_KINDS:
        row[_COL[f"ms_{spec.skip}"]] = latency_ms
    if spec.se_ratio:
        row[_COL["ms_se"]] = latency_ms
        row[_COL["n_se"]] = 1
    if spec.op in ("dconv", "mbconv") and spec.kernel >= 5:
        row[_COL["ms_dw_k5"]] = latency_ms
    if spec.op != "fc" and spec.act in ACTS:  # fc's act is not applied; "none" is none
        row[_COL[f"ms_act_{spec.act}"]] = latency_ms
    return row


# The model's inputs, derived from the layer sums and the input resolution.
_SHARES = [c for c in LAYER_COLUMNS if c.startswith("ms_")]
FEATURES: tuple[str, ...] = (
    "log_lut_ms",
    "lut_ms",
    "resolution",
    "n_layers",
    "macs_m",
    "params_m",
    "act_m",
    "ms_per_layer",
    "ms_per_gmac",
    "macs_per_act",
    *(f"share_{c[3:]}" for c in _SHARES),
    *(f"n_{op}" for op in OP_GROUPS),
    "n_se",
    *(f"macs_scale{i}" for i in range(SCALES)),
)
# What the trees see: every feature but the activation shares. With one activation in the
# training networks, an activation's share is only a proxy of other shares (1 - the classifier's
# share), which would send a network with another activation down arbitrary branches; the
# out-of-distribution check watches them instead.
MODEL_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if not f.startswith("share_act_"))
MODEL_COLUMNS = np.array([FEATURES.index(f) for f in MODEL_FEATURES])
# Features whose range the out-of-distribution check watches (see model.py).
OOD_FEATURES: tuple[str, ...] = (
    "lut_ms",
    "resolution",
    "n_layers",
    "macs_m",
    "params_m",
    "act_m",
    "ms_per_layer",
    *(f"share_{c[3:]}" for c in _SHARES),
)


def network_features(sums: np.ndarray, resolution: np.ndarray) -> np.ndarray:
    """Model inputs (:data:`FEATURES`) for networks given their layer sums (n × columns)."""
    sums = np.atleast_2d(np.asarray(sums, dtype=float))
    col = {c: sums[:, i] for c, i in _COL.items()}
    lut = np.maximum(col["lut_ms"], 1e-9)
    out = {
        "log_lut_ms": np.log(lut),
        "lut_ms": lut,
        "resolution": np.asarray(resolution, dtype=float).reshape(-1),
        "n_layers": col["n_layers"],
        "macs_m": col["macs_m"],
        "params_m": col["params_m"],
        "act_m": col["act_m"],
        "ms_per_layer": lut / np.maximum(col["n_layers"], 1),
        "ms_per_gmac": lut / np.maximum(col["macs_m"] / 1e3, 1e-9),
        "macs_per_act": col["macs_m"] / np.maximum(col["act_m"], 1e-9),
    }
    for c in _SHARES:
        out[f"share_{c[3:]}"] = col[c] / lut
    for op in OP_GROUPS:
        out[f"n_{op}"] = col[f"n_{op}"]
    out["n_se"] = col["n_se"]
    for i in range(SCALES):
        out[f"macs_scale{i}"] = col[f"macs_scale{i}"]
    return np.column_stack([out[f] for f in FEATURES])


def column(sums: np.ndarray, name: str) -> np.ndarray:
    """One column of layer sums by name (e.g. ``lut_ms``)."""
    return np.atleast_2d(sums)[:, _COL[name]]
