"""The op vocabulary: one frozen ``LayerSpec`` per candidate layer and its canonical string key.

Key grammar (one place, decoded by :meth:`LayerSpec.from_key`; fields always present, fixed order)::

    {op}_k{kernel}_e{expansion}_se{se_ratio}_{skip}_{act}_i{cin}_o{cout}_s{stride}_in{H}x{W}

    e.g. mbconv_k5_e6_se0.25_idskip_relu_i40_o40_s1_in28x28

Optional suffixes describe layers of networks outside the search spaces (torchvision's
MobileNetV3, EfficientNet, ResNet, RegNet, ShuffleNetV2, SqueezeNet, GoogLeNet). Each appears
only when it differs from the default the base fields imply, always in this order, so every key
without them keeps its meaning::

    _mid{N}       mbconv / bottleneck inner width, when it is not cin × e
                  (then e = max(1, round(N / cin)))
    _sq{N}        SE squeeze width, when it is not max(1, round(se_ratio × gated channels))
    _seact{act}   activation inside SE, when it is not relu
    _gate{g}      SE gate, sigmoid | hsigmoid, when it is not the act's default (below)
    _g{G}         groups: of a conv, of a bottleneck's k×k conv (when not 1), of a shuffle
    _pad{P}       padding of a stem / conv / pool, when it is not (k - 1) // 2
    _ceil         max pool with ceil_mode, where it changes the output size
    _countpad     average pool counting the padded zeros (count_include_pad), where it pads
    _nobn         stem / conv without BN: the conv has a bias instead
    _post{act}    activation after a residual add (ResNet, RegNet)
    _parts{a}-{b}…  channel widths of a concat's inputs or a split's outputs

    e.g. mbconv_k3_e2_se0_idskip_hswish_i80_o80_s1_in14x14_mid200       (MobileNetV3-Large)
         dconv_k3_e1_se0.5_noskip_relu_i16_o16_s2_in112x112_gatehsigmoid (MobileNetV3-Small)
         basic_k3_e1_se0_convskip_relu_i64_o128_s2_in56x56_postrelu     (ResNet-18)
         maxpool_k3_e1_se0_noskip_none_i96_o96_s2_in109x109_pad0         (SqueezeNet 1.0)
         concat_k1_e1_se0_noskip_none_i116_o116_s1_in28x28_parts58-58    (ShuffleNetV2)

Op meanings (the MnasNet paper leaves details open; these keep the space consistent):

- ``stem``:   k×k conv → BN → act (the network's first layer).
- ``conv``:   k×k conv → BN → act → [SE on cout]; act may be ``none``, and ``_g`` makes it a
  grouped (or depthwise) conv.
- ``dconv``:  depthwise k×k → BN → act → [SE on cin] → pointwise 1×1 → BN (MobileNetV1 separable).
- ``mbconv``: 1×1 expand ×e → BN → act → depthwise k×k → BN → act → [SE] → 1×1 project → BN
  (the expand conv is left out when e = 1).
- ``basic``:  k×k conv (stride) → BN → act → k×k conv → BN, a residual block (ResNet-18/34).
- ``bottleneck``: 1×1 conv to mid → BN → act → k×k conv (stride, groups ``_g``) → BN → act →
  [SE on mid] → 1×1 conv → BN, a residual block (ResNet-50, RegNet); the 1×1 conv is always there.
- ``head``:   1×1 conv → BN → act → global average pool (output: a cout-vector).
- ``fc``:     linear cin → cout on a 1×1 input (the classifier); ``act`` is not applied.
- ``fcact``:  linear cin → cout → act on a 1×1 input (MobileNetV3's hidden classifier layer).
- ``maxpool`` / ``avgpool``: k×k pooling with the stride (act ``none``; cin = cout).
- ``gpool``:  global average pool to a cin-vector (act ``none``; cin = cout).
- ``add`` / ``mul``: element-wise over two inputs of the layer's shape, then act (or ``none``).
- ``concat``: inputs of the ``_parts`` widths joined along channels (cin = cout = their sum).
- ``split``:  the input cut along channels into outputs of the ``_parts`` widths.
- ``shuffle``: channel shuffle of ``_g`` groups (view g × C/g, transpose, view back).

Skips: ``noskip``; ``idskip`` adds the input and is only valid where shapes match (cin = cout,
stride 1) — a ``LayerSpec`` refuses it elsewhere, and :class:`lutnas.spaces.arch.Arch` turns it into
``noskip`` on the first layer of a block that changes shape; ``poolskip`` adds a 3×3 average
pool of the input with the layer's stride (padding 1), followed by 1×1 conv → BN where widths
differ, so it also works across a shape change; ``convskip`` adds a 1×1 conv with the layer's
stride → BN of the input (ResNet's downsample, RegNet's projection). Skips are for conv, dconv,
mbconv, basic and bottleneck; basic and bottleneck always have one. SE squeeze width =
round(ratio × gated channels), at least 1, ReLU inside, gate = sigmoid (hard-sigmoid when act is
hswish); ``_sq``, ``_seact`` and ``_gate`` override these. Field rules: :mod:`lut.spec_rules`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

from lutnas.errors import LutnasError

OPS = ("stem", "conv", "dconv", "mbconv", "head", "fc", "fcact")
# units of networks beyond the search spaces (residual blocks, pooling, graph joins and forks);
# kept apart so the spaces' own op list, and what depends on its order, stay as they were
GRAPH_OPS = (
    "basic",
    "bottleneck",
    "maxpool",
    "avgpool",
    "gpool",
    "add",
    "mul",
    "concat",
    "split",
    "shuffle",
)
ALL_OPS = OPS + GRAPH_OPS
SKIPS = ("noskip", "idskip", "poolskip", "convskip")
# Activation and SE-gate names; :mod:`lut.activations` maps each to its torch forms (a test keeps
# the two in step). The order of ACTS fixes the predictor's one-hot feature columns.
ACTS = ("relu", "relu6", "hswish", "silu")
GATES = ("sigmoid", "hsigmoid")
NO_ACT = "none"  # the act of a unit without one (pools, joins; a conv or add may have none)

_KEY_RE = re.compile(
    r"^(?P<op>[a-z]+)_k(?P<kernel>\d+)_e(?P<expansion>\d+)_se(?P<se_ratio>[0-9.]+)"
    r"_(?P<skip>[a-z]+)_(?P<act>[a-z0-9]+)_i(?P<cin>\d+)_o(?P<cout>\d+)_s(?P<stride>\d+)"
    r"_in(?P<input_h>\d+)x(?P<input_w>\d+)"
    r"(?:_mid(?P<mid>\d+))?(?:_sq(?P<se_squeeze>\d+))?(?:_seact(?P<se_act>[a-z0-9]+))?"
    r"(?:_gate(?P<se_gate>[a-z]+))?"
    r"(?:_g(?P<groups>\d+))?(?:_pad(?P<pad>\d+))?(?P<ceil>_ceil)?(?P<countpad>_countpad)?"
    r"(?P<nobn>_nobn)?(?:_post(?P<post>[a-z0-9]+))?(?:_parts(?P<parts>\d+(?:-\d+)+))?$"
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
        op: one of ``ALL_OPS`` (the spaces' ``OPS`` and the graph units ``GRAPH_OPS``).
        kernel: spatial kernel size (odd for convs).
        expansion: mbconv / bottleneck expansion ratio; 1 for every other op.
        se_ratio: squeeze-and-excite ratio, 0 for none.
        skip: one of ``SKIPS``.
        act: activation, one of ``ACTS``, or ``none`` where the op allows it.
        cin, cout: input and output channels.
        stride: spatial stride of the layer.
        input_h, input_w: input height and width in pixels (1×1 for ``fc``).
        mid: mbconv / bottleneck inner width when it is not ``cin × expansion`` (0: default).
        se_squeeze: SE squeeze width when not the ratio's default (0: that default).
        se_act: activation inside SE (default relu).
        se_gate: SE gate, ``sigmoid`` or ``hsigmoid`` ("": hsigmoid for hswish, else sigmoid).
        groups: conv / bottleneck groups, shuffle groups (0: 1, no grouping).
        pad: padding of a stem, conv or pool (-1: the default (kernel - 1) // 2).
        ceil: max pool rounds its output size up (torch's ``ceil_mode``).
        countpad: average pool counts padded zeros (torch's ``count_include_pad``).
        bn: a stem or conv has BN (False: a bias instead).
        post: activation after the residual add ("": none).
        parts: channel widths of a concat's inputs or a split's outputs.

    The optional fields are normalised: a value equal to its default, or one that changes
    nothing (``ceil`` where the size divides evenly), is stored as the default, so two specs of
    the same layer are equal and share one key. The rules: :mod:`lut.spec_rules`.
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
    groups: int = 0
    pad: int = -1
    ceil: bool = False
    countpad: bool = False
    bn: bool = True
    post: str = ""
    parts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        from lut import spec_rules  # the rules read the spec's properties

        if self.parts:
            object.__setattr__(self, "parts", tuple(int(p) for p in self.parts))
        for name, value in spec_rules.normalised(self).items():
            object.__setattr__(self, name, value)
        problems = spec_rules.problems(self)
        if problems:
            raise LutnasError(f"invalid LayerSpec {self._raw_key()}: " + "; ".join(problems))

    @property
    def mid_channels(self) -> int:
        """Width inside an mbconv or bottleneck (cin for ops without expansion)."""
        return self.mid or self.cin * self.expansion

    @property
    def se_channels(self) -> int:
        """Channels SE gates: cout for conv, cin for dconv, the inner width for mbconv and
        bottleneck."""
        if self.op == "dconv":
            return self.cin
        if self.op in ("mbconv", "bottleneck"):
            return self.mid_channels
        return self.cout

    def default_squeeze(self) -> int:
        """The SE squeeze width ``se_ratio`` implies."""
        return max(1, int(round(self.se_ratio * self.se_channels)))

    def default_gate(self) -> str:
        """The SE gate ``act`` implies."""
        return "hsigmoid" if self.act == "hswish" else "sigmoid"

    @property
    def se_squeeze_channels(self) -> int:
        """SE squeeze width in effect (0 without SE)."""
        if not self.se_ratio:
            return 0
        return self.se_squeeze or self.default_squeeze()

    @property
    def se_gate_kind(self) -> str:
        """SE gate in effect: sigmoid or hsigmoid."""
        return self.se_gate or self.default_gate()

    @property
    def group_count(self) -> int:
        """Groups in effect (1 without grouping)."""
        return self.groups or 1

    @property
    def padding(self) -> int:
        """Padding in effect, pixels per side (a stem, conv or pool; k // 2 for other convs)."""
        return (self.kernel - 1) // 2 if self.pad < 0 else self.pad

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
        if self.groups:
            key += f"_g{self.groups}"
        if self.pad >= 0:
            key += f"_pad{self.pad}"
        key += "_ceil" * self.ceil + "_countpad" * self.countpad + "_nobn" * (not self.bn)
        if self.post:
            key += f"_post{self.post}"
        if self.parts:
            key += "_parts" + "-".join(str(p) for p in self.parts)
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
        texts = ("op", "skip", "act", "se_ratio", "se_act", "se_gate", "post")
        flags = ("ceil", "countpad", "nobn", "parts")
        ints = {k: int(v) for k, v in fields.items() if k not in texts + flags}
        extras = {k: fields[k] for k in ("se_act", "se_gate", "post") if k in fields}
        spec = cls(
            op=fields["op"],
            skip=fields["skip"],
            act=fields["act"],
            se_ratio=float(fields["se_ratio"]),
            ceil="ceil" in fields,
            countpad="countpad" in fields,
            bn="nobn" not in fields,
            parts=tuple(int(p) for p in fields.get("parts", "").split("-") if p),
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
        """Output height and width (a vector's is 1×1)."""
        from lut.spec_rules import output_hw

        return output_hw(self)

    @property
    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Batch-1 shape of each input tensor (two for add / mul, one per part for concat)."""
        if self.op in ("fc", "fcact"):
            return ((1, self.cin),)
        hw = (self.input_h, self.input_w)
        if self.op in ("add", "mul"):
            return ((1, self.cin, *hw),) * 2
        if self.op == "concat":
            return tuple((1, p, *hw) for p in self.parts)
        return ((1, self.cin, *hw),)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Batch-1 shape of the (first) input tensor."""
        return self.input_shapes[0]

    @property
    def output_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Batch-1 shape of each output tensor (one per part for split)."""
        if self.op in ("head", "fc", "fcact", "gpool"):
            return ((1, self.cout),)
        hw = self.output_hw
        if self.op == "split":
            return tuple((1, p, *hw) for p in self.parts)
        return ((1, self.cout, *hw),)

    def to_dict(self) -> dict:
        return asdict(self)
