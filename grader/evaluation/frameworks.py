"""Which framework a submission used, and whether its exercise accepts it (``exercise.toml`` ``frameworks``).

The frameworks themselves, and what each one needs, are ``grader/frameworks.py``'s table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import frameworks
from ..text import Text
from .context import Problem

if TYPE_CHECKING:
    from .context import Context

_IMPORTS = re.compile(r"^\s*(?:import|from)\s+(\w+)", re.MULTILINE)


def submission_framework(summary: dict[str, Any], source: str) -> str:
    """A framework's id: what the probe saw, else (a run that left no summary) what the source imports: another
    framework's modules and none of the default's, else the default."""
    if (seen := frameworks.get(summary.get("framework"))) is not None:
        return seen.id
    imported = set(_IMPORTS.findall(source))
    if imported & set(frameworks.DEFAULT.imports):
        return frameworks.DEFAULT.id
    return next((f.id for f in frameworks.others() if imported & set(f.imports)), frameworks.DEFAULT.id)


def framework_problem(ctx: Context) -> Problem | None:
    """The exercise does not accept the framework the program was written with: the root cause of every check."""
    used = submission_framework(ctx.summary, ctx.source)
    accepted = ctx.exercise.frameworks
    if used in accepted:
        return None
    wanted = Text(" or ", " ou ").join(f.name if (f := frameworks.get(a)) else a for a in accepted)
    return Problem(Text("this exercise requires {wanted}, and the program uses {used}: write it with {wanted}, "
                        "as the exercise asks (its checks are about what it does there)",
                        "este exercício exige {wanted}, e o programa usa {used}: escreva-o com {wanted}, como pede "
                        "o exercício (as suas verificações tratam do que ele faz nesse framework)"
                        ).format(wanted=wanted, used=frameworks.TABLE[used].name),
                   Text("the exercise requires {wanted}", "o exercício exige {wanted}").format(wanted=wanted))


def handed_over(artifacts: Path) -> frameworks.Framework:
    """The framework whose model file the artifacts hold: another framework's, whose file only its probe writes,
    else the default's (read whether or not it exists: its readers say it is missing)."""
    return next((f for f in frameworks.others() if (artifacts / f.model_file).is_file()), frameworks.DEFAULT)
