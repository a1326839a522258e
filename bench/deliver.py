"""Delivery benchmark: N subscribers over 300 topics, 2,000 new papers, through SMTP.

A local aiosmtpd sink runs in its own process. Reported, in one run:
- ranking: planning plus every subscriber's edition (each topic ranked once, personal
  choices per subscriber), in seconds and subscribers per second;
- rendering plus MIME building per recipient (email parts joined, links signed, message
  built), in microseconds;
- the ceiling: pre-built messages pushed to the same sink over the same number of
  connections, in messages per second;
- end to end: `send_due` (claims, messages, SMTP, ledger) in a separate process, in
  messages per second, its ratio to the ceiling, and that process's peak memory.

Run: python -m bench deliver [--quick]   (DIGEST_BENCH_SUBSCRIBERS=100000 for the big run)
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import DATA, save, table
from digest.config import load_settings
from digest.deliver import SendReport
from digest.deliver.dispatch import Dispatcher
from digest.deliver.plan import plan
from digest.deliver.prepare import prepare
from digest.models import Paper
from digest.rank.embed import QUERY, default_embedder, embed_stored, keyword_texts, semantic_for
from digest.sources import SOURCE_PRIORITY
from digest.store import Store
from digest.store.schema import subscribers
from digest.tokens import Tokens
from digest.transport import transport_for

CEILING_SAMPLE = 10000
CONNECTIONS = int(os.environ.get("DIGEST_BENCH_CONNECTIONS", 8))
TOPICS = 300
PAPERS = 2000
SECRET = "bench-secret-0123456789abcdef"
STOP = set(
    "about after their there these those which while where using based study "
    "paper results method methods approach models model learning".split()
)


def _papers() -> list[Paper]:
    found: dict[str, Paper] = {}
    for path in sorted((DATA / "arxiv-corpus" / "daily-arXiv-ai-enhanced_cs").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            key = f"arxiv:{row['id']}"
            if key not in found:
                found[key] = Paper(
                    id=key,
                    title=row["title"],
                    abstract=row["summary"],
                    authors=tuple(row["authors"]),
                    categories=tuple(row["categories"]),
                    links={"abs": f"https://arxiv.org/abs/{row['id']}"},
                )
            if len(found) == PAPERS:
                return list(found.values())
    return list(found.values())


def _topics(papers: list[Paper]) -> str:
    words = Counter(
        w for p in papers for w in set(re.findall(r"[a-z]{5,}", p.title.lower())) if w not in STOP
    )
    # ties by word, so the topics never depend on the order of a set (PYTHONHASHSEED)
    common = [w for w, _ in sorted(words.items(), key=lambda i: (-i[1], i[0]))[: 2 * TOPICS]]
    lines = []
    for i in range(TOPICS):
        keywords = ", ".join(f'"{w}"' for w in common[2 * i : 2 * i + 2])
        lines.append(
            f'[[topics]]\nslug = "t{i:03d}"\nname = "Topic {i}"\n'
            f"keywords = [{keywords}]\nmax_items = 5\n"
        )
    return "\n".join(lines)


def _setup(
    workdir: Path, count: int, port: int, papers: list[Paper], url: str | None = None, extra=""
) -> Path:
    """The benchmark's settings and store (SQLite in ``workdir`` unless ``url``)."""
    config = workdir / "digest.toml"
    config.write_text(
        f"""
[store]
url = "{url or f"sqlite:///{workdir / 'digest.db'}"}"
{extra}
[site]
base_url = "https://papers.example.org"
[mail]
transport = "smtp"
retry_delays = [0.0]
[mail.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = {CONNECTIONS}
"""
        + _topics(papers)
    )
    settings = load_settings(config)
    store = Store.open(settings.store.url)
    store.ingest(
        "corpus", SOURCE_PRIORITY["arxiv-rss"], papers, datetime.now(UTC) - timedelta(hours=1)
    )
    _embed(settings, store)
    rng = random.Random(7)
    created = datetime.now(UTC) - timedelta(days=2)
    rows = [
        {
            "email": f"reader{i:06d}@example.org",
            "status": "active",
            "topics": [f"t{t:03d}" for t in rng.sample(range(TOPICS), rng.randint(1, 4))],
            "frequency": "daily",
            "weekday": None,
            "timezone": "UTC",
            "hour": 0,
            "max_papers": None,
            "created_at": created,
            "confirmed_at": created,
            "bounces": 0,
        }
        for i in range(count)
    ]
    with store.engine.begin() as conn:
        conn.execute(subscribers.insert(), rows)
    store.close()
    return config


