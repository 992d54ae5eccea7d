"""fashion_mnist: the figure of the first 20 test images with true (blue) and predicted (red) classes."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np

from ...errors import Untrusted
from ...handover import figure_json
from ...schema import CheckStatus
from ...text import Text
from ..artifacts import read_array, read_json
from ..checks import CheckParams, CheckSet, Outcome, not_reached
from ..context import Context

CHECKS = CheckSet("fashion_mnist")
CATEGORIES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CATEGORIAS = ["Camiseta", "Calça", "Pulôver", "Vestido", "Casaco", "Sandália", "Camisa", "Tênis", "Bolsa", "Botins"]
ALIASES = {"t-shirt": 0, "tshirt": 0, "t shirt": 0, "top": 0, "trousers": 1, "pants": 1, "boot": 9, "ankle-boot": 9,
           "calca": 1, "pulover": 2, "sandalia": 5, "tenis": 7, "botas": 9, "bota": 9, "botim": 9}
N_IMAGES = 20
MAX_FIGURES = 40


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


NAMES = sorted({**{_norm(n): i for i, n in enumerate(CATEGORIES)}, **{_norm(n): i for i, n in enumerate(CATEGORIAS)},
                **ALIASES}.items(), key=lambda kv: -len(kv[0]))


def class_of_text(text: str) -> int | None:
    """The class a label names: English or Portuguese name, or the class index."""
    t = _norm(text)
    for name, cls in NAMES:
        if re.search(rf"(?<![a-z]){re.escape(name)}(?![a-z])", t):
            return cls
    digits = re.findall(r"(?<![\d.])\d(?![\d.])", t)
    return int(digits[0]) if len(digits) == 1 else None


def colour_of(hex_colour: str) -> str | None:
    try:
        r, g, b = (int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    except (ValueError, AttributeError):
        return None
    if b > 0.4 and b > r + 0.25 and b > g + 0.1:
        return "blue"
    if r > 0.4 and r > b + 0.25 and r > g + 0.25:
        return "red"
    return None


def _gray(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a[..., :3].mean(-1) if a.ndim == 3 else a


def _similarity(img: np.ndarray, ref: np.ndarray) -> float:
    img = _gray(img)
    if img.shape != ref.shape or img.std() == 0:
        return 0.0
    return abs(float(np.corrcoef(img.ravel(), ref.ravel().astype(np.float64))[0, 1]))  # inverted images count


def _figures(ctx: Context) -> list[dict[str, Any]]:
    figs = []
    for k in range(MAX_FIGURES):
        try:
            fig = read_json(ctx.artifacts / figure_json(k))
        except Untrusted:
            continue
        if fig is None:
            break
        if isinstance(fig, dict) and isinstance(fig.get("axes"), list):
            figs.append(fig)
    return figs


def _image_axes(fig: dict[str, Any]) -> list[dict[str, Any]]:
    axes = [ax for ax in fig["axes"] if isinstance(ax, dict) and ax.get("images")
            and isinstance(ax.get("bounds"), list) and len(ax["bounds"]) == 4]
    # reading order: rows from the top, then left to right
    return sorted(axes, key=lambda ax: (-round(float(ax["bounds"][1]) + float(ax["bounds"][3]), 2),
                                        float(ax["bounds"][0])))


def _names(classes: list[int]) -> Text:
    """Fashion-MNIST classes by name, in each language: 'Coat, Shirt' / 'Casaco, Camisa'."""
    return Text(", ".join(CATEGORIES[c] for c in classes), ", ".join(CATEGORIAS[c] for c in classes))


def _judge(ctx: Context, fig: dict[str, Any]) -> tuple[int, list[Text]]:
    """How many of the 20 panels are right, and what is wrong with the others."""
    axes = _image_axes(fig)[:N_IMAGES]
    problems: list[Text] = []
    right = 0
    for i, ax in enumerate(axes):
        try:
            img = read_array(ctx.artifacts / str(ax["images"][0].get("file", "")).replace("/", ""))
        except Untrusted:
            img = None
        if img is None or _similarity(img, ctx.ref_x_test[i]) < 0.9:
            shown = [j for j in range(min(200, len(ctx.ref_x_test)))
                     if img is not None and _similarity(img, ctx.ref_x_test[j]) >= 0.9]
            problems.append(Text(f"panel {i} should show test image {i}", f"o painel {i} deveria mostrar a imagem "
                                 f"de teste {i}")
                            + (Text(f" but shows test image {shown[0]}", f", mas mostra a imagem de teste {shown[0]}")
                               if shown else ""))
            continue
        texts = [t for t in ax.get("texts", []) if isinstance(t, dict)]
        named = {"blue": set(), "red": set()}
        for t in texts:
            colour, cls = colour_of(str(t.get("color", ""))), class_of_text(str(t.get("text", "")))
            if colour and cls is not None:
                named[colour].add(cls)
        true, pred = int(ctx.ref_y_test[i]), int(ctx.test_classes[i])
        ok = True
        verdicts = (("blue", true, Text("blue", "azul"), Text("its true class", "a sua classe verdadeira")),
                    ("red", pred, Text("red", "vermelho"), Text("the predicted class", "a classe prevista")))
        for colour, cls, colour_name, what in verdicts:
            if cls in named[colour]:
                continue
            said = sorted(named[colour])
            problems.append(Text("panel {i}: no {colour} text names {what} {name} ({cls})",
                                 "painel {i}: nenhum texto {colour} nomeia {what} {name} ({cls})"
                                 ).format(i=i, colour=colour_name, what=what, name=_names([cls]), cls=cls)
                            + (Text("; {colour} says {names}", "; o {colour} diz {names}"
                                    ).format(colour=colour_name, names=_names(said)) if said else ""))
            ok = False
        right += ok
    return right, problems


@CHECKS.check("figure")
def figure(ctx: Context, params: CheckParams) -> Outcome:
    if ctx.test_classes is None:
        return not_reached(ctx, ctx.model_problem)
    candidates = [f for f in _figures(ctx) if len(_image_axes(f)) >= N_IMAGES]
    if not candidates:
        return Outcome(CheckStatus.FAIL, Text("no figure with 20 images was drawn: show the first 20 test images in a "
                                              "4x5 grid (plt.subplot), each with its true class in blue and the "
                                              "predicted class in red, and save it (plt.savefig) or show it "
                                              "(plt.show)",
                                              "nenhuma figura com 20 imagens foi desenhada: mostre as 20 primeiras "
                                              "imagens de teste numa grade 4x5 (plt.subplot), cada uma com a classe "
                                              "verdadeira em azul e a classe prevista em vermelho, e salve a figura "
                                              "(plt.savefig) ou mostre-a (plt.show)"))
    best = max((_judge(ctx, f) + (f,) for f in candidates), key=lambda r: r[0])
    right, problems, fig = best
    details = {"figure": fig.get("figure"), "panels_right": right, "problems": [p.en for p in problems[:20]]}
    if right == N_IMAGES:
        return Outcome(CheckStatus.PASS, Text("the figure shows test images 0-19 with their true (blue) and "
                                              "predicted (red) classes",
                                              "a figura mostra as imagens de teste 0-19 com as classes verdadeiras "
                                              "(azul) e previstas (vermelho)"), details)
    more = "; ..." if len(problems) > 4 else ""
    return Outcome(CheckStatus.FAIL, Text(f"{right}/20 panels are right; ", f"{right}/20 painéis estão certos; ")
                   + Text.same("; ").join(problems[:4]) + more, details)
