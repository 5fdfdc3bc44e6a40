"""`mesh lab`'s verbs on the running mesh: start a lab (its profile, then its setup), check its steps,
give hints tier by tier, solve (fast-forward) a step, skip to a step, reset; the learner's progress is
kept under the state directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from mesh_config import MeshSettings
from mesh_labs.catalogue import LoadedLab, find_folder, lab_folders, load_lab
from mesh_labs.localize import localized
from mesh_labs.mesh import ACCESS_TOPIC, LabMesh, Unanswered
from mesh_labs.outcome import Outcome, failed
from mesh_labs.progress import LabProgress, Progress, ProgressStore, now
from mesh_labs.spec import LabSpecError, Profile, Step

SOLVE_SETTLES_S = 30.0  # how long a solved step's check may take to see the solve

Say = Callable[[str], None]


@dataclass(frozen=True)
class StepResult:
    step: Step
    outcome: Outcome
    hint: str | None  # on a failure: the next hint not yet taken (a nudge first)


class LabError(Exception):
    """What the learner can act on: the message names the command to run."""


def bring_up(settings: MeshSettings, profile: Profile, say: Say) -> None:
    """Start what the profile needs and is not running: the stack, change capture, the audit log, the
    catalog, the products; then the learner's identity, granted the products that registered."""
    from mesh_client.analyst import demo_access
    from mesh_stack import Stack
    from mesh_stack.assembly import ensure_capture, ensure_products, ensure_services

    say("the stack (PostgreSQL, S3, Kafka, registry, Connect)")
    Stack(settings).up()
    if profile.sources:
        say(f"change capture of {', '.join(profile.sources)}")
        ensure_capture(settings, profile.sources)
    services = [n for n, on in (("the audit log", profile.audit), ("the catalog", profile.catalog)) if on]
    if services:
        say(" and ".join(services))
    ensure_services(settings, audit=profile.audit, catalog=profile.catalog)
    if profile.products:
        say(f"products: {', '.join(profile.products)}")
        ensure_products(settings, profile.products, say)
    if profile.playback_events:
        _ensure_playback(settings, profile.playback_events, say)
    if profile.learner and profile.products:
        _wait_registered(settings, profile.products)
        demo_access(settings)
        say("the learner's identity (demo-analyst) granted every running product, PII masked")


def _wait_registered(settings: MeshSettings, products: list[str], timeout_s: float = 60) -> None:
    import time

    import httpx

    from mesh_client.consumer import folder_name

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listed = httpx.get(f"{settings.product_catalog_endpoint}/products", timeout=10).json()
        if set(products) <= {folder_name(e) for e in listed}:
            return
        time.sleep(0.5)
    raise LabError(
        f"the catalog did not list {', '.join(products)} within {timeout_s:.0f} s (mesh logs catalog-service)"
    )


def _ensure_playback(settings: MeshSettings, wanted: int, say: Say) -> None:
    """Clean viewing traffic until playback.events' history holds `wanted` events."""
    import time

    import httpx

    from mesh_generate import Imperfections, PlaybackSimulator, PlaybackTraffic, Population, send_traffic
    from mesh_generate.kafka_sink import KafkaPlaybackSink
    from mesh_generate.playback_sessions import Catalogue
    from mesh_stack.assembly import product_ports

    observations = f"http://{settings.host}:{product_ports(settings, 'playback.events').http}/observations"

    def held() -> int:
        return int(httpx.get(observations, timeout=30).json()["total_rows"])

    have = held()
    if have >= wanted:
        return
    say(f"{wanted - have} playback events")
    simulator = PlaybackSimulator(
        Catalogue.generate(500),
        Population.generate(300),
        concurrent_sessions=50,
        seed=17,
        start_ms=time.time_ns() // 10**6,
    )
    sink = KafkaPlaybackSink.connect(settings)
    clean = PlaybackTraffic(simulator, Imperfections(0.0, 0.0, 0.0), seed=17)
    send_traffic(clean, sink, rate=None, count=wanted - have)
    deadline = time.monotonic() + 120
    while held() < wanted:
        if time.monotonic() > deadline:
            raise LabError(
                "playback.events did not ingest the lab's traffic in 2 minutes (mesh logs product-playback.events)"
            )
        time.sleep(1)


