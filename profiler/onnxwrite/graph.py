"""An ONNX graph being written: tensors by name with their shapes, nodes in order, initializers.

The writer (:mod:`profiler.onnxwrite.convert`) adds the graph's inputs, then one node at a time
(:meth:`Graph.op`), each output's shape given by the caller (the file carries no ``value_info``,
as the TorchScript exporter's do not). What the TorchScript exporter does with constants, this
does too:

- a module's own parameters read as they are (an SE's convs, a Linear) are initializers
  (:meth:`Graph.param`), listed first, in the order they are read; weights the exporter makes
  (a conv with its BatchNorm folded in) follow, in the order they are made (:meth:`Graph.made`);
- an initializer equal to an earlier one (type, shape, values: the zero biases of freshly
  folded BatchNorms of one width) is not stored again: an Identity node of the earlier one,
  at the start of the graph, gives it (the exporter's eval-mode de-duplication; the last found
  comes first);
- small operands (a Clip's bounds, a Reshape's shape, a Split's sizes) are ``Constant`` nodes
  right before the node that reads them (:meth:`Graph.constant`).

Names: a node is ``/<module path>/<OpType>`` (``_1``, ``_2``, ... when taken), its outputs
``<node name>_output_<i>``, as the exporter names them; the graph's outputs are renamed
``output`` (``output0``, ``output1``, ... for several) at the end. Names do not change what a
runtime does; they make two files easy to compare.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from onnx import ModelProto, NodeProto, TensorProto, helper, numpy_helper

IR_VERSION = 8  # what the TorchScript exporter of torch 2.x writes with opset 17


class UnknownModule(Exception):
    """A module type or setting the writer does not reproduce (the message names it); the file
    is then made by the TorchScript exporter."""


def child(path: str, name: str) -> str:
    """The path of module ``name`` inside the module at ``path`` (``""``: the root)."""
    return f"{path}.{name}" if path else name


def scope(path: str) -> str:
    """The node-name scope of module ``path`` (``main.0.1`` → ``/main/main.0/main.0.1``), as
    the TorchScript exporter writes it."""
    if not path:
        return ""
    parts = path.split(".")
    return "".join("/" + ".".join(parts[: i + 1]) for i in range(len(parts)))


class Graph:
    """Nodes, initializers and the shape of every tensor of one ONNX graph."""

    def __init__(self) -> None:
        self.nodes: list[NodeProto] = []
        self.inputs: list[str] = []
        self._params: list[tuple[str, np.ndarray]] = []  # the module's own, as read
        self._made: list[tuple[str, np.ndarray]] = []  # folded weights, as made
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._producer: dict[str, tuple[NodeProto, int]] = {}
        self._taken: dict[str, int] = {}

    # --- tensors ---------------------------------------------------------------------------
    def add_input(self, name: str, shape: Sequence[int]) -> str:
        self._shapes[name] = tuple(int(d) for d in shape)
        self.inputs.append(name)
        return name

    def shape(self, name: str) -> tuple[int, ...]:
        return self._shapes[name]

    def param(self, value: np.ndarray, name: str) -> str:
        """An initializer holding a module parameter as it is (fp32), named ``name``."""
        return self._initializer(self._params, value, name)

    def made(self, value: np.ndarray, name: str) -> str:
        """An initializer holding a weight made from the module's (a folded conv's; fp32)."""
        return self._initializer(self._made, value, name)

    def _initializer(self, into: list, value: np.ndarray, name: str) -> str:
        array = np.ascontiguousarray(value, dtype=np.float32)
        name = self._unique(name)
        into.append((name, array))
        self._shapes[name] = array.shape
        return name

    def constant(self, value: np.ndarray, path: str, dtype: type) -> str:
        """A ``Constant`` node holding ``value`` as ``dtype``; its output's name."""
        array = np.asarray(value, dtype=dtype)
        tensor = numpy_helper.from_array(array, "")
        return self.op("Constant", [], array.shape, scope(path), value=tensor)

    # --- nodes -----------------------------------------------------------------------------
    def op(
        self, op_type: str, inputs: Sequence[str], shape: Sequence[int], scope: str, **attrs
    ) -> str:
        """Add a node of one output of ``shape``; returns the output's name."""
        return self.multi_op(op_type, inputs, [shape], scope, **attrs)[0]

    def multi_op(
        self,
        op_type: str,
        inputs: Sequence[str],
        shapes: Sequence[Sequence[int]],
        scope: str,
        **attrs,
    ) -> list[str]:
        """Add a node with one output per shape in ``shapes``; returns their names."""
        name = self._unique(f"{scope}/{op_type}")
        outputs = [f"{name}_output_{i}" for i in range(len(shapes))]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name, **attrs))
        for i, (out, shape) in enumerate(zip(outputs, shapes, strict=True)):
            self._shapes[out] = tuple(int(d) for d in shape)
            self._producer[out] = (self.nodes[-1], i)
        return outputs

    def _unique(self, name: str) -> str:
        n = self._taken.get(name, 0)
        self._taken[name] = n + 1
        return name if n == 0 else f"{name}_{n}"

    # --- the file --------------------------------------------------------------------------
    def to_model(self, outputs: Sequence[str], opset: int, producer: str) -> ModelProto:
        """The model whose graph returns ``outputs`` (renamed ``output``, or ``output<i>`` for
        several); a graph input returned as it is passes through an Identity node."""
        names = ["output"] if len(outputs) == 1 else [f"output{i}" for i in range(len(outputs))]
        final = []
        for tensor in outputs:
            if tensor not in self._producer or tensor in final:
                tensor = self.op("Identity", [tensor], self.shape(tensor), "")
            final.append(tensor)
        renamed = dict(zip(final, names, strict=True))
        for node in self.nodes:
            _rename(node.input, renamed)
            _rename(node.output, renamed)
        initializers, identities = self._deduplicated()
        model = ModelProto(ir_version=IR_VERSION, producer_name=producer)
        model.opset_import.append(helper.make_opsetid("", opset))
        graph = model.graph
        graph.name = "main_graph"
        graph.node.extend([*identities, *self.nodes])
        graph.initializer.extend(initializers)
        graph.input.extend(_value_info(n, self._shapes[n]) for n in self.inputs)
        graph.output.extend(_value_info(n, self._shapes[t]) for t, n in renamed.items())
        return model

    def _deduplicated(self) -> tuple[list[TensorProto], list[NodeProto]]:
        """The initializers, each stored once, and the Identity nodes giving the repeats."""
        kept: list[TensorProto] = []
        identities: list[NodeProto] = []
        by_shape: dict[tuple, list[tuple[str, np.ndarray]]] = {}
        for name, array in self._params + self._made:
            same = by_shape.setdefault(array.shape, [])
            first = next((n for n, earlier in same if np.array_equal(earlier, array)), None)
            if first is None:
                same.append((name, array))
                kept.append(numpy_helper.from_array(array, name))
            else:
                identities.insert(0, helper.make_node("Identity", [first], [name], f"{name}/Id"))
        return kept, identities


def _rename(names, renamed: dict[str, str]) -> None:
    for i, name in enumerate(names):
        if name in renamed:
            names[i] = renamed[name]


def _value_info(name: str, shape: Sequence[int]):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))
