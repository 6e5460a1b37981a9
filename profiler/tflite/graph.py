"""A small TFLite graph builder: tensors, constant buffers, operators, op codes → ``.tflite`` bytes.

One subgraph, fp32 activations, written with the flatbuffer schema's object API shipped in
``ai_edge_litert`` (``ModelT`` … ``Pack``). Only the builtin ops XNNPACK delegates
(:data:`DELEGATED_OPS`) can be added, so every file this writes runs wholly inside the XNNPACK
delegate. Guarantees of :meth:`Graph.to_bytes`: buffer 0 is the empty sentinel every
non-constant tensor points at; each constant has its own buffer, 16-byte aligned (the schema's
``force_align``); the file identifier is ``TFL3``; op versions are 1 (fp32 kernels).
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
}
_BUFFER_ALIGN = 16
_PLACEHOLDER_FOR_GREATER_OP_CODES = 127  # deprecated_builtin_code of ops numbered above it


class GraphError(ValueError):
    """The graph asked for something the writer does not do (an op outside DELEGATED_OPS, ...)."""


@dataclass
class Op:
    """One operator: builtin op name, input and output tensor indices, schema options object."""

    name: str
    inputs: list[int]
    outputs: list[int]
    options: object | None = None


@dataclass(kw_only=True)
class _Tensor:
    shape: tuple[int, ...]
    dtype: np.dtype
    name: str
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
    def add_input(self, shape: tuple[int, ...], name: str = "input") -> int:
        """A float32 graph input of ``shape``."""
        t = self._new(shape, np.dtype(np.float32), name)
        self.inputs.append(t)
        self.tensors[t].pinned = True
        return t

    def const(self, value: np.ndarray | float, name: str, dtype: type = np.float32) -> int:
        """A constant tensor holding a copy of ``value`` (cast to float32 or int32): later edits
        through :meth:`const_value` never reach the caller's array (e.g. a module's weight)."""
        data = np.array(value, dtype=dtype, order="C", copy=True)
        t = self._new(data.shape, data.dtype, name)
        self.tensors[t].data = data
        return t

    def shape(self, t: int) -> tuple[int, ...]:
        return self.tensors[t].shape

    def const_value(self, t: int) -> np.ndarray | None:
        """The array of a constant tensor (None for activations); edits change the file."""
        return self.tensors[t].data

    def pin(self, t: int) -> None:
        """Mark ``t`` as read again later, so nothing rewrites the op that produces it."""
        self.tensors[t].pinned = True

    def _new(self, shape: tuple[int, ...], dtype: np.dtype, name: str) -> int:
        if dtype not in _DTYPES:
            raise GraphError(f"tensor {name!r}: dtype {dtype} is not float32 or int32")
        self.tensors.append(_Tensor(shape=tuple(int(d) for d in shape), dtype=dtype, name=name))
        return len(self.tensors) - 1

    # --- operators -------------------------------------------------------------------------
    def add_op(
        self,
        name: str,
        inputs: list[int],
        out_shape: tuple[int, ...],
        options: object | None = None,
        out_name: str = "",
    ) -> int:
        """Append op ``name`` (a BuiltinOperator name in DELEGATED_OPS) reading ``inputs`` and
        writing one new float32 tensor of ``out_shape``; returns that tensor.

        ``options`` is the op's schema options object (``Conv2DOptionsT`` …) or None.
        """
        return self.add_multi_op(name, inputs, [out_shape], options, out_name)[0]

    def add_multi_op(
        self,
        name: str,
        inputs: list[int],
        out_shapes: list[tuple[int, ...]],
        options: object | None = None,
        out_name: str = "",
    ) -> list[int]:
        """:meth:`add_op` for an op writing one float32 tensor per shape of ``out_shapes``
        (SPLIT); returns those tensors."""
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
        outs = [
            self._new(s, np.dtype(np.float32), n) for s, n in zip(out_shapes, names, strict=True)
        ]
        for out in outs:
            self.tensors[out].producer = len(self.ops)
        self.ops.append(Op(name, list(inputs), outs, options))
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
                )
            )
        codes: dict[str, int] = {}
        operators = []
        for op in self.ops:
            operators.append(
                schema.OperatorT(
                    opcodeIndex=codes.setdefault(op.name, len(codes)),
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
            operatorCodes=[_op_code(name) for name in codes],
            subgraphs=[subgraph],
            description=description,
            buffers=buffers,
        )
        payload = sum(t.data.nbytes for t in self.tensors if t.data is not None)
        builder = flatbuffers.Builder(payload + 256 * len(self.tensors) + 4096)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _op_code(name: str) -> schema.OperatorCodeT:
    code = getattr(schema.BuiltinOperator, name)
    return schema.OperatorCodeT(
        deprecatedBuiltinCode=min(code, _PLACEHOLDER_FOR_GREATER_OP_CODES),
        builtinCode=code,
        version=1,
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