class LabRunner:
    def __init__(
        self,
        settings: MeshSettings,
        say: Say = lambda _: None,
        bring_up: Callable[[MeshSettings, Profile, Say], None] = bring_up,
    ) -> None:
        self.settings = settings
        self.say = say
        self.bring_up = bring_up
        self.store = ProgressStore(settings.home)

    # --- finding labs ----------------------------------------------------------------------------------

    def labs(self) -> list[LoadedLab]:
        return [load_lab(folder) for folder in lab_folders(self.settings.labs_dir)]

    def find(self, ref: str | None, progress: Progress | None = None) -> LoadedLab:
        if ref is None:
            current = (progress or self.store.load()).current
            if current is None:
                raise LabError("no lab started yet: `mesh lab list`, then `mesh lab start N`")
            ref = current
        try:
            loaded = load_lab(find_folder(self.settings.labs_dir, ref))
        except LabSpecError as exc:
            raise LabError(str(exc)) from None
        return replace(loaded, spec=localized(loaded.spec, self.settings))

    def _mesh(self, loaded: LoadedLab, lab_progress: LabProgress) -> LabMesh:
        return LabMesh(self.settings, loaded.spec, lab_progress)

    # --- the verbs -------------------------------------------------------------------------------------

    def start(self, ref: str) -> LoadedLab:
        progress = self.store.load()
        loaded = self.find(ref, progress)
        missing = [p for p in loaded.spec.prerequisites if not self._done(progress, p)]
        if missing:
            self.say(f"note: this lab builds on lab(s) {', '.join(missing)}, not finished here (it runs anyway)")
        self.bring_up(self.settings, loaded.spec.profile, self.say)
        progress.current = loaded.name
        lab_progress = progress.lab(loaded.name)
        if lab_progress.started_at is not None:  # started before: undo what was done since, first
            mesh = self._mesh(loaded, lab_progress)
            for reset in loaded.lab.resets:
                reset(mesh)
        self._begin(loaded, lab_progress, progress)
        return loaded

    def _begin(self, loaded: LoadedLab, lab_progress: LabProgress, progress: Progress) -> None:
        """The lab's setup, then the marks a check measures from; progress starts over."""
        lab_progress.baseline.clear()
        lab_progress.answers.clear()
        lab_progress.steps.clear()
        mesh = self._mesh(loaded, lab_progress)
        for setup in loaded.lab.setups:
            setup(mesh)
        if loaded.spec.profile.products:  # products write the access log a check reads from here on
            mesh.mark(ACCESS_TOPIC)
            mesh.mark_groups(mesh.learner_id)
        lab_progress.started_at = now()
        self.store.save(progress)

    def _done(self, progress: Progress, ref: str) -> bool:
        try:
            loaded = self.find(ref, progress)
        except LabError:
            return False
        steps = progress.labs.get(loaded.name, LabProgress()).steps
        return bool(loaded.spec.steps) and all(
            steps.get(s, None) and steps[s].status == "passed" for s in loaded.spec.step_ids
        )

    def _started(self, ref: str | None) -> tuple[Progress, LoadedLab, LabProgress]:
        progress = self.store.load()
        loaded = self.find(ref, progress)
        lab_progress = progress.labs.get(loaded.name)
        if lab_progress is None or lab_progress.started_at is None:
            raise LabError(f"lab {loaded.name} is not started: `mesh lab start {loaded.spec.id}`")
        return progress, loaded, lab_progress

    def check(self, step: str | None = None, ref: str | None = None) -> list[StepResult]:
        progress, loaded, lab_progress = self._started(ref)
        steps = [loaded.spec.step(step)] if step else loaded.spec.steps
        mesh = self._mesh(loaded, lab_progress)
        results = []
        for s in steps:
            try:
                outcome = loaded.lab.checks[s.id](mesh)
            except Unanswered as exc:
                outcome = failed(str(exc))
            except Exception as exc:  # a check that cannot look is a failure that says why
                outcome = failed(f"could not check: {type(exc).__name__}: {exc}")
            kept = lab_progress.step(s.id)
            kept.status = "passed" if outcome.passed else "failed"
            kept.saw, kept.checked_at = outcome.saw, now()
            hint = None if outcome.passed else s.hints[min(kept.hints, len(s.hints) - 1) if kept.hints else 0]
            results.append(StepResult(s, outcome, hint))
        self.store.save(progress)
        return results

    def _first_open(self, loaded: LoadedLab, lab_progress: LabProgress) -> Step:
        for s in loaded.spec.steps:
            if lab_progress.step(s.id).status != "passed":
                return s
        return loaded.spec.steps[-1]

    def hint(self, step: str | None = None) -> tuple[Step, int, str]:
        """The next tier of hints for a step (the first step not passed): 1-based tier, its text."""
        progress, loaded, lab_progress = self._started(None)
        s = loaded.spec.step(step) if step else self._first_open(loaded, lab_progress)
        kept = lab_progress.step(s.id)
        tier = min(kept.hints + 1, len(s.hints))
        kept.hints = tier
        self.store.save(progress)
        return s, tier, s.hints[tier - 1]

    def solve(self, step: str | None = None) -> StepResult:
        progress, loaded, lab_progress = self._started(None)
        s = loaded.spec.step(step) if step else self._first_open(loaded, lab_progress)
        loaded.lab.solves[s.id](self._mesh(loaded, lab_progress))
        lab_progress.step(s.id).solved = True
        self.store.save(progress)
        return self._settled(s.id)

    def _settled(self, step: str) -> StepResult:
        """The step's check once what the solve did can be seen: some of it reaches what checks read a
        moment later (an access record crosses Kafka; a catalog pull comes every few seconds)."""
        deadline = time.monotonic() + SOLVE_SETTLES_S
        while True:
            result = self.check(step)[0]
            if result.outcome.passed or time.monotonic() >= deadline:
                return result
            time.sleep(1.0)

    def skip_to(self, step: str) -> list[StepResult]:
        """Solve every step before `step` that does not pass yet, so a learner who fell behind rejoins."""
        _, loaded, _ = self._started(None)
        loaded.spec.step(step)  # a clear error for an unknown step
        done = []
        for s in loaded.spec.steps:
            if s.id == step:
                break
            if not self.check(s.id)[0].outcome.passed:
                done.append(self.solve(s.id))
        return done

    def answer(self, step: str, value: str) -> StepResult:
        progress, loaded, lab_progress = self._started(None)
        loaded.spec.step(step)
        lab_progress.answers[step] = value.strip()
        self.store.save(progress)
        return self.check(step)[0]

    def reset(self, ref: str | None = None) -> LoadedLab:
        """Back to the lab's start without restarting the mesh: the lab's reset, then its setup again."""
        progress = self.store.load()
        loaded = self.find(ref, progress)
        lab_progress = progress.lab(loaded.name)
        mesh = self._mesh(loaded, lab_progress)
        for reset in loaded.lab.resets:
            reset(mesh)
        progress.current = loaded.name
        self._begin(loaded, lab_progress, progress)
        return loaded

    def progress(self) -> Progress:
        return self.store.load()
