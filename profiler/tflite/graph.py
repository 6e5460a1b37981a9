"""A small TFLite graph builder: tensors, constant buffers, operators, op codes → ``.tflite`` bytes.

One subgraph, written with the flatbuffer schema's object API shipped in ``ai_edge_litert``
(``ModelT`` … ``Pack``). Tensors are float32 or int32 (fp32 graphs), or int8 with
:class:`Quant` parameters (the int8 graphs of :mod:`profiler.tflite.quantize`). Only the builtin
ops XNNPACK delegates (:data:`DELEGATED_OPS`) can be added, so every file this writes runs wholly
inside the XNNPACK delegate. Guarantees of :meth:`Graph.to_bytes`: buffer 0 is the empty sentinel
every non-constant tensor points at; each constant has its own buffer, 16-byte aligned (the
schema's ``force_align``); the file identifier is ``TFL3``; each op carries the version given to
:meth:`Graph.add_op` (1, the fp32 kernels, unless said; int8 kernels have higher versions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

# the builtin ops the XNNPACK delegate takes in fp32, batch 1 (the only ones written)
DELEGATED_OPS: frozenset[str] = frozenset(
    {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "ADD",
        "MUL",
        "MEAN",
        "AVERAGE_POOL_2D",
        "PAD",
        "LOGISTIC",
        "HARD_SWISH",
        "RELU",
        "RELU6",
        "FULLY_CONNECTED",
        "RESHAPE",
        # the pooling and graph units (profiler.tflite.units)
        "MAX_POOL_2D",
        "CONCATENATION",
        "SPLIT",
        "STRIDED_SLICE",
        "TRANSPOSE",
    }
)
# ops whose options carry a fused activation (applied to their output)
_FUSABLE = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MUL", "FULLY_CONNECTED"})
_ACT_CODES = {
    "relu": schema.ActivationFunctionType.RELU,
    "relu6": schema.ActivationFunctionType.RELU6,
}
_DTYPES = {
    np.dtype(np.float32): schema.TensorType.FLOAT32,
    np.dtype(np.int32): schema.TensorType.INT32,
    np.dtype(np.int8): schema.TensorType.INT8,
}
_BUFFER_ALIGN = 16
_PLACEHOLDER_FOR_GREATER_OP_CODES = 127  # deprecated_builtin_code of ops numbered above it


class GraphError(ValueError):
    """The graph asked for something the writer does not do (an op outside DELEGATED_OPS, ...)."""


@dataclass(frozen=True)
class Quant:
    """A tensor's affine quantization: real = scale × (q − zero_point); one scale and zero point
    per tensor, or one per index of dimension ``axis`` (per-channel weights and biases)."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    def __post_init__(self) -> None:
        if len(self.scale) != len(self.zero_point) or not self.scale:
            raise GraphError(f"quantization with {len(self.scale)} scales and zero points")
        if not all(np.isfinite(s) and s > 0 for s in self.scale):
            raise GraphError(f"quantization scales must be finite and positive: {self.scale[:4]}")

    @classmethod
    def per_tensor(cls, scale: float, zero_point: int = 0) -> Quant:
        return cls((float(scale),), (int(zero_point),))

    def _t(self) -> schema.QuantizationParametersT:
        return schema.QuantizationParametersT(
            scale=np.asarray(self.scale, dtype=np.float32),
            zeroPoint=np.asarray(self.zero_point, dtype=np.int64),
            quantizedDimension=self.axis,
        )


@dataclass
class Op:
    """One operator: builtin op name, input and output tensor indices, schema options object,
    and the op version written to the file (what its kernel needs: 1 for fp32)."""

    name: str
    inputs: list[int]
    outputs: list[int]
    options: object | None = None
    version: int = 1


@dataclass(kw_only=True)
class _Tensor:
    shape: tuple[int, ...]
    dtype: np.dtype
    name: str
    quant: Quant | None = None  # int8 (and their int32 biases) only
    data: np.ndarray | None = None  # constants only
    producer: int | None = None  # index of the op writing it
    pinned: bool = False  # read again later: its producer must not be rewritten
    consumers: int = 0


