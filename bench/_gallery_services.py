"""Benchmark 11: a gallery DVC repository (``DVCProject``) against real S3 services: MTTR under each outage.

The same damage each time, on a relocated copy of one built get-started baseline: a bitflip in the raw
data, the DVC cache and the local remote emptied, so only the environment's S3 bucket (moto over HTTP,
behind the fault proxy, reached by dvc-s3) holds the raw data. Recovery is ``DVCProject.recover``; the
figure is its wall time (waits included); a sample counts only when the plugin's own reading of the
bucket finds it whole and ``detect`` finds nothing (or, for a partial transfer, when recovery says
honestly that it could not). Beside it: the same damage without services, and attaching one environment.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from _common import Figure, log, repeat
from _gallery import _clone

GROUP = "11. gallery + services: MTTR of DVCProject under S3 outages (get-started)"


def _outages():
    from pytest_mlchaos.incidents.service import RemoteDown, RemoteFlaky, RemotePartialTransfer, RemoteSlow
    from pytest_mlchaos.incidents.spec import Incident

    def of(injector, **params):
        incident = Incident("service_outage", injector.mode, params, seed=5)
        return injector().faults(incident), float(params.get("duration", 0.0))

    return {
        "no outage": None,
        "remote_down (2 s)": of(RemoteDown, duration=2.0),
        "remote_slow (0.3 s a request)": of(RemoteSlow, latency=0.3, duration=0.0),
        "remote_flaky (30% SlowDown, seed 5)": of(RemoteFlaky, fraction=0.3, failure="slowdown", duration=0.0),
        "remote_partial_transfer (1 KiB)": of(RemotePartialTransfer, cut_after=1024, duration=0.0),
    }


def run(work: Path, n: int, warmup: int = 0) -> list[Figure]:
    from pytest_mlchaos.dvc_project import CACHE_DIR, REMOTE_DIR, DVCProject
    from pytest_mlchaos.services.session import SessionServices

    base = work / "gallery-services"
    project = DVCProject(_clone("get-started", base / "src"))
    template = base / "template"
    log("gallery services: building the get-started baseline")
    project.build(template)
    raw = project.artifacts(template).data[0]
    services = SessionServices(base / "svc", seed=5)
    count = [0]
    attach: list[float] = []

    def once(outage, with_services: bool) -> tuple[float, str]:
        count[0] += 1
        root = base / f"env-{count[0]}"
        shutil.copytree(template, root, symlinks=True)
        project.relocate(root, template)
        env = None
        if with_services:
            start = time.perf_counter()
            [env] = services.attach_env(root, project, REMOTE_DIR, {})
            attach.append(time.perf_counter() - start)
        path = root / raw
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))
        shutil.rmtree(root / CACHE_DIR)
        shutil.rmtree(root / REMOTE_DIR)
        (root / REMOTE_DIR).mkdir()
        if env is not None and outage is not None:
            env.outage(outage[0], seed=5, duration=outage[1], label="outage")
        start = time.perf_counter()
        result = project.recover(root, [])
        seconds = time.perf_counter() - start
        if env is not None:
            env.lift()
            if env.problems():
                raise RuntimeError(f"the bucket is not whole: {env.problems()[:2]}")
        if result.recovered and project.detect(root):
            raise RuntimeError(f"claimed recovered, still damaged: {project.detect(root)[:2]}")
        shutil.rmtree(root, ignore_errors=True)
        return seconds, result.strategy if result.recovered else "unrecovered (honestly)"

    figures: list[Figure] = []
    try:
        cases = [("same damage, no services", None, False)]
        cases += [(name, outage, True) for name, outage in _outages().items()]
        for name, outage, with_services in cases:
            log(f"gallery services: MTTR, {name}")
            outcomes: set[str] = set()

            def sample(o=outage, w=with_services) -> float:
                seconds, outcome = once(o, w)
                outcomes.add(outcome)
                return seconds

            samples = repeat(sample, n, warmup)
            figures.append(Figure(GROUP, f"MTTR: {name}", samples, note=", ".join(sorted(outcomes))))
        figures.insert(1, Figure(GROUP, "attach one environment (bucket, upload, .dvc/config.local)", attach))
    finally:
        services.stop()
        shutil.rmtree(base, ignore_errors=True)
    return figures


__all__ = ["run"]
