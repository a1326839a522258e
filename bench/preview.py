"""Preview benchmark: `digest preview` for 10 topics over the 1,504-paper arXiv feed.

Fetches the feed into a fresh store once, then times the whole command as an operator
runs it (a subprocess, Python start-up included) and, in process, its stages: compose
(index + rank 10 topics), render the emails, build the site. Target: under 3 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import DATA, save, table
from digest.compose import compose
from digest.compose import save as save_editions
from digest.config import load_settings
from digest.fetch import fetch_sources
from digest.periods import current_period
from digest.publish import build_site
from digest.render import Renderer
from digest.store import Store

TOPICS = {
    "rl": ("Reinforcement learning", ["reinforcement learning", "policy optimization", "reward"]),
    "nlp": ("Language models", ["language model", "LLM", "retrieval-augmented generation"]),
    "vision": ("Computer vision", ["image", "segmentation", "object detection", "video"]),
    "graphs": ("Graph learning", ["graph neural network", "graph", "message passing"]),
    "quantum": ("Quantum computing", ["quantum circuit", "qubit", "quantum error correction"]),
    "astro": ("Galaxies", ["galaxy", "star formation", "dark matter"]),
    "hep": ("Particle physics", ["collider", "Higgs", "neutrino", "dark matter"]),
    "math-opt": ("Optimization", ["convex optimization", "gradient descent", "convergence rate"]),
    "bio": ("Computational biology", ["protein", "gene expression", "single-cell"]),
    "robotics": ("Robotics", ["robot", "manipulation", "locomotion", "motion planning"]),
}


def _config(workdir: Path) -> Path:
    lines = [
        f'[store]\nurl = "sqlite:///{workdir / "digest.db"}"\n',
        '[site]\nbase_url = "https://papers.example.org"\n',
        f'[[sources]]\nname = "all"\nkind = "arxiv-rss"\n'
        f'path = "{DATA / "arxiv-rss" / "rss.arxiv.org_all-archives_2024-11-28.xml"}"\n',
    ]
    for slug, (name, keywords) in TOPICS.items():
        quoted = ", ".join(f'"{k}"' for k in keywords)
        lines.append(f'[[topics]]\nslug = "{slug}"\nname = "{name}"\nkeywords = [{quoted}]\n')
    path = workdir / "digest.toml"
    path.write_text("\n".join(lines))
    return path


def run(quick: bool = False) -> dict:
    repeat = 2 if quick else 5
    workdir = Path(tempfile.mkdtemp(prefix="digest-bench-preview-"))
    try:
        config = _config(workdir)
        settings = load_settings(config)
        store = Store.open(settings.store.url)
        fetch_sources(settings, store)
        digest = Path(sys.executable).with_name("digest")
        command = [str(digest), "--config", str(config), "preview", "--out", str(workdir / "site")]
        wall = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=os.environ.copy())
            wall.append(time.perf_counter() - start)
        stages: dict[str, list[float]] = {"compose": [], "render emails": [], "site": []}
        now = datetime.now(UTC)
        period = current_period(now, "daily", settings.site.timezone)
        for _ in range(repeat):
            start = time.perf_counter()
            composition = compose(settings, store, period, settings.topics, now)
            save_editions(store, composition)
            stages["compose"].append(time.perf_counter() - start)
            start = time.perf_counter()
            renderer = Renderer(settings)
            for edition in composition.editions():
                renderer.email(edition)
            stages["render emails"].append(time.perf_counter() - start)
            start = time.perf_counter()
            build_site(settings, store, workdir / "site2", renderer, now)
            stages["site"].append(time.perf_counter() - start)
        picks = sum(len(r.picks) for r in composition.rankings)
        store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    startup = _startup(repeat)
    figures = {
        "when": datetime.now(UTC).isoformat(),
        "topics": len(TOPICS),
        "papers": 1504,
        "picks": picks,
        "command_s": min(wall),
        "python_startup_s": startup,
        "stages_s": {k: min(v) for k, v in stages.items()},
    }
    rows = [
        ["digest preview (whole command)", f"{min(wall):.2f}"],
        ["  of which interpreter + imports", f"{startup:.2f}"],
    ]
    rows += [[f"  {name}", f"{min(times):.2f}"] for name, times in stages.items()]
    print(table(["what", "seconds"], rows))
    print(
        f"\n10 topics, 1,504 papers, {picks} picks: the command takes {min(wall):.2f} s "
        f"(target < 3 s)."
    )
    print(f"results: {save('preview', figures)}")
    return figures


def _startup(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import digest.cli, digest.publish"], check=True)
        times.append(time.perf_counter() - start)
    return min(times)
