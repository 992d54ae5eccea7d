"""PyTorch submissions, graded as Keras ones are: real torch training on the real data, in quick mode.

Each program trains a small net for one pass over its data (quick mode cuts the later passes short) and
goes through the whole path: the probe in the sandboxed child, the ONNX export, the evaluator's
ONNX Runtime. The hostile cases feed the evaluator ONNX files a program could have written instead.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import check

from grader.config import course_root
from grader.evaluation import onnx_model

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

#: The data, as torchvision gives it (served from the grader's cache), as tensors; then a dense net.
PROGRAM = """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets

train = datasets.MNIST("data", train=True, download=True)
test = datasets.MNIST("data", train=False, download=True)
x_train, x_test = train.data.float() / 255, test.data.float() / 255
{training_set}
loader = DataLoader(TensorDataset(x_train, y_train), batch_size=256, shuffle=True)
model = {model}
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(5):
    model.train()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
    print(f"epoch {{epoch}}: loss {{loss.item():.3f}}")
model.eval()
with torch.no_grad():
    wrong = sum((model(xb).argmax(1) != yb).sum().item()
                for xb, yb in DataLoader(TensorDataset(x_test, test.targets), batch_size=1000))
print(f"test error: {{wrong / 100:.2f}} %")
# erro de teste: 2,5 %
"""
TRAIN = "y_train = train.targets"
DENSE = "nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))"


def program(model: str = DENSE, training_set: str = TRAIN) -> str:
    return PROGRAM.format(model=model, training_set=training_set)


def statuses(result: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in result["checks"]}


def test_a_dense_torch_net_is_graded_like_a_keras_one(grade_source):
    result = grade_source(program(), quick=True)
    got = statuses(result)
    assert result["status"] == "ok", result
    for name in ("runs", "correspondence", "leakage", "consistency", "dense_only", "test_as_validation"):
        assert got[name] == "pass", (name, check(result, name))
    assert got["threshold"] == "not_graded"  # quick mode cut the 5 passes to 1 (and 2 batches of each other)
    assert "Gemm" in check(result, "dense_only")["details"]["layers"]
    assert check(result, "consistency")["details"]["agreement"] >= 0.995
    assert result["test_error"] < 10
    assert "epoch 4" in result["stdout_tail"]  # the program's loop ran to its end


def test_a_torch_cnn_fails_dense_only(grade_source):
    cnn = ("nn.Sequential(nn.Unflatten(1, (1, 28)), nn.Conv2d(1, 4, 5), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), "
           "nn.Linear(144, 10))")
    source = program(cnn, "x_train, y_train = x_train[:3000], train.targets[:3000]")
    result = grade_source(source, quick=True)
    dense = check(result, "dense_only")
    assert dense["status"] == "fail", dense
    assert "Conv" in dense["message"] and "MaxPool" in dense["message"], dense
    assert "Conv" in dense["message_pt"]
    assert dense["details"]["line"] == source.splitlines().index(f"model = {cnn}") + 1  # where it is built
    assert check(result, "runs")["status"] == "pass"


def test_a_torch_net_trained_on_the_test_set_fails_leakage(grade_source):
    result = grade_source(program(training_set="x_train, y_train = torch.cat([x_train[:5000], x_test]), "
                                               "torch.cat([train.targets[:5000], test.targets])"), quick=True)
    leak = check(result, "leakage")
    assert leak["status"] == "fail" and leak["details"]["leaked_rows"] == 10000, leak
    assert "treine apenas com o conjunto de treino" in leak["message_pt"]
    assert result["status"] == "failed"


def test_a_module_that_cannot_be_exported_fails_with_what_to_change(grade_source):
    spectral = """
