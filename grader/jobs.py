"""One job = one student x one exercise: prepare, run, evaluate, record."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import data, datasets, devices, frameworks, hints, results
from .claims import statements
from .config import borderline_runs, course_root, course_seed, default_backend, keras2_settings
from .devices import CPU, Placement
from .errors import GraderError
from .evaluation.checks import exception_location
from .evaluation.client import EvaluationFailed, Evaluator
from .evaluation.exercises import thresholds as threshold_checks
from .exercise import Exercise
from .handover import ARTIFACTS_DIR, KERNEL_UNAVAILABLE, EvaluationJob
from .notebooks import needs_kernel
from .run.host import sandbox
from .run.host.runner import Limits, RunOutcome, run_submission
from .schema import JUDGED, CheckStatus, JobResult, JobStatus, new_result, status_from_checks
from .text import Text, decimal

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
    keras2_compat: bool | None = None   # run Keras 2 idioms as Keras 2 did (None: course.toml, default true)
    keras2_penalty: float | None = None  # points off an exercise that needed that (None: course.toml, default 0)
    no_sandbox: bool = False         # --no-sandbox: run student code without isolation (recorded as "none")
    #: data sets that could not be had before the jobs started (``prepare_data``): their jobs are not run
    unavailable: dict[str, Text] = field(default_factory=dict)


def backend(opts: Options) -> str:
    return opts.backend or default_backend()


def keras2(opts: Options) -> tuple[bool, float]:
    """The Keras 2 layer of this job: (on, penalty in points), options first, else course.toml."""
    compat, penalty = keras2_settings()
    return (compat if opts.keras2_compat is None else opts.keras2_compat,
            penalty if opts.keras2_penalty is None else opts.keras2_penalty)


def default_placement() -> Placement:
    """Without a scheduler (``grade run``): the first GPU, else the CPU."""
    found = devices.gpus()
    return Placement(found[0]) if found else CPU


def now() -> str:
    """The current UTC time as results record it (ISO 8601, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _error_message(exc: dict[str, Any] | None, stderr: str) -> Text:
    """Why a run produced no model, and what to do."""
    if not exc:
        last = [line for line in stderr.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
        return Text(f"the script ended without a model; its last message: {last[0][:300]}",
                    f"o programa terminou sem um modelo; sua última mensagem: {last[0][:300]}")
    what = f"{exc['type']}" + exception_location(exc) + f": {str(exc.get('message', ''))[:500]}"
    return what + Text(". Fix it and check that your program runs from start to end (`python <file>`, or "
                       "Runtime > Run all in Colab) before submitting.",
                       ". Corrija e confira que o programa roda do início ao fim (`python <arquivo>`, ou "
                       "Ambiente de execução > Executar tudo no Colab) antes de entregar.") + hints.text(exc)


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
    compat, penalty = keras2(opts)
    variant = " ".join(([] if compat else [f"keras2_compat={compat}"]) + ([f"keras2_penalty={penalty}"] if penalty else []))
    policy = str(opts.runs) if opts.runs else f"auto/{borderline_runs()}"
    return results.job_key(sha, ex.config_sha256, opts.quick, base_seed(ex, opts), backend(opts), runs=policy,
                           variant=variant)


def up_to_date(student: str, ex: Exercise, key: str, opts: Options) -> JobResult | None:
    """The stored result of this job when nothing it depends on changed (and --force is off)."""
    if not opts.results_dir or opts.force:
        return None
    previous = results.read(opts.results_dir, student, ex.id)
    # a grader fault is not a grade: the job runs again once the machine is fixed
    fresh = previous is not None and previous.get("key") == key and previous["status"] != JobStatus.GRADER_ERROR
    return previous if fresh else None


def grader_error(student: str, ex: Exercise, why: Text, **fields: Any) -> JobResult:
    """The result of a job the grader (or its machine) failed: not graded, no score, graded again next time."""
    return new_result(student, ex.id, status=JobStatus.GRADER_ERROR, score=None, checks=[], **fields,
                      error=Text("not graded: ", "não avaliado: ") + why
                      + Text(". Not the student's fault; the next `grade all` grades it again",
                             ". Não é culpa do aluno; o próximo `grade all` corrige de novo"))


def run_fault(outcome: RunOutcome, submission: Path, accepted: tuple[str, ...] = ()) -> Text | None:
    """Why the student's program could not run, when the grader or the machine is to blame: the text of an
    ``EvaluationFailed`` (and what tests/test_evaluator.py reads)."""
    if outcome.sandbox_error:  # the child never wrote its start byte on a pipe student code cannot reach
        return Text(f"the student's program could not be started ({outcome.sandbox_error}). On the grading machine, "
                    "check the sandbox (`bwrap`, or `unshare`) and the Python environment",
                    f"o programa do aluno não pôde ser iniciado ({outcome.sandbox_error}). Na máquina de correção, "
                    "verifique o sandbox (`bwrap`, ou `unshare`) e o ambiente Python")
    if outcome.timed_out or outcome.limit_hit:
        return None
    last = next((line.strip()[:300] for line in reversed(outcome.stderr.splitlines()) if line.strip()), "no output")
    in_kernel = submission.suffix == ".ipynb" or needs_kernel(submission.read_text(errors="replace"))
    if outcome.returncode == KERNEL_UNAVAILABLE and in_kernel:  # a script could exit with that status itself
        return Text(f"the notebook's Jupyter kernel could not start ({last}). On the grading machine, check that "
                    "ipykernel is installed and that the sandbox has a working loopback interface",
                    f"o kernel Jupyter do notebook não pôde iniciar ({last}). Na máquina de correção, verifique se o "
                    "ipykernel está instalado e se o sandbox tem a interface de loopback funcionando")
    # a framework the exercise accepts but this grader lacks (keras-grader[torch] not installed): the machine's fault
    missing = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", outcome.stderr)
    module = missing.group(1).split(".")[0] if missing else ""
    for framework in filter(None, map(frameworks.get, accepted)):
        if framework.extra and module in framework.modules and importlib.util.find_spec(module) is None:
            return Text(f"the exercise accepts {framework.id} programs, but the grading machine has no {module!r} "
                        f"installed. On the grading machine, install the extra: pip install '{framework.extra}'",
                        f"o exercício aceita programas em {framework.id}, mas a máquina de correção não tem "
                        f"{module!r} instalado. Na máquina de correção, instale o extra: pip install "
                        f"'{framework.extra}'")
    return None


def grade(student: str, ex: Exercise, submission: Path | None, evaluator: Evaluator, opts: Options) -> JobResult:
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
            "started_at": started, "title": ex.title, "title_pt": ex.title_text.pt}
    if submission is None:
        return _not_run(student, ex, JobStatus.MISSING, base, opts,
                        Text(f"no {ex.id}.py or {ex.id}.ipynb in the student's folder",
                             f"nenhum {ex.id}.py ou {ex.id}.ipynb na pasta do aluno"))
    base["submission"] = {"path": str(submission), "sha256": sha, "kind": submission.suffix.lstrip(".")}
    if not has_code(submission):  # nothing to run, so nothing earns a point
        what = (Text("Markdown and empty or comment-only cells", "Markdown e células vazias ou só com comentários")
                if submission.suffix == ".ipynb" else
                Text("blank lines and comments", "linhas em branco e comentários"))
        return _not_run(student, ex, JobStatus.EMPTY, base, opts,
                        Text(f"{submission.name} has no code, only {what.en}: write your program in it and submit it "
                             "again",
                             f"{submission.name} não tem código, só {what.pt}: escreva nele o seu programa e "
                             "entregue-o de novo"))
    why = opts.unavailable.get(ex.dataset)
    if why is None:
        try:
            data.ensure(ex.dataset)  # prepare_data fetched it already; a job graded alone fetches on first use
        except GraderError as e:
            why = data_unavailable([ex.dataset], e)
    if why is not None:
        return _store(grader_error(student, ex, why, **base, finished_at=now()), opts)
    done: list[tuple[JobResult, Path]] = []
    crashed: list[tuple[JobResult, Path]] = []  # a run killed by a signal, then run once more
    try:
        done.append(_run_once(student, ex, submission, evaluator, opts, base))
        if "crash" in done[0][0]:  # a crash inside a compiled library is rarely the program's doing: once more
            crashed.append(done.pop())
            done.append(_run_once(student, ex, submission, evaluator, opts, base))
            _crashed_before(done[0][0], crashed[0][0])
        wanted, why = runs_wanted(ex, done[0][0], opts)
        while len(done) < wanted:
            seed = run_seed(base["seed"], len(done))
            done.append(_run_once(student, ex, submission, evaluator, opts, {**base, "seed": seed}))
        result = median_run([r for r, _ in done])
        jobdir = next(d for r, d in done if r is result)
        if why is not None and len(done) > 1:
            result.update(why.fields("rerun"))  # type: ignore[typeddict-item]
        if len(done) > 1:
            result["times"]["all_runs_s"] = round(sum(r["times"]["total_s"] for r, _ in done), 3)
        result["runs"] = [{"seed": r["seed"], "test_error": r.get("test_error"), "score": r.get("score"),
                           "status": r["status"], "run_s": r["times"]["total_s"]} for r, _ in done]
        if opts.results_dir:
            kept = results.artifacts_dir(opts.results_dir, student, ex.id)
            result["artifacts"] = results.keep_artifacts(jobdir / ARTIFACTS_DIR, kept)
        if opts.keep_dir:
            dest = opts.keep_dir / student / ex.id
            shutil.rmtree(dest, ignore_errors=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(jobdir), dest)
        result["finished_at"] = now()
        return _store(result, opts)
    finally:
        for _, d in done + crashed:
            shutil.rmtree(d, ignore_errors=True)


def data_unavailable(names: list[str], error: GraderError) -> Text:
    """Why the jobs of data sets that could not be fetched are not graded, and what the instructor does."""
    which = ", ".join(names)
    subject = (Text(f"the data sets {which} could not be put", f"os conjuntos de dados {which} não puderam ser postos")
               if len(names) > 1 else
               Text(f"the data set {which} could not be put", f"o conjunto de dados {which} não pôde ser posto"))
    return subject + Text(f" in the grader's data cache ({error}); on the grading machine, run `grade data fetch` "
                          "(it says what failed) and grade again",
                          f" no cache de dados do corretor ({error}); na máquina de correção, rode `grade data "
                          "fetch` (ele diz o que falhou) e corrija de novo")


def prepare_data(exercises: list[Exercise], progress: data.Progress = lambda message: None) -> dict[str, Text]:
    """Fill the data cache with every data set these exercises read, before any job (or the evaluator) starts.

    A sandbox is built once, from the folders that exist when it starts: a cache folder made later is not in it,
    so a cold machine must fill the cache first. One fetch for all of them (the wheel that ships several is
    downloaded once). Returns the data sets that could not be had, each with why: their jobs are not run
    (``Options.unavailable``), and the others (abc_skin needs none) are graded as usual.
    """
    names = sorted({ex.dataset for ex in exercises if datasets.get(ex.dataset).files})
    missing = [name for name in names if not data.is_cached(name)]
    try:
        if missing:
            data.fetch(missing, progress=progress)
    except GraderError as e:
        lacking = [name for name in missing if not data.is_cached(name)]
        why = data_unavailable(lacking, e)  # one message for all of them: said once
        return dict.fromkeys(lacking, why)
    return {}


def _crashed_before(retry: JobResult, first: JobResult) -> None:
    """Record on the run made after a crash that the first run crashed; when the retry crashed as well, its error
    says both did, for the instructor (the report lists an ``error`` whose message names the instructor)."""
    if "crash" not in retry:
        retry["crash_first_run"] = first["crash"]
        return
    retry["crash"]["runs"] = 2
    crash = hints.Crash(**{k: v for k, v in retry["crash"].items() if k != "runs"})
    retry.update(_crash_error(crash, runs=2).fields("error"))  # type: ignore[typeddict-item]


def _crash_error(crash: hints.Crash, runs: int) -> Text:
    """Why a run killed by a signal has no grade: the signal and where it hit, and who looks at it."""
    times = Text(" (in each of its 2 runs)", " (nas suas 2 execuções)") if runs > 1 else Text("", "")
    return (crash.text() + times
            + Text(". A crash inside compiled code (a library's, most often) is rarely the program's fault: the "
                   "instructor should look at this submission",
                   ". Uma falha dentro de código compilado (de uma biblioteca, quase sempre) raramente é culpa do "
                   "programa: o professor vai examinar esta entrega"))


def runs_wanted(ex: Exercise, first: JobResult, opts: Options) -> tuple[int, Text | None]:
    """How many runs the job takes in all, from its first run, and why more than one."""
    if opts.runs:
        n = max(1, opts.runs)
        return n, Text(f"{n} runs were asked for (--runs {n}); the median one is graded",
                       f"{n} execuções foram pedidas (--runs {n}); a mediana dá a nota")
    err, band, thresholds = first.get("test_error"), ex.noise_band, threshold_checks(ex, course_root())
    graded = any(c["status"] != CheckStatus.NOT_GRADED for c in first.get("checks", []) if c["name"] in thresholds)
    if err is None or not graded or band <= 0 or first["status"] not in JUDGED:
        return 1, None
    near = [edge for pair in thresholds.values() for edge in pair if abs(err - edge) <= band + 1e-9]
    if not near:
        return 1, None
    n, edge = borderline_runs(), near[0]
    return n, Text(f"the first run's test error ({decimal(err)} %) lies within the noise band (±{decimal(band)} "
                   f"points) of the boundary at {decimal(edge)} %: {n} runs, the median one graded",
                   f"o erro de teste da primeira execução ({decimal(err, 2, 'pt')} %) está dentro da faixa de ruído "
                   f"(±{decimal(band, 2, 'pt')} pontos) do limite de {decimal(edge, 2, 'pt')} %: {n} execuções, a "
                   "mediana dá a nota")


def median_run(runs: list[JobResult]) -> JobResult:
    """The run whose test error is the median (the lower one of an even count; a run without one counts as worst)."""
    ranked = sorted(runs, key=lambda r: (r.get("test_error") is None, r.get("test_error") or 0.0))
    return ranked[(len(ranked) - 1) // 2]


def _run_once(student: str, ex: Exercise, submission: Path, evaluator: Evaluator, opts: Options,
              base: dict[str, Any]) -> tuple[JobResult, Path]:
    """One run of the submission with base["seed"], evaluated: (result, its job dir, which the caller removes)."""
    jobdir = evaluator.job_dir(ex.id)  # where the sandboxed evaluator can read what the run left
    try:
        t0 = time.monotonic()
        placement = opts.placement or default_placement()
        limit = opts.timeout or ex.timeout(gpu=placement.gpu is not None, quick=opts.quick)
        limits = Limits.from_config(limit, {**ex.limits.model_dump(), **opts.limits})
        private = private_folders(submission, opts)
        hidden = [Path(p) for kind, paths in private.items() if kind != "home" for p in paths]  # the sandbox hides home
        outcome = run_submission(submission, filename=f"{ex.id}{submission.suffix}", jobdir=jobdir, dataset=ex.dataset,
                                 workdir_data=ex.workdir_data, quick_epochs=ex.quick_epochs if opts.quick else None,
                                 quick_steps=ex.quick_steps if opts.quick else None,
                                 seed=base["seed"], limits=limits, hidden=hidden, keras2_compat=keras2(opts)[0],
                                 env={**placement.env(), "KERAS_BACKEND": backend(opts)}, no_sandbox=opts.no_sandbox)
        fields = {**base, "isolation": outcome.isolation, "device": placement.label, "returncode": outcome.returncode,
                  "peak_memory_mb": outcome.peak_memory_mb, "limit_hit": outcome.limit_kind,
                  "stdout_tail": outcome.stdout[-TAIL:], "stderr_tail": outcome.stderr[-TAIL:]}
        job = EvaluationJob(exercise=ex.id, course_root=str(course_root()), artifacts=str(outcome.artifacts),
                            source=readable_source(submission), kind=submission.suffix.lstrip("."),
                            statements=statements(submission), quick=opts.quick,
                            returncode=outcome.returncode, timed_out=outcome.timed_out, limit_s=limit,
                            limit_hit=outcome.limit_hit, private=private)
        crash = None if outcome.timed_out or outcome.limit_hit else hints.crash(
            outcome.returncode, outcome.stderr, f"{ex.id}{submission.suffix}")
        if crash is not None:
            fields["crash"] = {**crash.record(), "runs": 1}
        t_eval = time.monotonic()
        try:
            if fault := run_fault(outcome, submission, ex.frameworks):  # the run itself failed for the grader: nothing to evaluate
                raise EvaluationFailed(fault, grader_fault=True)
            evaluation = evaluator.evaluate(job)
        except EvaluationFailed as e:
            why = e.text
            if e.grader_fault:
                result = grader_error(student, ex, why, **fields)
            else:
                result = new_result(student, ex.id, status=JobStatus.ERROR, score=0.0, checks=[], **fields,
                                    error=why + Text("; the instructor should look at this submission",
                                                     "; o professor vai examinar esta entrega"))
        else:
            checks = evaluation.pop("checks")
            status = status_from_checks(checks)
            error: Text | None = None
            if outcome.timed_out:
                status, error = JobStatus.TIMEOUT, Text(
                    f"the script was still running after {limit:.0f} s and was stopped: "
                    "train for fewer epochs or use a larger batch",
                    f"o programa ainda rodava após {limit:.0f} s e foi interrompido: "
                    "treine por menos épocas ou use um batch maior")
            elif outcome.limit_hit:
                status, error = JobStatus.RESOURCE_LIMIT, Text(
                    f"the script was stopped by a limit ({outcome.limit_hit}): "
                    "use less memory, fewer processes or smaller files",
                    f"o programa foi interrompido por um limite ({outcome.limit_hit}): "
                    "use menos memória, menos processos ou arquivos menores")
            elif crash is not None:
                if (evaluation["exception"] or {}).get("type") == "DeadKernel":  # a notebook's: the cell it died in
                    crash = replace(crash, cell=str(evaluation["exception"].get("where") or "") or None)
                    fields["crash"] = {**crash.record(), "runs": 1}
                status, error = JobStatus.ERROR, _crash_error(crash, runs=1)
            elif evaluation["test_error"] is None and (outcome.returncode != 0):
                status, error = JobStatus.ERROR, _error_message(evaluation["exception"], outcome.stderr)
            penalty = keras2(opts)[1] if evaluation.get("notices") else 0.0
            if penalty:
                fields["keras2_penalty"] = penalty
            score = max(0.0, sum(c["points"] for c in checks) - penalty)
            result = new_result(student, ex.id, status=status, score=round(score, 3), checks=checks, **fields,
                                **evaluation, error=error)
        eval_s = round(time.monotonic() - t_eval, 3)  # as the grader waits for it, the pipe included
        result.pop("eval_seconds", None)
        stages = {**outcome.stages, **{f"eval_{k}": v for k, v in (result.pop("eval_stages", None) or {}).items()}}
        result["times"] = {"run_s": outcome.seconds, "eval_s": eval_s,
                           "total_s": round(time.monotonic() - t0, 3), "stages": stages}
        return result, jobdir
    except BaseException:
        shutil.rmtree(jobdir, ignore_errors=True)
        raise


def _not_run(student: str, ex: Exercise, status: JobStatus, base: dict[str, Any], opts: Options,
             error: Text) -> JobResult:
    """The result of a submission with nothing to run (missing or empty): no checks, no points."""
    if opts.results_dir:  # a previous submission's figures no longer belong to this one
        shutil.rmtree(results.artifacts_dir(opts.results_dir, student, ex.id), ignore_errors=True)
    result = new_result(student, ex.id, status=status, score=0.0, checks=[], **base, error=error, finished_at=now())
    return _store(result, opts)


def has_code(submission: Path) -> bool:
    """Whether a submission has anything to run: more than blank lines, comments, docstrings or Markdown.

    A file Python cannot parse (a syntax error, a notebook's shell lines) or a notebook that cannot be read
    has something: its run says what is wrong with it.
    """
    if submission.suffix == ".ipynb":
        from .notebooks import read

        try:
            code = "\n".join(c.source for c in read(submission).cells if c.cell_type == "code")
        except ValueError:
            return True
    else:
        code = submission.read_text(errors="replace")
    try:
        body = ast.parse(code).body
    except (SyntaxError, ValueError):  # ValueError: NUL bytes (Python 3.11)
        return True
    return not all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) for s in body)