_EMBEDDED: dict[str, tuple[int, bytes]] = {}
EMBEDDING: dict[str, float] = {}


def _embed(settings, store: Store) -> None:
    """Every paper's and every topic keyword's vector in the store, as a fetch and the
    first ranking of the topics leave them (semantic extra installed): the rankings timed
    afterwards are the steady state. Embedded once per benchmark process, then copied."""
    embedder = default_embedder() if settings.rank.semantic else None
    if embedder is None:
        return
    if not _EMBEDDED:
        start = time.perf_counter()
        papers = embed_stored(store, embedder)
        EMBEDDING["papers"], EMBEDDING["papers_s"] = papers, time.perf_counter() - start
        start = time.perf_counter()
        semantic_for(store, True, [], [t.keywords for t in settings.topics])
        EMBEDDING["keywords_s"] = time.perf_counter() - start
        ids = [p.id for p in store.papers()] + [QUERY + t for t in _keyword_texts(settings)]
        _EMBEDDED.update(store.vectors(embedder.name, ids))
        return
    dimension = next(iter(_EMBEDDED.values()))[0]
    store.save_vectors(embedder.name, dimension, {k: b for k, (_, b) in _EMBEDDED.items()})


def _keyword_texts(settings) -> list[str]:
    return sorted({t for topic in settings.topics for t in keyword_texts(topic.keywords)})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    def __init__(self) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        assert self.stdout.readline().strip() == "ready"

    def count(self) -> int:
        self.stdin.write("count\n")
        self.stdin.flush()
        return int(self.stdout.readline())

    def close(self) -> None:
        self.stdin.close()  # ends the sink's command loop
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _ceiling(settings, messages: list) -> float:
    """Pre-built messages through the same transport and connections: the best case."""
    chunks = [messages[i::CONNECTIONS] for i in range(CONNECTIONS)]
    transport = transport_for(settings)

    def push(chunk: list) -> None:
        connection = transport.connect()
        try:
            for m in chunk:
                assert connection.send(m).status == "sent"
        finally:
            connection.close()

    threads = [threading.Thread(target=push, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(messages) / (time.perf_counter() - start)


CHILD = """
import json, resource, sys, time
from datetime import UTC, datetime
from digest.config import load_settings
from digest.deliver import send_due
from digest.store import Store
settings = load_settings(sys.argv[1])
store = Store.open(settings.store.url)
start = time.perf_counter()
report = send_due(settings, store, now=datetime.now(UTC))
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM, not ru_maxrss: that one keeps the parent's high-water mark across exec
peak = next(int(line.split()[1]) for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "sent": report.sent, "retried": report.retried,
                  "failed": report.failed, "stopped": report.stopped,
                  "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak / 1024}))
"""


def run(quick: bool = False) -> dict:
    count = int(os.environ.get("DIGEST_BENCH_SUBSCRIBERS") or (2000 if quick else 10000))
    workdir = Path(tempfile.mkdtemp(prefix="digest-bench-deliver-"))
    sink = Sink()
    try:
        papers = _papers()
        config = _setup(workdir, count, sink.port, papers)
        settings = load_settings(config)
        store = Store.open(settings.store.url)
        now = datetime.now(UTC)

        start = time.perf_counter()
        schedule = plan(settings, store, now)
        planning = time.perf_counter() - start
        start = time.perf_counter()
        prepared = prepare(settings, store, now=now, schedule=schedule)
        ranking = time.perf_counter() - start
        jobs = prepared.jobs

        dispatcher = Dispatcher(
            settings,
            store,
            transport_for(settings),
            Tokens(SECRET),
            SendReport(),
            now,
            None,
            threading.Event(),
            time.sleep,
        )
        start = time.perf_counter()
        dispatcher.prepare_kits(jobs)
        kits = time.perf_counter() - start
        sample = jobs[:CEILING_SAMPLE]  # pre-built messages for the ceiling (kept in memory)
        start = time.perf_counter()
        messages = [dispatcher.message(job, f"bench.{i}") for i, job in enumerate(sample)]
        per_recipient = (time.perf_counter() - start) / max(1, len(sample))
        store.close()

        ceiling = max(_ceiling(settings, messages) for _ in range(2))
        before = sink.count()
        env = {**os.environ, "DIGEST_SECRET": SECRET}
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(config)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        e2e = json.loads(child.stdout)
        delivered = sink.count() - before
    finally:
        sink.close()
        shutil.rmtree(workdir, ignore_errors=True)
    rate = e2e["sent"] / e2e["seconds"]
    sizes = sorted(len(m.data) for m in messages)
    figures = {
        "when": datetime.now(UTC).isoformat(),
        "subscribers": count,
        "topics": TOPICS,
        "papers": len(papers),
        "messages": len(jobs),
        "connections": CONNECTIONS,
        "embedding": dict(EMBEDDING),
        "plan_s": planning,
        "ranking_s": ranking,
        "subscribers_per_s": count / ranking,
        "kits_s": kits,
        "render_mime_us_per_recipient": per_recipient * 1e6,
        "message_bytes_median": sizes[len(sizes) // 2] if sizes else 0,
        "ceiling_msgs_per_s": ceiling,
        "e2e_msgs_per_s": rate,
        "e2e_ratio": rate / ceiling,
        "e2e": e2e,
        "delivered_to_sink": delivered,
    }
    rows = [
        ["subscribers / topics / new papers", f"{count:,} / {TOPICS} / {len(papers):,}"],
        *(
            [
                [
                    f"at ingest: embed {EMBEDDING['papers']:,} papers (once)",
                    f"{EMBEDDING['papers_s']:.1f} s",
                ],
                [
                    "first ranking: embed the topics' keywords (once)",
                    f"{EMBEDDING['keywords_s']:.1f} s",
                ],
            ]
            if EMBEDDING
            else [["semantic signal", "off (words only)"]]
        ),
        ["plan: load the subscribers, apply the due rule", f"{planning:.2f} s"],
        [
            "ranking: 300 topics once, then every edition",
            f"{ranking:.2f} s ({count / ranking:,.0f} subscribers/s)",
        ],
        ["email parts rendered and inlined once", f"{kits:.2f} s"],
        ["rendering + MIME per recipient", f"{per_recipient * 1e6:.0f} µs"],
        ["median message size", f"{figures['message_bytes_median'] / 1024:.1f} KB"],
        ["ceiling: pre-built messages to the sink", f"{ceiling:,.0f} msg/s"],
        ["end to end: send_due", f"{rate:,.0f} msg/s ({rate / ceiling:.0%} of the ceiling)"],
        [
            "CPU of the sending process per message",
            f"{e2e['cpu_s'] / max(1, e2e['sent']) * 1e3:.2f} ms",
        ],
        ["peak memory of the sending process", f"{e2e['peak_rss_mb']:.0f} MB"],
    ]
    print(table(["what", "figure"], rows))
    print(
        f"\nsent {e2e['sent']} (sink counted {delivered}), retried {e2e['retried']}, "
        f"failed {e2e['failed']}. Targets: ranking for 100,000 subscribers < 5 s, rendering "
        f"+ MIME < 1 ms per recipient, end to end >= 70% of the ceiling, < 1 GB."
    )
    print(f"results: {save('deliver', figures)}")
    return figures