class Spectral(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(784, 10)

    def forward(self, x):
        return torch.fft.fft(self.linear(x.flatten(1))).real  # no ONNX operator for an FFT

model = Spectral()"""
    source = program("Spectral()", "x_train, y_train = x_train[:2000], train.targets[:2000]")
    source = source.replace("model = Spectral()", spectral)
    result = grade_source(source, quick=True)
    runs = check(result, "runs")
    assert runs["status"] == "fail", runs
    assert "could not be exported to ONNX" in runs["message"] and "fft" in runs["message"], runs
    assert "não pôde ser exportado para ONNX" in runs["message_pt"]
    assert "standard torch.nn layers" in runs["message"]
    assert result["status"] != "grader_error"


def test_a_torch_program_for_a_keras_only_exercise_is_told_it_requires_keras(grade_source):
    source = program(training_set="x_train, y_train = x_train[:1000], train.targets[:1000]")
    result = grade_source(source, exercise_id="sparse_cce", quick=True)
    runs = check(result, "runs")
    assert runs["status"] == "fail", runs
    assert "requires Keras" in runs["message"] and "PyTorch" in runs["message"]
    assert "exige Keras" in runs["message_pt"]
    others = [c for c in result["checks"] if c["name"] != "runs"]
    assert all(c["status"] == "not_reached" for c in others), others


# --- the hostile suite's model-file cases, for an ONNX graph -------------------------------------

def _graph(nodes: int = 1, op: tuple[str, str] = ("Relu", ""), external: bool = False) -> bytes:
    from onnx import TensorProto, helper
    from onnx.external_data_helper import set_external_data

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])
    chain = [helper.make_node(op[0], [f"v{i}" if i else "x"], [f"v{i + 1}" if i + 1 < nodes else "y"],
                              domain=op[1]) for i in range(nodes)]
    weights = []
    if external:
        w = helper.make_tensor("w", TensorProto.FLOAT, [2], bytes(8), raw=True)
        set_external_data(w, location="/etc/passwd")  # also marks it EXTERNAL
        w.ClearField("raw_data")
        weights.append(w)
    model = helper.make_model(helper.make_graph(chain, "g", [x], [y], weights),
                              opset_imports=[helper.make_opsetid("", 17)] + (
                                  [helper.make_opsetid(op[1], 1)] if op[1] else []))
    return model.SerializeToString()


HOSTILE = {
    "oversized": (onnx_model.MAX_ONNX_BYTES + 1, "larger than 256 MiB"),
    "not onnx": (b"\x08\x07\x12\xff garbage", "not an ONNX model"),
    "custom operator": (_graph(op=("Steal", "evil.domain")), "outside ONNX's standard set"),
    "external weights": (_graph(external=True), "external data"),
    "too many nodes": (_graph(nodes=onnx_model.MAX_NODES + 1), "operators (at most"),
}


def onnx_job(evaluator, model: bytes | int) -> dict:
    """A finished mnist_dense run of a PyTorch program whose exported model is ``model`` (bytes, or a size)."""
    art = evaluator.job_dir("mnist_dense") / "artifacts"
    art.mkdir()
    (art / "summary.json").write_text(json.dumps({"framework": "torch", "model_file": "graded.onnx",
                                                  "graded_model": 0}))
    (art / "events.jsonl").write_text(json.dumps({"event": "fit_start", "fit": 0, "model": 0}) + "\n")
    np.save(art / "test_x.npy", np.zeros((10000, 2), np.float32))
    with open(art / "graded.onnx", "wb") as f:
        if isinstance(model, int):
            f.truncate(model)
        else:
            f.write(model)
    return {"exercise": "mnist_dense", "course_root": str(course_root()), "artifacts": str(art), "source": "",
            "kind": "py", "stdout": "", "quick": False, "returncode": 0, "timed_out": False, "limit_s": 60.0,
            "limit_hit": None}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_onnx_file_fails_cleanly_inside_the_evaluator(case, evaluator):
    model, expected = HOSTILE[case]
    evaluation = evaluator.evaluate(onnx_job(evaluator, model))
    pid = evaluator._worker.proc.pid
    messages = " | ".join(c["message"] for c in evaluation["checks"])
    assert expected in messages and "not a valid ONNX model" in messages, messages
    assert "não é um modelo ONNX válido" in " | ".join(c["message_pt"] for c in evaluation["checks"])
    assert evaluator.evaluate(onnx_job(evaluator, model))["checks"] and evaluator._worker.proc.pid == pid


def test_a_valid_graph_runs_in_the_evaluator(evaluator):
    """The twin that passes: a standard graph is loaded and predicts (not a refusal of every graph)."""
    evaluation = evaluator.evaluate(onnx_job(evaluator, _graph(nodes=3)))
    dense = check(evaluation, "dense_only")
    assert dense["status"] == "pass" and dense["details"]["layers"] == ["Relu"] * 3, dense
    assert evaluation["test_error"] is not None


def test_the_test_set_checked_every_epoch_is_flagged_as_validation_data(grade_source):
    """Evaluating on the test set between optimizer steps chooses with it: flagged, as Keras's validation_data is."""
    source = program(training_set="x_train, y_train = x_train[:2000], train.targets[:2000]")
    every_epoch = '''    print(f"epoch {epoch}: loss {loss.item():.3f}")
    model.eval()
    with torch.no_grad():
        print("test accuracy", (model(x_test).argmax(1) == test.targets).float().mean().item())
'''
    source = source.replace('''    print(f"epoch {epoch}: loss {loss.item():.3f}")\n''', every_epoch)
    result = grade_source(source, quick=True)
    flagged = check(result, "test_as_validation")
    assert flagged["status"] == "flag", flagged
    assert "validação" in flagged["message_pt"]
    assert check(result, "correspondence")["status"] == "pass"  # graded on the last run on the test set


def test_a_loop_of_its_own_over_tensors_is_seen_and_graded_as_run(grade_source):
    """No DataLoader: batches sliced by hand, the test set in one call. Nothing is cut short, so nothing is quick.

    The untrained net is run on the test set with gradients on: no gradient flows back through those rows,
    so they are not training rows (leakage passes)."""
    source = """
import torch
from torch import nn
from torchvision import datasets

train = datasets.MNIST("data", train=True, download=True)
test = datasets.MNIST("data", train=False, download=True)
x_train, y_train = train.data[:2000].float().flatten(1) / 255, train.targets[:2000]
x_test = test.data.float().flatten(1) / 255
model = nn.Sequential(nn.Linear(784, 64), nn.Sigmoid(), nn.Linear(64, 10), nn.LogSoftmax(dim=1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
print("untrained", (model(x_test).argmax(1) != test.targets).float().mean().item())  # gradients on: no training
for epoch in range(3):
    for i in range(0, len(x_train), 100):
        optimizer.zero_grad()
        loss = nn.functional.nll_loss(model(x_train[i:i + 100]), y_train[i:i + 100])
        loss.backward()
        optimizer.step()
model.eval()
print("test error", (model(x_test).argmax(1) != test.targets).float().mean().item())
"""
    result = grade_source(source, quick=True)
    got = statuses(result)
    for name in ("runs", "correspondence", "leakage", "consistency", "dense_only"):
        assert got[name] == "pass", (name, check(result, name))
    assert not result["quick_capped"]  # 3 passes asked, 3 run: graded as a full run
    assert got["threshold"] == "fail" and result["test_error"] > 2  # 2,000 rows cannot reach 1.6 %


def test_a_torch_fashion_mnist_program_with_its_figure_passes_the_figure_check(grade_source):
    """The figure is drawn from the student's own predictions; the evaluator's, from the ONNX graph, must agree."""
    source = """
import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets

train = datasets.FashionMNIST("data", train=True, download=True)
test = datasets.FashionMNIST("data", train=False, download=True)
x_train, x_test = train.data[:5000].float() / 255, test.data.float() / 255
loader = DataLoader(TensorDataset(x_train, train.targets[:5000]), batch_size=128, shuffle=True)
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
for epoch in range(3):
    for xb, yb in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
model.eval()
with torch.no_grad():
    predicted = model(x_test).argmax(1)
plt.figure(figsize=(10, 9))
for i in range(20):
    plt.subplot(4, 5, i + 1)
    plt.imshow(test.data[i], cmap="gray")
    plt.xticks([])
    plt.yticks([])
    plt.title(test.classes[test.targets[i]], color="blue")
    plt.xlabel(test.classes[predicted[i]], color="red")
plt.savefig("fashion.png")
"""
    result = grade_source(source, exercise_id="fashion_mnist", quick=True)
    figure = check(result, "figure")
    assert figure["status"] == "pass", figure
    assert check(result, "consistency")["status"] == "pass"


@pytest.mark.unit
def test_a_worker_that_died_on_an_onnx_file_has_the_file_inspected(tmp_path):
    """The client blames the student only for an invalid model file: for a PyTorch program, its ONNX graph."""
    from grader.evaluation import worker

    (tmp_path / "graded.onnx").write_bytes(HOSTILE["custom operator"][0])
    en, pt = worker.handle({"op": "inspect", "artifacts": str(tmp_path)})
    assert "outside ONNX's standard set" in en and "fora do conjunto padrão do ONNX" in pt
    (tmp_path / "graded.onnx").write_bytes(_graph(nodes=2))
    assert worker.handle({"op": "inspect", "artifacts": str(tmp_path)}) is None


def test_a_data_loader_with_worker_processes_runs_in_the_sandbox(grade_source):
    """Workers hand batches back over a Unix socket, whose path must fit in 107 bytes: not in the work dir's TMPDIR."""
    source = program(training_set="x_train, y_train = x_train[:1000], train.targets[:1000]")
    source = source.replace("batch_size=256, shuffle=True)", "batch_size=256, shuffle=True, num_workers=2)")
    result = grade_source(source, quick=True)
    assert result["status"] != "timeout", result["stderr_tail"][-2000:]
    assert check(result, "runs")["status"] == "pass", check(result, "runs")
    assert check(result, "leakage")["status"] == "pass"
    assert not [a for a in result["attempts"] if a["flagged"] or "kg-mp-" in a["target"]], result["attempts"]


def test_recurrent_and_attention_modules_show_in_the_graphs_operators(tmp_path, mnist_dense):
    """Recurrent layers export to their own operators; attention, which ONNX before opset 23 lacks, to plain
    MatMuls, and a MatMul of two computed tensors is reported as ``Attention``."""
    from torch import nn

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = nn.MultiheadAttention(28, 4, batch_first=True)
            self.out = nn.Linear(28, 10)

        def forward(self, x):
            return self.out(self.attention(x, x, x)[0].mean(1))

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(28, 16, batch_first=True)
            self.out = nn.Linear(16, 10)

        def forward(self, x):
            return self.out(self.gru(x)[0][:, -1])

    nets = {"attention": SelfAttention(), "recurrent": Recurrent(),
            "dense": nn.Sequential(nn.Linear(28, 16), nn.ReLU(), nn.Flatten(), nn.Linear(448, 10))}
    kinds = {}
    for name, net in nets.items():
        with warnings.catch_warnings():  # the tracer's, about the export (as the probe keeps them from students)
            warnings.simplefilter("ignore")
            torch.onnx.export(net.eval(), (torch.zeros(2, 28, 28),), str(tmp_path / f"{name}.onnx"), dynamo=False,
                              input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
        model, problem = onnx_model.load_onnx(tmp_path / f"{name}.onnx")
        assert problem is None and model.predict(np.zeros((3, 28, 28))).shape == (3, 10)
        assert model.input_shapes() == [(None, 28, 28)]
        kinds[name] = set(model.layer_kinds())
    forbidden = mnist_dense.checks["dense_only"].params["forbidden"]
    assert "Attention" in kinds["attention"] and "Attention" in forbidden
    assert "GRU" in kinds["recurrent"] and "GRU" in forbidden  # nn.RNN, nn.LSTM: the RNN and LSTM operators
    assert "Attention" not in kinds["dense"] and "MatMul" in kinds["dense"]  # a Linear on 3-D inputs: x times weights


def test_a_shuffled_test_loader_is_graded_on_the_real_rows_and_a_model_left_in_training_mode_is_flagged(
        grade_source):
    """The test set read through a DataLoader with shuffle=True (the official PyTorch MNIST example's) feeds the
    model every test image in a new order: the grader finds each image by its content and grades the model on
    the real rows against their labels, with a notice. Predictions made in training mode (dropout on) differ from
    the trained net's, which consistency flags (a mistake that raises nothing)."""
    shuffled = program(model="nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.9), "
                             "nn.Linear(128, 10))").replace(
        "model.eval()\n", "").replace("DataLoader(TensorDataset(x_test, test.targets), batch_size=1000)",
                                      "DataLoader(TensorDataset(x_test, test.targets), batch_size=1000, shuffle=True)")
    result = grade_source(shuffled, quick=True)
    corr, cons = check(result, "correspondence"), check(result, "consistency")
    assert corr["status"] == "pass" and corr["details"]["notice"] == "rows_matched", corr
    assert corr["details"]["row_match"] == {"how": "rows", "found": 10000, "test_rows": 10000,
                                            "captured_rows": 10000, "extra": 0, "reordered": True}, corr
    line = shuffled.splitlines().index("    wrong = sum((model(xb).argmax(1) != yb).sum().item()") + 1
    assert f"model(...) at line {line}" in corr["message"] and f"na linha {line}" in corr["message_pt"], corr
    assert "another order" in corr["message"] and "outra ordem" in corr["message_pt"]
    assert "shuffle=False" in corr["message"] and "shuffle=False" in corr["message_pt"]
    assert result["test_error"] < 15  # graded against the right labels (misaligned, it measured 90 %)
    assert cons["status"] == "flag", cons  # the student's own predictions, put in the same order, still differ
    assert "model.eval()" in cons["message"] and "model.eval()" in cons["message_pt"]


def test_keras_loader_with_torch_training_is_graded(grade_source):
    """MNIST from tensorflow.keras.datasets (the course's loader), trained with torch's Adam: TensorFlow and Triton
    each carry an LLVM, and Triton loaded after TensorFlow died of SIGSEGV at the first optimizer step
    (grader/run/child/native.py)."""
    source = "import tensorflow as tf\n" + program(  # TensorFlow first: torch first was enough to load Triton first
        training_set="x_train, y_train = x_train[:2000], train.targets[:2000]").replace(
        'train = datasets.MNIST("data", train=True, download=True)\n'
        'test = datasets.MNIST("data", train=False, download=True)\n'
        "x_train, x_test = train.data.float() / 255, test.data.float() / 255\n",
        "(xa, ya), (xb, yb) = tf.keras.datasets.mnist.load_data()\n"
        "x_train, x_test = torch.tensor(xa).float() / 255, torch.tensor(xb).float() / 255\n"
        "train, test = TensorDataset(x_train, torch.tensor(ya)), TensorDataset(x_test, torch.tensor(yb))\n"
        "train.targets, test.targets = train.tensors[1], test.tensors[1]\n")
    assert "tf.keras.datasets" in source and "datasets.MNIST" not in source
    result = grade_source(source, quick=True)
    assert result["returncode"] == 0 and result["status"] == "ok", (result["status"], result["stderr_tail"][-2000:])
    assert check(result, "correspondence")["status"] == "pass"


def test_torchvision_loader_with_keras_training_is_graded(grade_source):
    """The other way round: torchvision's MNIST (served from the cache), a Keras net trained on it."""
    result = grade_source("""
        from torchvision import datasets
        from tensorflow import keras

        train = datasets.MNIST("data", train=True, download=True)
        test = datasets.MNIST("data", train=False, download=True)
        x_train, y_train = train.data.numpy()[:2000].reshape(-1, 784) / 255, train.targets.numpy()[:2000]
        x_test, y_test = test.data.numpy().reshape(-1, 784) / 255, test.targets.numpy()
        model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(64, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=3, batch_size=128)
        print(model.evaluate(x_test, y_test))
        # erro de teste: 10 %
        """, quick=True)
    assert result["status"] == "ok", (result["status"], result["stderr_tail"][-2000:])
    assert check(result, "correspondence")["status"] == "pass" and result["graded_model"]


def test_a_test_loader_with_extra_rows_is_graded_on_the_test_rows(grade_source):
    """A loader pass over the test set and 700 training images: the probe keeps the whole pass (fewer than twice
    the test set's rows), and the grader grades the 10,000 test images alone."""
    source = program(training_set="x_train, y_train = x_train[:3000], train.targets[:3000]").replace(
        "DataLoader(TensorDataset(x_test, test.targets), batch_size=1000)",
        "DataLoader(TensorDataset(torch.cat([x_test, x_train[-700:]]), torch.cat([test.targets, "
        "train.targets[-700:]])), batch_size=1000)")
    result = grade_source(source, quick=True)
    corr = check(result, "correspondence")
    assert corr["status"] == "pass" and corr["details"]["row_match"]["extra"] == 700, corr
    assert not corr["details"]["row_match"]["reordered"] and "shuffle=False" not in corr["message"]
    assert "with 700 other rows" in corr["message"] and "outras 700 linhas" in corr["message_pt"]
    assert check(result, "consistency")["status"] == "pass"  # the student's outputs on the test rows, picked alike