def private_folders(submission: Path, opts: Options) -> dict[str, list[str]]:
    """What no exercise reads or writes, by name: the sandbox hides it, and the attempts the audit hook recorded
    on it are flagged."""
    home = Path.home()
    return {"solutions": [str((course_root() / "solutions").resolve())],
            "results": [str(opts.results_dir.resolve())] if opts.results_dir else [],
            "submissions": [str(p.resolve()) for p in (submission.parent, *opts.hidden)],
            "home": [str(home.resolve())] if home != Path("/") else []}


def readable_source(submission: Path) -> str:
    """The text a person reads: a script as it is; a notebook's code, with its Markdown as comments."""
    if submission.suffix != ".ipynb":
        return submission.read_text(errors="replace")
    from .notebooks import load

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


def _store(result: JobResult, opts: Options) -> JobResult:
    if opts.results_dir:
        results.write(opts.results_dir, result)
    return result


def isolation_warning(no_sandbox: bool = False) -> str | None:
    """What the instructor must know before student code runs; raises SandboxUnavailable (a refusal)."""
    level = sandbox.choose(no_sandbox)
    if level == "none":
        return ("WARNING: --no-sandbox: student code runs WITHOUT isolation, with the network and your rights; "
                "every result says isolation: none.\nAVISO: --no-sandbox: o código dos alunos roda SEM isolamento, "
                "com a rede e os seus direitos; cada resultado indica isolation: none.")
    return None