class _AlignedBuffer:
    """A ``Buffer`` table whose byte vector starts on a 16-byte boundary (``BufferT`` aligns to
    the element size only)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 (the object API's name)
        n = len(self.data)
        builder.StartVector(1, n, _BUFFER_ALIGN)
        builder.head -= n
        builder.Bytes[builder.head : builder.head + n] = self.data
        builder.vectorNumElems = n
        vector = builder.EndVector()
        schema.BufferStart(builder)
        schema.BufferAddData(builder, vector)
        return schema.BufferEnd(builder)


@dataclass
class Graph:
    """A single-subgraph TFLite model under construction. Tensors are addressed by index."""

    tensors: list[_Tensor] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)

    # --- tensors ---------------------------------------------------------------------------
    def add_input(
        self,
        shape: tuple[int, ...],
        name: str = "input",
        dtype: type = np.float32,
        quant: Quant | None = None,
    ) -> int:
        """A graph input of ``shape`` (float32, or int8 with ``quant``)."""
        t = self._new(shape, np.dtype(dtype), name, quant)
        self.inputs.append(t)
        self.tensors[t].pinned = True
        return t

    def const(
        self,
        value: np.ndarray | float,
        name: str,
        dtype: type = np.float32,
        quant: Quant | None = None,
    ) -> int:
        """A constant tensor holding a copy of ``value`` (cast to float32, int32 or int8, the
        integers with ``quant``): later edits through :meth:`const_value` never reach the
        caller's array (e.g. a module's weight)."""
        data = np.array(value, dtype=dtype, order="C", copy=True)
        t = self._new(data.shape, data.dtype, name, quant)
        self.tensors[t].data = data
        return t

    def shape(self, t: int) -> tuple[int, ...]:
        return self.tensors[t].shape

    def dtype(self, t: int) -> np.dtype:
        return self.tensors[t].dtype

    def name(self, t: int) -> str:
        return self.tensors[t].name

    def quant(self, t: int) -> Quant | None:
        return self.tensors[t].quant

    def const_value(self, t: int) -> np.ndarray | None:
        """The array of a constant tensor (None for activations); edits change the file."""
        return self.tensors[t].data

    def pin(self, t: int) -> None:
        """Mark ``t`` as read again later, so nothing rewrites the op that produces it."""
        self.tensors[t].pinned = True

    def _new(
        self, shape: tuple[int, ...], dtype: np.dtype, name: str, quant: Quant | None = None
    ) -> int:
        if dtype not in _DTYPES:
            raise GraphError(f"tensor {name!r}: dtype {dtype} is not float32, int32 or int8")
        if (dtype == np.int8) != (quant is not None) and dtype != np.int32:
            raise GraphError(f"tensor {name!r}: int8 tensors, and only they, need a Quant")
        shape = tuple(int(d) for d in shape)
        self.tensors.append(_Tensor(shape=shape, dtype=dtype, name=name, quant=quant))
        return len(self.tensors) - 1

    # --- operators -------------------------------------------------------------------------
    def add_op(
        self,
        name: str,
        inputs: list[int],
        out_shape: tuple[int, ...],
        options: object | None = None,
        out_name: str = "",
        out_quant: Quant | None = None,
        version: int = 1,
    ) -> int:
        """Append op ``name`` (a BuiltinOperator name in DELEGATED_OPS) reading ``inputs`` and
        writing one new tensor of ``out_shape``; returns that tensor. The output is float32,
        or int8 with ``out_quant``.

        ``options`` is the op's schema options object (``Conv2DOptionsT`` …) or None;
        ``version`` the op version its kernel needs (TFLite's ``op_version.cc``).
        """
        outs = self.add_multi_op(name, inputs, [out_shape], options, out_name, out_quant, version)
        return outs[0]

    def add_multi_op(
        self,
        name: str,
        inputs: list[int],
        out_shapes: list[tuple[int, ...]],
        options: object | None = None,
        out_name: str = "",
        out_quant: Quant | None = None,
        version: int = 1,
    ) -> list[int]:
        """:meth:`add_op` for an op writing one tensor per shape of ``out_shapes`` (SPLIT), each
        float32, or int8 with ``out_quant``; returns those tensors."""
        if name not in DELEGATED_OPS:
            raise GraphError(f"op {name} is not one XNNPACK delegates ({sorted(DELEGATED_OPS)})")
        for t in inputs:
            self.tensors[t].consumers += 1
        out_name = out_name or f"{name.lower()}_{len(self.ops)}"
        names = (
            [out_name]
            if len(out_shapes) == 1
            else [f"{out_name}:{i}" for i in range(len(out_shapes))]
        )
        dtype = np.dtype(np.float32 if out_quant is None else np.int8)
        outs = [self._new(s, dtype, n, out_quant) for s, n in zip(out_shapes, names, strict=True)]
        for out in outs:
            self.tensors[out].producer = len(self.ops)
        self.ops.append(Op(name, list(inputs), outs, options, version))
        return outs

    def producer(self, t: int) -> Op | None:
        """The op writing ``t``, when nothing has read ``t`` yet and nothing will read it again
        (so the op may be rewritten: a fused activation, a changed bias); else None."""
        tensor = self.tensors[t]
        if tensor.producer is None or tensor.consumers or tensor.pinned:
            return None
        return self.ops[tensor.producer]

    def fuse_activation(self, t: int, act: str) -> bool:
        """Fuse ``act`` (relu | relu6) into the op producing ``t`` if that op has no fused
        activation yet and ``t`` is read by nothing else; True when done (``t`` then holds the
        activated values)."""
        op = self.producer(t)
        code = _ACT_CODES.get(act)
        if op is None or code is None or op.name not in _FUSABLE:
            return False
        if op.options.fusedActivationFunction != schema.ActivationFunctionType.NONE:
            return False
        op.options.fusedActivationFunction = code
        return True

    # --- output ----------------------------------------------------------------------------
    def to_bytes(self, outputs: list[int], description: str = "lutnas") -> bytes:
        """The finished ``.tflite`` flatbuffer with ``outputs`` as the graph outputs."""
        buffers: list[object] = [schema.BufferT()]
        tensors = []
        for t in self.tensors:
            index = 0
            if t.data is not None:
                index = len(buffers)
                little = t.data.astype(t.data.dtype.newbyteorder("<"), copy=False)
                buffers.append(_AlignedBuffer(little.tobytes()))
            tensors.append(
                schema.TensorT(
                    shape=np.asarray(t.shape, dtype=np.int32),
                    type=_DTYPES[t.dtype],
                    buffer=index,
                    name=t.name,
                    quantization=t.quant._t() if t.quant is not None else None,
                )
            )
        codes: dict[tuple[str, int], int] = {}  # one operator code per (op, version)
        operators = []
        for op in self.ops:
            operators.append(
                schema.OperatorT(
                    opcodeIndex=codes.setdefault((op.name, op.version), len(codes)),
                    inputs=np.asarray(op.inputs, dtype=np.int32),
                    outputs=np.asarray(op.outputs, dtype=np.int32),
                    builtinOptionsType=_options_type(op.options),
                    builtinOptions=op.options,
                )
            )
        subgraph = schema.SubGraphT(
            tensors=tensors,
            inputs=np.asarray(self.inputs, dtype=np.int32),
            outputs=np.asarray(outputs, dtype=np.int32),
            operators=operators,
            name="main",
        )
        model = schema.ModelT(
            version=3,
            operatorCodes=[_op_code(name, version) for name, version in codes],
            subgraphs=[subgraph],
            description=description,
            buffers=buffers,
        )
        payload = sum(t.data.nbytes for t in self.tensors if t.data is not None)
        builder = flatbuffers.Builder(payload + 256 * len(self.tensors) + 4096)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _op_code(name: str, version: int) -> schema.OperatorCodeT:
    code = getattr(schema.BuiltinOperator, name)
    return schema.OperatorCodeT(
        deprecatedBuiltinCode=min(code, _PLACEHOLDER_FOR_GREATER_OP_CODES),
        builtinCode=code,
        version=version,
    )


def _options_type(options: object | None) -> int:
    """The BuiltinOptions union tag of a schema options object (``Conv2DOptionsT`` → 1)."""
    if options is None:
        return schema.BuiltinOptions.NONE
    return getattr(schema.BuiltinOptions, type(options).__name__.removesuffix("T"))


def op_names(tflite: bytes) -> list[str]:
    """The builtin op name of every operator of a ``.tflite`` file, in execution order
    (subgraph 0), read back with the schema's ``Model.GetRootAsModel``."""
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAsModel(tflite, 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        c = model.OperatorCodes(i)
        codes.append(max(c.BuiltinCode(), c.DeprecatedBuiltinCode()))
    subgraph = model.Subgraphs(0)
    ops = (subgraph.Operators(i) for i in range(subgraph.OperatorsLength()))
    return [names[codes[op.OpcodeIndex()]] for op in ops]
