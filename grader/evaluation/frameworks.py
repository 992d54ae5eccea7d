"""Which framework a submission used, and whether its exercise accepts it (``exercise.toml`` ``frameworks``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..text import Text
from .context import Problem

if TYPE_CHECKING:
    from .context import Context

NAMES = {"keras": "Keras", "torch": "PyTorch"}
_IMPORTS = re.compile(r"^\s*(?:import|from)\s+(torch|keras|tensorflow)\b", re.MULTILINE)


def submission_framework(summary: dict[str, Any], source: str) -> str:
    """"torch" or "keras": what the probe saw, else (a run that left no summary) what the source imports."""
    seen = summary.get("framework")
    if seen in NAMES:
        return seen
    imported = set(_IMPORTS.findall(source))
    return "torch" if "torch" in imported and not imported & {"keras", "tensorflow"} else "keras"


def framework_problem(ctx: Context) -> Problem | None:
    """The exercise does not accept the framework the program was written with: the root cause of every check."""
    used = submission_framework(ctx.summary, ctx.source)
    accepted = ctx.exercise.frameworks
    if used in accepted:
        return None
    wanted = Text(" or ", " ou ").join(NAMES.get(f, f) for f in accepted)
    return Problem(Text("this exercise requires {wanted}, and the program uses {used}: write it with {wanted}, "
                        "as the exercise asks (its checks are about what it does there)",
                        "este exercício exige {wanted}, e o programa usa {used}: escreva-o com {wanted}, como pede "
                        "o exercício (as suas verificações tratam do que ele faz nesse framework)"
                        ).format(wanted=wanted, used=NAMES[used]),
                   Text("the exercise requires {wanted}", "o exercício exige {wanted}").format(wanted=wanted))
