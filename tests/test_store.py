"""The store: one record per paper, merged across sources and versions, on a real SQLite file."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import API_QUERY, HF_RAW, LISTING, RSS_ALL

from digest.models import Paper
from digest.sources import SOURCE_PRIORITY, arxiv_api, arxiv_rss, hf_daily, listing
from digest.store import Outcome, Store, ledger
from digest.store.database import HEAD, MIGRATIONS, REVISIONS, write_transaction
from digest.store.schema import paper_sources
from digest.subscribers import Subscription

T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def ingest(store: Store, source: str, kind: str, papers: list[Paper], now: datetime = T0):
    return store.ingest(source, SOURCE_PRIORITY[kind], papers, now)


@pytest.mark.realdata
def test_api_and_daily_papers_share_three_papers_so_give_52_records(store):
    api = arxiv_api.parse(API_QUERY.read_bytes()).papers
    hf = hf_daily.parse(HF_RAW.read_bytes()).papers
    shared = {p.id for p in api} & {p.id for p in hf}
    assert len(shared) == 3
    assert ingest(store, "api", "arxiv-api", api).new == 25
    counts = ingest(store, "hf", "hf-daily", hf, T0 + timedelta(hours=1))
    assert (counts.new, counts.updated) == (27, 3)
    assert len(store.papers()) == 52
    for paper_id in shared:
        merged = store.paper(paper_id)
        from_api = next(p for p in api if p.id == paper_id)
        from_hf = next(p for p in hf if p.id == paper_id)
        assert merged.sources == ("api", "hf")
        assert merged.categories == from_api.categories  # from arXiv
        assert merged.upvotes == from_hf.upvotes  # from Daily Papers
        assert merged.version == from_api.version
        assert merged.first_seen == T0
        if from_hf.links.get("code"):
            assert merged.links["code"] == from_hf.links["code"]


def test_trusted_source_wins_the_bibliographic_fields_whatever_the_order(store):
    hf = Paper(
        id="arxiv:2401.00001",
        title="A title from daily papers",
        abstract="short",
        upvotes=41,
        links={"code": "https://github.com/x/y"},
    )
    api = Paper(
        id="arxiv:2401.00001",
        title="The arXiv Title",
        abstract="The abstract.",
        authors=("A. Author",),
        categories=("cs.LG", "cs.AI"),
        version=1,
    )
    ingest(store, "hf", "hf-daily", [hf])
    ingest(store, "api", "arxiv-api", [api])
    merged = store.paper("arxiv:2401.00001")
    assert (merged.title, merged.upvotes, merged.links["code"]) == (
        "The arXiv Title",
        41,
        "https://github.com/x/y",
    )
    # and a later Daily Papers listing updates popularity without touching the title
    ingest(store, "hf", "hf-daily", [replace(hf, upvotes=80)], T0 + timedelta(days=1))
    merged = store.paper("arxiv:2401.00001")
    assert (merged.title, merged.upvotes, merged.categories) == (
        "The arXiv Title",
        80,
        ("cs.LG", "cs.AI"),
    )


def test_versions_are_one_record_and_a_replacement_is_an_update(store):
    v1 = Paper(
        id="arxiv:2401.00002",
        title="First",
        abstract="one",
        version=1,
        announce_type="new",
        published=T0,
    )
    assert ingest(store, "rss", "arxiv-rss", [v1]).new == 1
    v3 = replace(
        v1,
        title="First, revised",
        abstract="three",
        version=3,
        announce_type="replace",
        published=None,
        updated=T0 + timedelta(days=9),
    )
    counts = ingest(store, "rss", "arxiv-rss", [v3], T0 + timedelta(days=9))
    assert (counts.new, counts.updated) == (0, 1)
    stored = store.paper("arxiv:2401.00002")
    assert (stored.version, stored.title, stored.announce_type) == (3, "First, revised", "replace")
    assert stored.first_seen == T0 and stored.published == T0
    # an older version arriving late never rolls the record back
    ingest(store, "api", "arxiv-api", [replace(v1, title="Old title")], T0 + timedelta(days=10))
    assert store.paper("arxiv:2401.00002").version == 3


@pytest.mark.realdata
def test_fetching_the_same_listing_again_changes_nothing_stored_about_the_papers(store):
    papers = arxiv_rss.parse(RSS_ALL.read_bytes()).papers
    first = ingest(store, "all", "arxiv-rss", papers)
    assert (first.new, first.replacements) == (1504, 569)
    with store.engine.connect() as conn:
        before = [
            dict(r) for r in conn.execute(sa.text("SELECT * FROM papers ORDER BY id")).mappings()
        ]
    again = ingest(store, "all", "arxiv-rss", papers, T0 + timedelta(hours=2))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1504)
    with store.engine.connect() as conn:
        after = [
            dict(r) for r in conn.execute(sa.text("SELECT * FROM papers ORDER BY id")).mappings()
        ]
    assert len(before) == len(after) == 1504
    assert before == after
    assert all(p.last_seen == T0 + timedelta(hours=2) for p in store.papers(source="all"))


@pytest.mark.realdata
def test_pasted_listing_paper_folds_into_the_arxiv_record_of_the_same_title(store):
    pasted = listing.parse(LISTING.read_bytes()).papers
    ingest(store, "pasted", "listing", pasted)
    target = pasted[0]
    arxiv = Paper(
        id="arxiv:2104.00001",
        title=target.title.upper(),
        abstract=target.abstract,
        version=2,
        categories=("cs.CV",),
    )
    ingest(store, "rss", "arxiv-rss", [arxiv], T0 + timedelta(hours=1))
    assert len(store.papers()) == 68
    merged = store.paper("arxiv:2104.00001")
    assert merged.sources == ("pasted", "rss")
    assert merged.first_seen == T0
    assert merged.links["code"] == target.links["code"]
    assert store.paper(target.id) is None
    # pasting the page again adds nothing new: the paper is now known by its real id
    again = ingest(store, "pasted", "listing", pasted, T0 + timedelta(hours=2))
    assert again.new == 0 and len(store.papers()) == 68


@pytest.mark.realdata
def test_pasted_listing_after_the_arxiv_record_joins_it(store):
    arxiv = Paper(
        id="arxiv:2104.00002",
        title="Random Teachers are Good Teachers",
        abstract="arXiv abstract",
        version=1,
    )
    ingest(store, "rss", "arxiv-rss", [arxiv])
    pasted = listing.parse(LISTING.read_bytes()).papers
    counts = ingest(store, "pasted", "listing", pasted, T0 + timedelta(hours=1))
    assert counts.new == 67 and counts.updated + counts.unchanged == 1
    merged = store.paper("arxiv:2104.00002")
    assert merged.sources == ("rss", "pasted")
    assert merged.abstract == "arXiv abstract"


def test_every_source_and_first_sighting_is_remembered(store):
    paper = Paper(id="arxiv:2401.00003", title="Seen twice", version=1)
    ingest(store, "a", "arxiv-rss", [paper])
    ingest(store, "b", "hf-daily", [paper], T0 + timedelta(days=1))
    assert store.paper("arxiv:2401.00003").sources == ("a", "b")
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(paper_sources.c.source, paper_sources.c.first_seen)
            .where(paper_sources.c.paper_id == "arxiv:2401.00003")
            .order_by(paper_sources.c.source)
        ).all()
    assert [tuple(r) for r in rows] == [("a", T0), ("b", T0 + timedelta(days=1))]


def test_store_is_created_and_migrated_on_first_use(tmp_path):
    path = tmp_path / "nested" / "digest.db"
    with Store.open(f"sqlite:///{path}") as store:
        ingest(store, "a", "arxiv-rss", [Paper(id="arxiv:2401.00004", title="Kept")])
    assert path.exists()
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_current_head() == HEAD
    assert {s.revision for s in scripts.walk_revisions()} == REVISIONS
    with Store.open(f"sqlite:///{path}") as store:
        with store.engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert version == HEAD
        assert store.paper("arxiv:2401.00004").title == "Kept"


def test_untrusted_text_is_stored_as_given_through_bound_parameters(store):
    nasty = Paper(
        id="arxiv:2401.00005",
        title="x'); DROP TABLE papers; --",
        authors=("Robert'); DROP TABLE papers;--",),
    )
    ingest(store, "a", "arxiv-rss", [nasty])
    assert store.paper("arxiv:2401.00005").title == nasty.title
    assert len(store.papers()) == 1


def test_an_older_schema_is_migrated_without_losing_papers(tmp_path):
    from alembic import command
    from alembic.config import Config

    from digest.store.database import create_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    old = Store(engine)
    ingest(old, "a", "arxiv-rss", [Paper(id="arxiv:2401.00006", title="From before")])
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("editions")
    engine.dispose()
    with Store.open(url) as store:
        assert store.paper("arxiv:2401.00006").title == "From before"
        assert store.editions() == []


def test_the_ledgers_fast_path_writes_what_the_general_path_writes(store):
    from digest.store import Delivery, Outcome
    from digest.subscribers import Subscription

    ids = [
        store.add_subscriber(Subscription(f"r{i}@example.org", ("rl",)), status="active", now=T0)[
            0
        ].id
        for i in range(2)
    ]
    rows = [
        Delivery(
            i,
            "2026-11-27",
            "pending",
            0,
            None,
            f"m{i}",
            (("rl", "arxiv:1"),),
            T0,
            T0 + timedelta(hours=1),
            "me",
            T0 + timedelta(seconds=1.5),
        )
        for i in ids
    ]
    with write_transaction(store.engine) as conn:
        assert ledger.claim_edition(conn, rows[0])  # the general path
    writer = store.ledger_writer()
    assert writer.step(claim=rows[1])  # the fast path
    assert not writer.step(claim=rows[1])  # taken already
    done = T0 + timedelta(minutes=2, microseconds=7)
    with write_transaction(store.engine) as conn:
        ledger.settle(conn, Outcome(ids[0], "2026-11-27", "sent", done))
    writer.step(Outcome(ids[1], "2026-11-27", "sent", done))
    writer.close()
    first, second = store.deliveries()
    assert second == replace(first, subscriber_id=ids[1], message_id=f"m{ids[1]}")
    assert first.sent_at == done and first.papers == (("rl", "arxiv:1"),)


def _ledger_of(store: Store, subscribers: int, periods: int) -> None:
    """A ledger of ``periods`` daily editions for each of ``subscribers`` subscribers,
    in every status, out of order."""
    from digest.store import Delivery
    from digest.subscribers import Subscription

    statuses = ("sent", "pending", "retry", "failed", "bounced")
    writer = store.ledger_writer()
    for n in range(subscribers):
        sub, _ = store.add_subscriber(
            Subscription(f"r{n}@example.org", ("rl",)), status="active", now=T0
        )
        for day in sorted(range(periods), key=lambda d: (d * 7 + n) % periods):
            end = T0 + timedelta(days=day)
            status = statuses[(day + n) % len(statuses)]
            row = Delivery(sub.id, f"2026-12-{day + 1:02d}", "pending", 0, None, "m", (), end, end)
            assert writer.step(claim=row)
            if status != "pending":
                writer.step(Outcome(sub.id, row.period, status, end))
    writer.close()


def test_each_subscribers_last_window_end_is_read_through_the_index(store):
    _ledger_of(store, subscribers=12, periods=9)
    store.add_subscriber(Subscription("never@example.org", ("rl",)), status="active", now=T0)
    with store.engine.connect() as conn:
        reference = dict(
            conn.execute(
                sa.text(
                    "SELECT subscriber_id, max(window_end) FROM deliveries "
                    "WHERE status IN ('sent', 'pending', 'retry') GROUP BY subscriber_id"
                )
            ).all()
        )
        found = ledger.last_window_ends(conn)
        query = ledger.last_window_ends_query()
        sql = query.compile(conn, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "postgresql":
            # a table this small is read whole whatever the indexes: ask what it would use
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = [row[0] for row in conn.execute(sa.text(f"EXPLAIN {sql}"))]
        else:
            plan = [row[-1] for row in conn.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"))]
    assert len(found) == 12 and all(end.tzinfo is UTC for end in found.values())
    assert {sid: end.replace(tzinfo=None) for sid, end in found.items()} == {
        sid: _naive(end) for sid, end in reference.items()
    }
    assert any("ix_deliveries_window" in d for d in plan), plan
    assert not any(d.startswith("SCAN") and "deliveries" in d for d in plan), plan
    assert not any("Seq Scan on deliveries" in d for d in plan), plan
    shard = store.last_window_ends((3, 7))  # one shard of subscribers, by id range
    assert shard == {sid: end for sid, end in found.items() if 3 <= sid <= 7} and shard


def _naive(value: datetime | str) -> datetime:
    """A time as SQLite's text or PostgreSQL's timestamp gives it, as a naive datetime."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def test_old_ledger_rows_go_but_each_readers_latest_edition_stays(store):
    _ledger_of(store, subscribers=6, periods=9)
    before = {(d.subscriber_id, d.period): d for d in store.deliveries()}
    latest = store.last_window_ends()
    cutoff = T0 + timedelta(days=5)
    gone = store.prune_deliveries(cutoff, batch=4)  # in several batches
    after = {(d.subscriber_id, d.period) for d in store.deliveries()}
    kept = {
        key
        for key, row in before.items()
        if row.window_end >= cutoff
        or (row.status in ledger.OPEN_STATUSES and row.window_end == latest[key[0]])
    }
    assert after == kept and gone == len(before) - len(kept) > 0
    assert store.last_window_ends() == latest
    assert store.prune_deliveries(cutoff) == 0


