"""A PyTorch program's graded model, as the ONNX graph its process exported, run with ONNX Runtime.

The student's process writes ``graded.onnx`` (``run/child/torch_probe.py``), and it could write anything
there: so the file is read as untrusted bytes. Before ONNX Runtime sees it, the graph must be a
well-formed ONNX model of bounded size (file, nodes, weights), made of the standard operators only (no
custom domains or functions, which could name native code) and holding its weights inside (no external
data, which would be read from paths the file names). Nothing here imports the student's Python or
unpickles anything. ``onnx`` and ``onnxruntime`` are imported on first use: the CLI and the Keras path
never pay for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..text import Text
from .context import Problem

MAX_ONNX_BYTES = 256 * 2**20
MAX_NODES = 20_000
MAX_WEIGHT_BYTES = 256 * 2**20
#: ONNX's standard operator set, under both of its names; anything else is a custom operator.
STANDARD_DOMAINS = {"", "ai.onnx"}
BATCH = 2000
#: ONNX Runtime's tensor types -> NumPy's, for the inputs the evaluator feeds.
INPUT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
               "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(int32)": np.int32,
               "tensor(int64)": np.int64, "tensor(bool)": np.bool_}


class OnnxModel:
    """``GradedModel`` (model.py) for a graph exported from PyTorch."""

    framework = "torch"

    def __init__(self, session: Any, ops: list[str]):
        self._session = session
        self._ops = ops
        self._input = session.get_inputs()[0]
        self._dtype = INPUT_TYPES.get(self._input.type)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self._dtype is None:
            raise TypeError(f"the graph's input has type {self._input.type}, which the grader cannot feed")
        x = np.asarray(x).astype(self._dtype, copy=False)
        parts = [self._session.run(None, {self._input.name: x[i:i + BATCH]})[0] for i in range(0, len(x), BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0,), np.float32)

    def layer_kinds(self) -> list[str]:
        return list(self._ops)

    def input_shapes(self) -> list[tuple[int | None, ...]]:
        return [tuple(d if isinstance(d, int) else None for d in i.shape) for i in self._session.get_inputs()]

    def loss(self) -> str | None:
        return None  # an exported graph holds the forward pass only


def _tensor_bytes(t: Any) -> int:
    """What a TensorProto declares it holds, in bytes (its dimensions, not only the bytes present)."""
    import onnx

    count = 1
    for d in t.dims:
        count *= max(int(d), 0)
    try:
        itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
    except (KeyError, TypeError, ValueError):
        itemsize = 8
    return count * itemsize


def _graphs(graph: Any):
    """A graph and every subgraph its nodes hold (If, Loop, Scan bodies)."""
    import onnx

    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _graphs(g)


def graph_problem(raw: bytes) -> tuple[Text | None, Any]:
    """What makes ``raw`` unfit to run as the graded model, and the parsed model."""
    import onnx

    if len(raw) > MAX_ONNX_BYTES:
        return _too_large(), None
    try:
        model = onnx.load_model_from_string(raw)
    except Exception as e:  # protobuf's DecodeError and kin: not an ONNX file
        why = f"{type(e).__name__}: {str(e)[:200]}"
        return Text(f"it is not an ONNX model ({why})", f"ele não é um modelo ONNX ({why})"), None
    custom = Text("it uses operators outside ONNX's standard set", "ele usa operadores fora do conjunto padrão do ONNX")
    domains = {o.domain for o in model.opset_import} - STANDARD_DOMAINS
    if model.functions or domains:
        names = ", ".join(sorted(domains | {f.domain for f in model.functions})) or "local functions"
        return custom + f" ({names[:200]})", None
    nodes, weights = 0, 0
    for graph in _graphs(model.graph):
        nodes += len(graph.node)
        tensors = list(graph.initializer) + [a.t for n in graph.node for a in n.attribute
                                             if a.type == onnx.AttributeProto.TENSOR]
        tensors += [s.values for s in graph.sparse_initializer]
        for t in tensors:
            if t.data_location == onnx.TensorProto.EXTERNAL or t.external_data:
                return Text("its weights refer to files outside it (external data)",
                            "seus pesos fazem referência a arquivos fora dele (dados externos)"), None
            weights += _tensor_bytes(t)
        if any(n.domain not in STANDARD_DOMAINS for n in graph.node):
            return custom, None
    if nodes > MAX_NODES:
        return Text(f"it has {nodes} operators (at most {MAX_NODES})",
                    f"ele tem {nodes} operadores (no máximo {MAX_NODES})"), None
    if weights > MAX_WEIGHT_BYTES:
        return Text(f"its weights declare {weights // 2**20} MiB (at most {MAX_WEIGHT_BYTES // 2**20} MiB)",
                    f"seus pesos declaram {weights // 2**20} MiB (no máximo {MAX_WEIGHT_BYTES // 2**20} MiB)"), None
    n_in, n_out = len(model.graph.input), len(model.graph.output)
    if n_in != 1 or not n_out:
        return Text(f"it has {n_in} inputs and {n_out} outputs (one input expected)",
                    f"ele tem {n_in} entradas e {n_out} saídas (esperava-se uma entrada)"), None
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # onnx.checker.ValidationError, and whatever a malformed graph makes it raise
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        return Text(f"it is not a valid ONNX graph ({msg})", f"ele não é um grafo ONNX válido ({msg})"), None
    return None, model


def _too_large() -> Text:
    return Text(f"it is larger than {MAX_ONNX_BYTES // 2**20} MiB", f"ele tem mais de {MAX_ONNX_BYTES // 2**20} MiB")


def file_problem(path: Path) -> Text | None:
    """What makes the file at ``path`` unfit to run as the graded model; None if fit or absent."""
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_ONNX_BYTES:
        return _too_large()
    return graph_problem(path.read_bytes())[0]


def _invalid(problem: Text) -> Problem:
    return Problem(Text("the graded model file is not a valid ONNX model: ",
                        "o arquivo do modelo avaliado não é um modelo ONNX válido: ") + problem,
                   Text("the graded model file is not a valid ONNX model",
                        "o arquivo do modelo avaliado não é um modelo ONNX válido"))


def load_onnx(path: Path) -> tuple[OnnxModel | None, Problem | None]:
    """The graded model from ``path`` (graded.onnx), or why it cannot be graded."""
    if not path.is_file():
        missing = Text("the graded model file is missing", "o arquivo do modelo avaliado não existe")
        return None, Problem(missing, missing)
    if path.stat().st_size > MAX_ONNX_BYTES:
        return None, _invalid(_too_large())
    raw = path.read_bytes()  # read once: what is checked is what runs
    problem, model = graph_problem(raw)
    if problem is not None:
        return None, _invalid(problem)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2  # a dense net on 10,000 rows takes milliseconds; the cores are the students'
    options.inter_op_num_threads = 1
    options.log_severity_level = 3    # errors only: the evaluator's log is not the place for graph warnings
    try:
        session = ort.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # a graph the checker accepts but the runtime cannot run (shapes, types)
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        return None, Problem(Text(f"the graded model could not be loaded by ONNX Runtime ({msg}): use standard "
                                  "torch.nn layers and tensor operations in forward",
                                  f"o modelo avaliado não pôde ser carregado pelo ONNX Runtime ({msg}): use camadas "
                                  "padrão de torch.nn e operações de tensores no forward"),
                             Text("the graded model could not be loaded", "o modelo avaliado não pôde ser carregado"))
    return OnnxModel(session, operator_kinds(model.graph)), None


def operator_kinds(graph: Any) -> list[str]:
    """The graph's operator types in order, subgraphs included, with attention named where it hides.

    The exporter writes ``nn.MultiheadAttention`` and transformer layers as plain MatMul, Softmax and Reshape:
    ONNX's opsets before 23 have no attention operator. What gives attention away is a matrix product of two
    tensors both computed from the input (queries times keys, weights times values), where a dense layer
    multiplies by weights; such a MatMul is reported as ``Attention``.
    """
    constant = {t.name for t in graph.initializer}
    kinds = []
    for node in graph.node:
        inputs = [i for i in node.input if i]
        if node.op_type == "Constant" or (inputs and all(i in constant for i in inputs)):
            constant.update(node.output)  # folded weights: a transposed or cast initializer is still a weight
        computed = node.op_type in ("MatMul", "Einsum") and len(inputs) >= 2 and not any(i in constant
                                                                                          for i in inputs)
        kinds.append("Attention" if computed else node.op_type)
    return kinds + [k for sub in list(_graphs(graph))[1:] for k in operator_kinds(sub)]


def export_problem(reason: str) -> Problem:
    """The probe could not export the trained module to ONNX: what it said, and what to change."""
    reason = reason[:300]
    return Problem(Text(f"the graded model could not be exported to ONNX, the form in which the grader runs a PyTorch "
                        f"model ({reason}). Build the model from standard torch.nn layers and tensor operations, with "
                        "a forward that only computes on tensors: no custom autograd Function, no NumPy or .item() on "
                        "values inside forward, no Python branch on a tensor's values",
                        f"o modelo avaliado não pôde ser exportado para ONNX, a forma em que o corretor executa um "
                        f"modelo PyTorch ({reason}). Monte o modelo com camadas padrão de torch.nn e operações de "
                        "tensores, com um forward que só calcula sobre tensores: sem autograd Function própria, sem "
                        "NumPy ou .item() sobre valores dentro do forward, sem desvio em Python pelo valor de um "
                        "tensor"),
                   Text("the graded model could not be exported to ONNX",
                        "o modelo avaliado não pôde ser exportado para ONNX"))
