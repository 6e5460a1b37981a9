"""The op vocabulary: one frozen ``LayerSpec`` per candidate layer and its canonical string key.

Key grammar (one place, decoded by :meth:`LayerSpec.from_key`; fields always present, fixed order)::

    {op}_k{kernel}_e{expansion}_se{se_ratio}_{skip}_{act}_i{cin}_o{cout}_s{stride}_in{H}x{W}

    e.g. mbconv_k5_e6_se0.25_idskip_relu_i40_o40_s1_in28x28

Optional suffixes describe layers of networks outside the search spaces (torchvision's
MobileNetV3 and EfficientNet). Each appears only when it differs from the default the base
fields imply, always in this order, so every key without them keeps its meaning::

    _mid{N}       mbconv expanded width, when it is not cin × e (then e = max(1, round(N / cin)))
    _sq{N}        SE squeeze width, when it is not max(1, round(se_ratio × gated channels))
    _seact{act}   activation inside SE, when it is not relu
    _gate{g}      SE gate, sigmoid | hsigmoid, when it is not the act's default (below)

    e.g. mbconv_k3_e2_se0_idskip_hswish_i80_o80_s1_in14x14_mid200       (MobileNetV3-Large)
         dconv_k3_e1_se0.5_noskip_relu_i16_o16_s2_in112x112_gatehsigmoid (MobileNetV3-Small)

Op meanings (the MnasNet paper leaves details open; these keep the space consistent):

- ``stem``:   k×k conv → BN → act (the network's first layer).
- ``conv``:   k×k conv → BN → act → [SE on cout].
- ``dconv``:  depthwise k×k → BN → act → [SE on cin] → pointwise 1×1 → BN (MobileNetV1 separable).
- ``mbconv``: 1×1 expand ×e → BN → act → depthwise k×k → BN → act → [SE] → 1×1 project → BN
  (the expand conv is left out when e = 1).
- ``head``:   1×1 conv → BN → act → global average pool (output: a cout-vector).
- ``fc``:     linear cin → cout on a 1×1 input (the classifier); ``act`` is not applied.
- ``fcact``:  linear cin → cout → act on a 1×1 input (MobileNetV3's hidden classifier layer).

Skips: ``noskip``; ``idskip`` adds the input and is only valid where shapes match (cin = cout,
stride 1) — a ``LayerSpec`` refuses it elsewhere, and :class:`lutnas.spaces.arch.Arch` turns it into
``noskip`` on the first layer of a block that changes shape; ``poolskip`` adds a 3×3 average
pool of the input with the layer's stride (padding 1), followed by 1×1 conv → BN where widths
differ, so it also works across a shape change. SE squeeze width = round(ratio × gated channels),
at least 1, ReLU inside, gate = sigmoid (hard-sigmoid when act is hswish); ``_sq``, ``_seact``
and ``_gate`` override these.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

from lutnas.errors import LutnasError

OPS = ("stem", "conv", "dconv", "mbconv", "head", "fc", "fcact")
SKIPS = ("noskip", "idskip", "poolskip")
# Activation and SE-gate names; :mod:`lut.activations` maps each to its torch forms (a test keeps
# the two in step). The order of ACTS fixes the predictor's one-hot feature columns.
ACTS = ("relu", "relu6", "hswish", "silu")
GATES = ("sigmoid", "hsigmoid")

_KEY_RE = re.compile(
    r"^(?P<op>[a-z]+)_k(?P<kernel>\d+)_e(?P<expansion>\d+)_se(?P<se_ratio>[0-9.]+)"
    r"_(?P<skip>[a-z]+)_(?P<act>[a-z0-9]+)_i(?P<cin>\d+)_o(?P<cout>\d+)_s(?P<stride>\d+)"
    r"_in(?P<input_h>\d+)x(?P<input_w>\d+)"
    r"(?:_mid(?P<mid>\d+))?(?:_sq(?P<se_squeeze>\d+))?(?:_seact(?P<se_act>[a-z0-9]+))?"
    r"(?:_gate(?P<se_gate>[a-z]+))?$"
)


def se_ratio_of(squeeze: int, gated: int) -> float:
    """The ``se_ratio`` of an SE squeezing ``gated`` channels to ``squeeze``: their ratio to four
    places. With ``se_squeeze=squeeze`` beside it, every way of writing one network (a torch
    module decomposed, an architecture of a space) names its SE layers with the same key."""
    return round(squeeze / gated, 4)


def _format_ratio(x: float) -> str:
    """Canonical text of a ratio: 0, 0.25, 0.5 (no trailing zeros, no exponent)."""
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass(frozen=True, order=True)
class LayerSpec:
    """One candidate layer, complete enough to build it and to name its LUT row.

    Attributes:
        op: one of ``OPS``.
        kernel: spatial kernel size (odd).
        expansion: mbconv expansion ratio; 1 for every other op.
        se_ratio: squeeze-and-excite ratio, 0 for none.
        skip: one of ``SKIPS``.
        act: activation, one of ``ACTS``.
        cin, cout: input and output channels.
        stride: spatial stride of the layer.
        input_h, input_w: input height and width in pixels (1×1 for ``fc``).
        mid: mbconv expanded width when it is not ``cin × expansion`` (0: that default).
        se_squeeze: SE squeeze width when not the ratio's default (0: that default).
        se_act: activation inside SE (default relu).
        se_gate: SE gate, ``sigmoid`` or ``hsigmoid`` ("": hsigmoid for hswish, else sigmoid).

    The four optional fields are normalised: a value equal to its default is stored as the
    default, so two specs of the same layer are equal and share one key.
    """

    op: str
    kernel: int
    expansion: int
    se_ratio: float
    skip: str
    act: str
    cin: int
    cout: int
    stride: int
    input_h: int
    input_w: int
    mid: int = 0
    se_squeeze: int = 0
    se_act: str = "relu"
    se_gate: str = ""

    def __post_init__(self) -> None:
        self._normalise()
        problems = []
        if self.op not in OPS:
            problems.append(f"op {self.op!r} is not one of {OPS}")
        if self.skip not in SKIPS:
            problems.append(f"skip {self.skip!r} is not one of {SKIPS}")
        if self.act not in ACTS:
            problems.append(f"act {self.act!r} is not one of {ACTS}")
        if self.kernel < 1 or self.kernel % 2 == 0:
            problems.append(f"kernel {self.kernel} must be odd and positive")
        if self.expansion < 1 or (self.op != "mbconv" and self.expansion != 1):
            problems.append(f"expansion {self.expansion} must be 1 for {self.op} (>= 1 for mbconv)")
        if not 0 <= self.se_ratio < 1:
            problems.append(f"se_ratio {self.se_ratio} must be in [0, 1)")
        if min(self.cin, self.cout, self.stride, self.input_h, self.input_w) < 1:
            problems.append("channels, stride and input size must be positive")
        if self.skip == "idskip" and (self.cin != self.cout or self.stride != 1):
            problems.append(
                f"identity skip needs matching shapes (cin {self.cin} vs cout {self.cout}, "
                f"stride {self.stride}); use noskip or poolskip"
            )
        if self.op in ("stem", "head", "fc", "fcact") and (self.skip != "noskip" or self.se_ratio):
            problems.append(f"{self.op} takes neither a skip nor SE")
        if self.op in ("fc", "fcact") and (
            self.kernel,
            self.stride,
            self.input_h,
            self.input_w,
        ) != (1, 1, 1, 1):
            problems.append(f"{self.op} must have kernel 1, stride 1 and a 1x1 input")
        if self.mid:
            nominal = max(1, round(self.mid / self.cin))
            if self.op != "mbconv":
                problems.append(f"mid (expanded width) is only for mbconv, not {self.op}")
            elif self.expansion != nominal:
                problems.append(
                    f"with mid {self.mid} the expansion must be round(mid / cin) "
                    f"= {nominal}, not {self.expansion}"
                )
        if self.se_act not in ACTS:
            problems.append(f"se_act {self.se_act!r} is not one of {ACTS}")
        if self.se_gate and self.se_gate not in GATES:
            problems.append(f"se_gate {self.se_gate!r} is not one of {GATES}")
        if not self.se_ratio and (self.se_squeeze or self.se_act != "relu" or self.se_gate):
            problems.append("SE options (squeeze, se_act, gate) need an se_ratio above 0")
        if self.se_squeeze < 0 or self.mid < 0:
            problems.append("mid and se_squeeze must not be negative")
        if self.op == "head" and (self.kernel, self.stride) != (1, 1):
            problems.append("head must have kernel 1 and stride 1")
        if problems:
            raise LutnasError(f"invalid LayerSpec {self._raw_key()}: " + "; ".join(problems))

    def _normalise(self) -> None:
        """Store optional fields equal to their defaults as the defaults (frozen: setattr)."""
        if self.mid and self.mid == self.cin * self.expansion:
            object.__setattr__(self, "mid", 0)
        if self.se_ratio and self.se_squeeze == self._default_squeeze():
            object.__setattr__(self, "se_squeeze", 0)
        if self.se_gate and self.se_gate == self._default_gate():
            object.__setattr__(self, "se_gate", "")

    def _default_squeeze(self) -> int:
        return max(1, int(round(self.se_ratio * self.se_channels)))

    def _default_gate(self) -> str:
        return "hsigmoid" if self.act == "hswish" else "sigmoid"

    @property
    def mid_channels(self) -> int:
        """Width inside an mbconv (cin for ops without expansion)."""
        return self.mid or self.cin * self.expansion

    @property
    def se_channels(self) -> int:
        """Channels SE gates: cout for conv, cin for dconv, the expanded width for mbconv."""
        if self.op == "dconv":
            return self.cin
        if self.op == "mbconv":
            return self.mid_channels
        return self.cout

    @property
    def se_squeeze_channels(self) -> int:
        """SE squeeze width in effect (0 without SE)."""
        if not self.se_ratio:
            return 0
        return self.se_squeeze or self._default_squeeze()

    @property
    def se_gate_kind(self) -> str:
        """SE gate in effect: sigmoid or hsigmoid."""
        return self.se_gate or self._default_gate()

    def _raw_key(self) -> str:
        key = (
            f"{self.op}_k{self.kernel}_e{self.expansion}_se{_format_ratio(self.se_ratio)}"
            f"_{self.skip}_{self.act}_i{self.cin}_o{self.cout}_s{self.stride}"
            f"_in{self.input_h}x{self.input_w}"
        )
        if self.mid:
            key += f"_mid{self.mid}"
        if self.se_squeeze:
            key += f"_sq{self.se_squeeze}"
        if self.se_act != "relu":
            key += f"_seact{self.se_act}"
        if self.se_gate:
            key += f"_gate{self.se_gate}"
        return key

    @functools.cached_property
    def key(self) -> str:
        """The canonical key: ``LayerSpec.from_key(spec.key) == spec`` always holds.

        Made once per spec (the spec is immutable; expanding architectures asks for the keys
        of the same cached block layers again and again)."""
        return self._raw_key()

    @classmethod
    def from_key(cls, key: str) -> LayerSpec:
        """Decode a key made by :attr:`key`.

        Raises:
            LutnasError: the text does not follow the grammar or describes an invalid layer.
        """
        match = _KEY_RE.match(key.strip())
        if not match:
            raise LutnasError(
                f"{key!r} is not a LayerSpec key; expected e.g. "
                "'mbconv_k3_e6_se0.25_idskip_relu_i24_o24_s1_in56x56'"
            )
        fields = {k: v for k, v in match.groupdict().items() if v is not None}
        texts = ("op", "skip", "act", "se_ratio", "se_act", "se_gate")
        ints = {k: int(v) for k, v in fields.items() if k not in texts}
        extras = {k: fields[k] for k in ("se_act", "se_gate") if k in fields}
        spec = cls(
            op=fields["op"],
            skip=fields["skip"],
            act=fields["act"],
            se_ratio=float(fields["se_ratio"]),
            **ints,
            **extras,
        )
        if spec.key != key.strip():
            raise LutnasError(
                f"{key!r} is not in canonical form; the canonical key is {spec.key!r}"
            )
        return spec

    @property
    def output_hw(self) -> tuple[int, int]:
        """Output height and width (same padding, k // 2)."""
        if self.op in ("head", "fc", "fcact"):
            return (1, 1)
        return ((self.input_h - 1) // self.stride + 1, (self.input_w - 1) // self.stride + 1)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Batch-1 input tensor shape."""
        if self.op in ("fc", "fcact"):
            return (1, self.cin)
        return (1, self.cin, self.input_h, self.input_w)

    def to_dict(self) -> dict:
        return asdict(self)