def test_the_delivery_run_deletes_ledger_rows_past_the_retention(tmp_path, open_store):
    from conftest import sample_config

    from digest.deliver import send_due

    settings = sample_config(tmp_path, mail={"retention_days": 32})
    store = open_store(settings)
    _ledger_of(store, subscribers=3, periods=9)
    latest = store.last_window_ends()
    now = T0 + timedelta(days=60)
    send_due(settings, store, now=now, sleep=lambda s: None)
    rows = store.deliveries()
    assert {
        (d.subscriber_id, d.window_end) for d in rows if d.window_end < now - timedelta(days=32)
    } == set(latest.items())


def test_a_retention_shorter_than_a_catch_up_window_is_refused(tmp_path):
    from pydantic import ValidationError

    from digest.config import MailSettings

    with pytest.raises(ValidationError, match="at least 32 days"):
        MailSettings(retention_days=7)
    assert MailSettings(retention_days=0).retention_days == 0


def test_a_postgresql_server_that_does_not_answer_is_one_line():
    from digest.errors import StoreError

    with pytest.raises(StoreError) as caught:
        Store.open("postgresql+psycopg://postgres@127.0.0.1:1/digest")
    message = str(caught.value)
    assert "\n" not in message and "check that the database server runs" in message


def test_an_outcome_and_a_lost_claim_in_one_step_record_the_outcome(store):
    """The common step (the last message's outcome and the next claim in one statement):
    a claim another sender holds is lost, the outcome is written all the same."""
    from digest.store import Delivery

    subs = [
        store.add_subscriber(Subscription(f"s{i}@example.org", ("rl",)), status="active", now=T0)
        for i in range(2)
    ]
    rows = [
        Delivery(s.id, "2026-11-27", "pending", 0, None, f"m{s.id}", (), T0, T0, "me", T0)
        for s, _ in subs
    ]
    mine, theirs = store.ledger_writer(), store.ledger_writer()
    try:
        assert mine.step(claim=rows[0]) and theirs.step(claim=rows[1])
        assert not mine.step(Outcome(rows[0].subscriber_id, "2026-11-27", "sent", T0), rows[1])
        assert mine.step(Outcome(rows[1].subscriber_id, "2026-11-27", "retry", T0))
    finally:
        mine.close()
        theirs.close()
    assert [(d.status, d.attempts) for d in store.deliveries()] == [("sent", 1), ("retry", 1)]
