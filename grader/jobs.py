"""One job = one student x one exercise: prepare, run, evaluate, record."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import data, devices, hints, results
from .checks import exception_location
from .config import borderline_runs, course_root, course_seed, default_backend
from .devices import CPU, Placement
from .executors import EvaluationFailed, Evaluator
from .exercise import Exercise
from .report.values import decimal
from .run import sandbox
from .run.runner import Limits, run_submission

TAIL = 4000


@dataclass
class Options:
    quick: bool = False
    seed: int | None = None          # the first run's seed; None: derived from course.toml's [grader] seed
    runs: int | None = None          # runs of every job (the median graded); None: 1, or more near a boundary
    timeout: float | None = None
    force: bool = False
    results_dir: Path | None = None
    keep_dir: Path | None = None     # keep each job's work dir and artifacts under here
    limits: dict[str, Any] = field(default_factory=dict)  # overrides of exercise.toml's [limits]
    hidden: tuple[Path, ...] = ()    # more folders the student's process must not see (the class)
    backend: str | None = None       # KERAS_BACKEND of the student's program (default: inherited, else tensorflow)
    placement: Placement | None = None  # the GPU (or CPU) slot this job holds; None: default_placement()


def backend(opts: Options) -> str:
    return opts.backend or default_backend()


def default_placement() -> Placement:
    """Without a scheduler (``grade run``): the first GPU, else the CPU."""
    found = devices.gpus()
    return Placement(found[0]) if found else CPU


def now() -> str:
    """The current UTC time as results record it (ISO 8601, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _error_message(exc: dict[str, Any] | None, stderr: str) -> tuple[str, str]:
    """Why a run produced no model, and what to do: (English, Portuguese)."""
    if not exc:
        last = [line for line in stderr.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
        return (f"the script ended without a model; its last message: {last[0][:300]}",
                f"o programa terminou sem um modelo; sua última mensagem: {last[0][:300]}")
    what = f"{exc['type']}{exception_location(exc)}: {str(exc.get('message', ''))[:500]}"
    return (f"{what}. Fix it and check that your program runs from start to end (`python <file>`, or "
            "Runtime > Run all in Colab) before submitting." + hints.text(exc),
            f"{what}. Corrija e confira que o programa roda do início ao fim (`python <arquivo>`, ou "
            "Ambiente de execução > Executar tudo no Colab) antes de entregar." + hints.text(exc, "pt"))


def submission_sha256(submission: Path | None) -> str:
    return results.file_sha256(submission) if submission is not None else "missing"


def base_seed(ex: Exercise, opts: Options) -> int:
    """The seed of a job's first run: ``--seed``, else the course's seed mixed with the exercise id.

    Nothing the student controls goes in, so every student of an exercise gets the same seed and a re-run
    gets the same numbers. Run i of a job uses base_seed + i.
    """
    if opts.seed is not None:
        return opts.seed
    digest = hashlib.sha256(f"{course_seed()}:{ex.id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def run_seed(base: int, index: int) -> int:
    return (base + index) % 2**32  # NumPy takes seeds below 2**32


def job_key(ex: Exercise, sha: str, opts: Options) -> str:
    policy = str(opts.runs) if opts.runs else f"auto/{borderline_runs()}"
    return results.job_key(sha, ex.config_sha256, opts.quick, base_seed(ex, opts), backend(opts), runs=policy)


def up_to_date(student: str, ex: Exercise, key: str, opts: Options) -> dict[str, Any] | None:
    """The stored result of this job when nothing it depends on changed (and --force is off)."""
    if not opts.results_dir or opts.force:
        return None
    previous = results.read(opts.results_dir, student, ex.id)
    return previous if previous and previous.get("key") == key else None


def grade(student: str, ex: Exercise, submission: Path | None, evaluator: Evaluator, opts: Options) -> dict[str, Any]:
    """Grade one submission (or record it missing); the result is also written when opts.results_dir is set.

    One run, seeded; when its test error lies within the noise band of a threshold boundary (or ``opts.runs``
    asks for more), more runs with the next seeds, and the run with the median test error is graded: its checks,
    score and artifacts, as it ran. ``runs`` lists every run.
    """
    started = now()
    sha = submission_sha256(submission)
    key = job_key(ex, sha, opts)
    if (previous := up_to_date(student, ex, key, opts)) is not None:
        return previous
    base = {"key": key, "quick": opts.quick, "seed": base_seed(ex, opts), "max_score": ex.max_score,
            "started_at": started, "title": ex.title, "title_pt": ex.raw.get("title_pt", ex.title)}
    if submission is None:
        if opts.results_dir:
            shutil.rmtree(results.artifacts_dir(opts.results_dir, student, ex.id), ignore_errors=True)
        result = results.new_result(student, ex.id, status="missing", score=0.0, checks=[], **base,
                                    error=f"no {ex.id}.py or {ex.id}.ipynb in the student's folder",
                                    error_pt=f"nenhum {ex.id}.py ou {ex.id}.ipynb na pasta do aluno",
                                    finished_at=now())
        return _store(result, opts)
    base["submission"] = {"path": str(submission), "sha256": sha, "kind": submission.suffix.lstrip(".")}
    data.ensure(ex.dataset)  # first use fetches; the child only reads the cache
    done: list[tuple[dict[str, Any], Path]] = []
    try:
        done.append(_run_once(student, ex, submission, evaluator, opts, base))
        wanted, why, why_pt = runs_wanted(ex, done[0][0], opts)
        while len(done) < wanted:
            seed = run_seed(base["seed"], len(done))
            done.append(_run_once(student, ex, submission, evaluator, opts, {**base, "seed": seed}))
        result = median_run([r for r, _ in done])
        jobdir = next(d for r, d in done if r is result)
        if len(done) > 1:
            result["rerun"], result["rerun_pt"] = why, why_pt
            result["times"]["all_runs_s"] = round(sum(r["times"]["total_s"] for r, _ in done), 3)
        result["runs"] = [{"seed": r["seed"], "test_error": r.get("test_error"), "score": r.get("score"),
                           "status": r["status"], "run_s": r["times"]["total_s"]} for r, _ in done]
        if opts.results_dir:
            kept = results.artifacts_dir(opts.results_dir, student, ex.id)
            result["artifacts"] = results.keep_artifacts(jobdir / "artifacts", kept)
        if opts.keep_dir:
            dest = opts.keep_dir / student / ex.id
            shutil.rmtree(dest, ignore_errors=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(jobdir), dest)
        result["finished_at"] = now()
        return _store(result, opts)
    finally:
        for _, d in done:
            shutil.rmtree(d, ignore_errors=True)


def runs_wanted(ex: Exercise, first: dict[str, Any], opts: Options) -> tuple[int, str | None, str | None]:
    """How many runs the job takes in all, from its first run, and why more than one (English, Portuguese)."""
    if opts.runs:
        n = max(1, opts.runs)
        return (n, f"{n} runs were asked for (--runs {n}); the median one is graded",
                f"{n} execuções foram pedidas (--runs {n}); a mediana dá a nota")
    err, band, thresholds = first.get("test_error"), ex.noise_band, ex.thresholds()
    graded = any(c["status"] != "not_graded" for c in first.get("checks", []) if c["name"] in thresholds)
    if err is None or not graded or band <= 0 or first["status"] not in ("ok", "partial", "failed"):
        return 1, None, None
    near = [edge for pair in thresholds.values() for edge in pair if abs(err - edge) <= band + 1e-9]
    if not near:
        return 1, None, None
    n, edge = borderline_runs(), near[0]
    return (n, f"the first run's test error ({err:.2f} %) lies within the noise band (±{band:.2f} points) of the "
            f"boundary at {edge:.2f} %: {n} runs, the median one graded",
            f"o erro de teste da primeira execução ({decimal(err, 2, 'pt')} %) está dentro da faixa de ruído "
            f"(±{decimal(band, 2, 'pt')} pontos) do limite de {decimal(edge, 2, 'pt')} %: {n} execuções, a mediana "
            "dá a nota")


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose test error is the median (the lower one of an even count; a run without one counts as worst)."""
    ranked = sorted(runs, key=lambda r: (r.get("test_error") is None, r.get("test_error") or 0.0))
    return ranked[(len(ranked) - 1) // 2]


def _run_once(student: str, ex: Exercise, submission: Path, evaluator: Evaluator, opts: Options,
              base: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    """One run of the submission with base["seed"], evaluated: (result, its job dir, which the caller removes)."""
    jobdir = Path(tempfile.mkdtemp(prefix=f"keras-grader-{ex.id}-"))
    try:
        t0 = time.monotonic()
        placement = opts.placement or default_placement()
        limit = opts.timeout or ex.timeout(gpu=placement.gpu is not None)
        limits = Limits.from_config(limit, {**ex.limits, **opts.limits})
        hidden = [course_root() / "solutions", submission.parent, *opts.hidden]
        if opts.results_dir:
            hidden.append(opts.results_dir)
        outcome = run_submission(submission, filename=f"{ex.id}{submission.suffix}", jobdir=jobdir, dataset=ex.dataset,
                                 workdir_data=ex.workdir_data, quick_epochs=ex.quick_epochs if opts.quick else None,
                                 seed=base["seed"], limits=limits, hidden=hidden,
                                 env={**placement.env(), "KERAS_BACKEND": backend(opts)})
        fields = {**base, "isolation": outcome.isolation, "device": placement.label, "returncode": outcome.returncode,
                  "peak_memory_mb": outcome.peak_memory_mb,
                  "stdout_tail": outcome.stdout[-TAIL:], "stderr_tail": outcome.stderr[-TAIL:]}
        job = {"exercise": ex.id, "course_root": str(course_root()), "artifacts": str(outcome.artifacts),
               "source": readable_source(submission), "kind": submission.suffix.lstrip("."),
               "stdout": outcome.stdout, "quick": opts.quick,
               "returncode": outcome.returncode, "timed_out": outcome.timed_out, "limit_s": limit,
               "limit_hit": outcome.limit_hit}
        try:
            evaluation = evaluator.evaluate(job)
        except EvaluationFailed as e:
            result = results.new_result(student, ex.id, status="error", score=0.0, checks=[], **fields,
                                        error=f"{e}; the instructor should look at this submission",
                                        error_pt=f"{e}; o professor vai examinar esta entrega")
        else:
            checks = evaluation.pop("checks")
            status = results.status_from_checks(checks)
            error = error_pt = None
            if outcome.timed_out:
                status, error, error_pt = "timeout", (
                    f"the script was still running after {limit:.0f} s and was stopped: "
                    "train for fewer epochs or use a larger batch"), (
                    f"o programa ainda rodava após {limit:.0f} s e foi interrompido: "
                    "treine por menos épocas ou use um batch maior")
            elif outcome.limit_hit:
                status, error, error_pt = "resource_limit", (
                    f"the script was stopped by a limit ({outcome.limit_hit}): "
                    "use less memory, fewer processes or smaller files"), (
                    f"o programa foi interrompido por um limite ({outcome.limit_hit}): "
                    "use menos memória, menos processos ou arquivos menores")
            elif evaluation["test_error"] is None and (outcome.returncode != 0):
                status = "error"
                error, error_pt = _error_message(evaluation["exception"], outcome.stderr)
            result = results.new_result(
                student, ex.id, status=status, score=round(sum(c["points"] for c in checks), 3), checks=checks,
                **fields, **evaluation, error=error, error_pt=error_pt)
        result["times"] = {"run_s": outcome.seconds, "eval_s": result.pop("eval_seconds", None),
                           "total_s": round(time.monotonic() - t0, 3)}
        return result, jobdir
    except BaseException:
        shutil.rmtree(jobdir, ignore_errors=True)
        raise


def readable_source(submission: Path) -> str:
    """The text a person reads: a script as it is; a notebook's code, with its Markdown as comments."""
    if submission.suffix != ".ipynb":
        return submission.read_text(errors="replace")
    from .run.notebook import load

    try:
        nb = load(submission)
    except ValueError:
        return ""
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            parts.append(cell.source)
        elif cell.cell_type == "markdown":
            parts.append("\n".join(f"# {line}" for line in cell.source.splitlines()))
    return "\n".join(parts)


def _store(result: dict[str, Any], opts: Options) -> dict[str, Any]:
    if opts.results_dir:
        results.write(opts.results_dir, result)
    return result


def isolation_warning() -> str | None:
    level = sandbox.detect()
    if level == "none":
        return ("WARNING: no isolation available (neither bubblewrap nor `unshare -n` works): student code runs "
                "with the network and your rights. Install bubblewrap (apt-get install bubblewrap) or run as root.")
    if level == "netns":
        return ("WARNING: bubblewrap is missing: student code runs without network but can read and write your "
                "files. Install it: apt-get install bubblewrap")
    return None
