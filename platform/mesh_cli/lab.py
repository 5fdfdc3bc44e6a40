"""`mesh lab`: hands-on labs on the running mesh, checked against the real system."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mesh_client.analyst import ANALYST, key_path
from mesh_config import load_settings
from mesh_labs import LabError, LabRunner, StepResult
from mesh_labs.spec import LabSpecError

lab_app = typer.Typer(
    help="Hands-on labs: start one, check your steps, ask for hints, reset.", no_args_is_help=True, add_completion=False
)
console = Console()
err_console = Console(stderr=True)

StepArgument = Annotated[str | None, typer.Argument(help="a step id (default: every step, or the first not passed)")]


def _runner() -> LabRunner:
    return LabRunner(load_settings(), say=lambda line: console.print(f"  · {line}", highlight=False))


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _print_results(results: list[StepResult]) -> None:
    for r in results:
        mark = "[bold green]PASS[/]" if r.outcome.passed else "[bold red]FAIL[/]"
        console.print(f"{mark}  {r.step.id:<14} {r.step.title}", highlight=False)
        console.print(f"      saw: {r.outcome.saw}", highlight=False, soft_wrap=True)
        if r.hint:
            console.print(f"      hint: {r.hint}", style="yellow", highlight=False, soft_wrap=True)
    done = sum(r.outcome.passed for r in results)
    console.print(f"{done}/{len(results)} passed")


@lab_app.command("list")
def list_labs() -> None:
    """Every lab: number, title, what it teaches, duration, difficulty, and your progress."""
    runner = LabRunner(load_settings())
    progress = runner.progress()
    table = Table("lab", "title", "teaches", "min", "level", "progress")
    try:
        labs = runner.labs()
    except (LabError, LabSpecError) as exc:
        raise _fail(exc) from None
    for loaded in labs:
        steps = progress.labs.get(loaded.name)
        passed = sum(1 for s in (steps.steps.values() if steps else []) if s.status == "passed")
        mark = "▶ " if progress.current == loaded.name else ""
        table.add_row(
            f"{mark}{loaded.spec.id}",
            loaded.spec.title,
            loaded.spec.concept,
            str(loaded.spec.duration_min),
            loaded.spec.difficulty,
            f"{passed}/{len(loaded.spec.steps)}",
        )
    console.print(table)


@lab_app.command()
def start(lab: Annotated[str, typer.Argument(help="the lab's number (1), slug (tour) or folder (01-tour)")]) -> None:
    """Bring the mesh into the lab's starting state, starting only what the lab needs."""
    runner = _runner()
    try:
        with console.status(f"starting lab {lab}"):
            loaded = runner.start(lab)
    except (LabError, LabSpecError) as exc:
        raise _fail(exc) from None
    except Exception as exc:
        raise _fail(RuntimeError(f"the lab could not start: {exc}")) from None
    console.print(f"\n[bold]Lab {loaded.spec.id}: {loaded.spec.title}[/] ({loaded.spec.duration_min} min)")
    console.print(f"Read {loaded.folder / 'README.md'} (or: mesh lab guide)", highlight=False)
    if loaded.spec.profile.learner:
        key = key_path(load_settings())
        console.print(f"You are the consumer {ANALYST}: export MESH_API_KEY=$(cat {key})", highlight=False)
    for step in loaded.spec.steps:
        console.print(f"  [ ] {step.id:<14} {step.title}", highlight=False)
    console.print("Then: [bold]mesh lab check[/] · mesh lab hint · mesh lab answer STEP VALUE · mesh lab reset")


@lab_app.command()
def check(step: StepArgument = None) -> None:
    """PASS or FAIL for each step of the lab in hand, what the check saw, and a hint on a FAIL."""
    try:
        results = _runner().check(step)
    except (LabError, LabSpecError) as exc:
        raise _fail(exc) from None
    _print_results(results)
    if not all(r.outcome.passed for r in results):
        raise typer.Exit(2)


@lab_app.command()
def hint(step: StepArgument = None) -> None:
    """The next hint for a step, each tier a little more direct than the one before."""
    try:
        s, tier, text = _runner().hint(step)
    except (LabError, LabSpecError) as exc:
        raise _fail(exc) from None
    console.print(f"[bold]{s.id}[/] hint {tier}/{len(s.hints)}: {text}", highlight=False, soft_wrap=True)


@lab_app.command()
def answer(
    step: Annotated[str, typer.Argument(help="the step that asks a question")],
    value: Annotated[str, typer.Argument(help="your answer")],
) -> None:
    """Record your answer to a step's question; it is checked at once against the running mesh."""
    try:
        result = _runner().answer(step, value)
    except (LabError, LabSpecError) as exc:
        raise _fail(exc) from None
    _print_results([result])


@lab_app.command()
def solve(step: StepArgument = None) -> None:
    """Fast-forward a step (the first not passed): do what the learner would, as the learner. Recorded."""
    try:
        result = _runner().solve(step)
    except (LabError, LabSpecError) as exc:
        raise _fail(exc) from None
    except Exception as exc:  # the solve acts on the running mesh: say what it could not do
        raise _fail(RuntimeError(f"the solve could not finish: {type(exc).__name__}: {exc}")) from None
    _print_results([result])


@lab_app.command("skip-to")
def skip_to(step: Annotated[str, typer.Argument(help="the step to rejoin the room at")]) -> None:
    """Solve every step before STEP that does not pass yet."""
    try:
        results = _runner().skip_to(step)
    except (LabError, LabSpecError) as exc:
        raise _fail(exc) from None
    _print_results(results) if results else console.print("nothing to solve: every step before it passes")


@lab_app.command()
def reset(lab: Annotated[str | None, typer.Argument(help="a lab (default: the one in hand)")] = None) -> None:
    """Return the mesh to the lab's start, without restarting it; your progress in it starts over."""
    import time

    began = time.monotonic()
    try:
        with console.status("resetting"):
            loaded = _runner().reset(lab)
    except (LabError, LabSpecError) as exc:
        raise _fail(exc) from None
    console.print(f"lab {loaded.name} is back at its start ({time.monotonic() - began:.1f} s)")


@lab_app.command()
def status() -> None:
    """Your progress: each lab started, each step not started, failed (with what was seen) or passed."""
    runner = LabRunner(load_settings())
    progress = runner.progress()
    if not progress.labs:
        console.print("no lab started yet: mesh lab list, then mesh lab start N")
        return
    for name, lab_progress in sorted(progress.labs.items()):
        mark = " (in hand)" if name == progress.current else ""
        console.print(f"[bold]{name}[/]{mark}  started {lab_progress.started_at}", highlight=False)
        try:
            steps = runner.find(name).spec.steps
        except LabError:
            continue
        for step in steps:
            kept = lab_progress.step(step.id)
            style = {"passed": "green", "failed": "red"}.get(kept.status, "dim")
            extra = f"  hints {kept.hints}" if kept.hints else ""
            extra += "  solved" if kept.solved else ""
            saw = f": {kept.saw}" if kept.status == "failed" else ""
            console.print(f"  [{style}]{kept.status:<11}[/] {step.id}{extra}{saw}", highlight=False, soft_wrap=True)


@lab_app.command()
def guide(lab: Annotated[str | None, typer.Argument(help="a lab (default: the one in hand)")] = None) -> None:
    """A lab's README in the terminal."""
    from rich.markdown import Markdown

    try:
        loaded = LabRunner(load_settings()).find(lab)
    except (LabError, LabSpecError) as exc:
        raise _fail(exc) from None
    console.print(Markdown((loaded.folder / "README.md").read_text()))
