"""The course's environment (grader/environment.py): the libraries students import are there, in the sandbox too."""

from __future__ import annotations

import re

import pytest
from conftest import check
from nbformat.v4 import new_code_cell, new_markdown_cell
from test_notebooks import write_notebook

from grader import config, environment, hints, release
from grader.errors import GraderError

OPENCV_SKLEARN_NOTEBOOK = [
    new_markdown_cell("# MNIST com imagens reduzidas pelo OpenCV"),
    new_code_cell("import cv2\nimport numpy as np\nfrom sklearn.metrics import confusion_matrix\n"
                  "from sklearn.model_selection import train_test_split\nfrom tensorflow import keras\n"
                  "(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()"),
    new_code_cell("def reduz(imagens):  # 28x28 -> 14x14, como na apostila\n"
                  "    return np.array([cv2.resize(im, (14, 14), interpolation=cv2.INTER_AREA) for im in imagens])"
                  ".reshape(len(imagens), -1) / 255.0\n"
                  "ax, _, ay, _ = train_test_split(reduz(AX[:4000]), AY[:4000], train_size=0.5, random_state=0)\n"
                  "qx = reduz(QX)"),
    new_code_cell("model = keras.Sequential([keras.Input((196,)), keras.layers.Dense(32, activation='relu'),"
                  " keras.layers.Dense(10, activation='softmax')])\n"
                  "model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
                  "model.fit(ax, ay, epochs=2, batch_size=50, verbose=0)\n"
                  "qp = model.predict(qx, verbose=0).argmax(1)"),
    new_code_cell("cm = confusion_matrix(QY, qp)\nprint('acertos:', cm.trace())"),
]


def test_a_notebook_that_resizes_with_opencv_and_counts_with_scikit_learn_runs(evaluator, tmp_path):
    from grader import exercise
    from grader.jobs import Options, grade

    path = write_notebook(tmp_path / "s" / "mnist_dense.ipynb", OPENCV_SKLEARN_NOTEBOOK)
    result = grade("s", exercise.load("mnist_dense"), path, evaluator, Options(seed=1))
    assert check(result, "runs")["status"] == "pass", result.get("error")
    assert check(result, "correspondence")["status"] == "pass"  # the resized test set, in its order
    right = int(re.search(r"acertos: (\d+)", result["stdout_tail"]).group(1))
    assert result["test_error"] == pytest.approx(100 - right / 100, abs=0.01)  # sklearn counted what we measure


@pytest.mark.unit
def test_every_course_module_is_installed_and_the_check_names_what_is_missing(tmp_path, monkeypatch):
    assert environment.missing() == {}
    (tmp_path / "assignments").mkdir()
    (tmp_path / "course.toml").write_text('[environment]\npackages = ["no-such-lib-kg", "scikit-image:skimage_kg"]\n')
    monkeypatch.setenv("KERAS_GRADER_COURSE", str(tmp_path))
    config._course_config.cache_clear()
    try:
        assert environment.missing() == {"no_such_lib_kg": "no-such-lib-kg", "skimage_kg": "scikit-image"}
        with pytest.raises(GraderError) as e:
            environment.check()
        assert "pip install 'no-such-lib-kg' 'scikit-image'" in str(e.value) and "Instale-os" in str(e.value)
        hint = hints.find({"type": "ModuleNotFoundError", "message": "No module named 'tensorflow_addons'"})
        assert "cv2 (opencv-python-headless)" in hint.text.en and "skimage_kg (scikit-image)" in hint.text.pt
        assert 'pip install -q "$GRADER_SPEC" "no-such-lib-kg" "scikit-image"' in release.workflow("keras-grader")
        (tmp_path / "course.toml").write_text('[environment]\npackages = ["scikit-image:bad name"]\n')
        config._course_config.cache_clear()
        with pytest.raises(GraderError, match="requirement:module"):
            environment.course_modules()
    finally:
        config._course_config.cache_clear()
