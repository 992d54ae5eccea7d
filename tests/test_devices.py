"""GPU slots, the environment each job gets, and backends: a model trained under JAX graded by TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import check

from grader.devices import CPU, Gpu, Placement, Slots, parse_nvidia_smi, select, threads_per_job
from grader.errors import GraderError

SMI = "0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n"


@pytest.mark.unit
def test_nvidia_smi_listing_is_parsed():
    assert parse_nvidia_smi(SMI) == [Gpu("0", "NVIDIA H100 80GB HBM3", 81559), Gpu("1", "NVIDIA H100 80GB HBM3", 81559)]
    assert parse_nvidia_smi("No devices were found\n") == []


@pytest.mark.unit
def test_gpus_are_selected_by_index_and_unknown_ones_are_refused():
    found = tuple(parse_nvidia_smi(SMI))
    assert select("all", found) == list(found) and select("none", found) == []
    assert select("1", found) == [found[1]]
    with pytest.raises(GraderError, match="no GPU 7 on this machine.*0 \\(NVIDIA H100"):
        select("0,7", found)


@pytest.mark.unit
def test_slots_spread_jobs_over_gpus_before_stacking_them():
    gpus = parse_nvidia_smi(SMI)
    slots = Slots(gpus, per_gpu=3)
    assert slots.size == 6
    with slots.acquire() as a, slots.acquire() as b:
        assert {a.gpu.index, b.gpu.index} == {"0", "1"}
        env = a.env()
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" and env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert env["CUDA_VISIBLE_DEVICES"] in ("0", "1") and env["OMP_NUM_THREADS"] == str(threads_per_job(6))
    assert Slots([], per_gpu=8, cpu_jobs=2).size == 2
    assert CPU.env() == {"CUDA_VISIBLE_DEVICES": ""} and CPU.label == "cpu"
    assert threads_per_job(1, 16) is None and threads_per_job(8, 16) == 2 and threads_per_job(32, 16) == 1
    with pytest.raises(GraderError):
        Slots(gpus, per_gpu=0)


def test_the_student_program_gets_its_slot_and_backend(grade_source):
    placement = Placement(Gpu("3", "Test GPU"), threads=1)
    result = grade_source("""
        import os
        for k in ("CUDA_VISIBLE_DEVICES", "XLA_PYTHON_CLIENT_PREALLOCATE", "TF_FORCE_GPU_ALLOW_GROWTH",
                  "OMP_NUM_THREADS", "KERAS_BACKEND"):
            print(f"{k}={os.environ.get(k)}")
    """, placement=placement, backend="jax")
    assert result["device"] == "Test GPU (GPU 3)"
    for line in ("CUDA_VISIBLE_DEVICES=3", "XLA_PYTHON_CLIENT_PREALLOCATE=false", "TF_FORCE_GPU_ALLOW_GROWTH=true",
                 "OMP_NUM_THREADS=1", "KERAS_BACKEND=jax"):
        assert line in result["stdout_tail"], result["stdout_tail"]


def test_a_model_trained_under_jax_is_graded_by_the_tensorflow_evaluator(grade_source):
    pytest.importorskip("jax")
    result = grade_source("""
        import keras
        (AX, AY), (QX, QY) = keras.datasets.mnist.load_data()
        model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                                  keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(AX[:2000] / 255.0, AY[:2000], epochs=1, verbose=0)
        print("backend", keras.backend.backend(), model.evaluate(QX / 255.0, QY, verbose=0))
        import atexit, sys  # runs after the probe saved the graded model
        atexit.register(lambda: print("tensorflow imported:", "tensorflow" in sys.modules))
    """, backend="jax", quick=True)
    assert result["backend"] == "jax" and "backend jax" in result["stdout_tail"]
    # saving the graded model must not import TensorFlow (seconds per job where it is installed)
    assert "tensorflow imported: False" in result["stdout_tail"], result["stdout_tail"]
    assert result["test_error"] is not None and result["test_error"] < 30
    for name in ("runs", "correspondence", "leakage", "consistency", "dense_only"):
        assert check(result, name)["status"] == "pass", check(result, name)


@pytest.mark.unit
def test_grade_all_refuses_a_gpu_this_machine_does_not_have(tmp_path):
    (tmp_path / "s").mkdir()
    r = subprocess.run([sys.executable, "-m", "grader.cli", "all", str(tmp_path), "--gpus", "7", "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--gpus 7: no GPU 7 on this machine" in r.stderr
