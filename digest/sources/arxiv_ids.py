"""A file of arXiv ids or abs/pdf URLs, one per line, looked up through the arXiv API.

Blank lines and lines starting with ``#`` are ignored. A line that holds no arXiv id is
named in the result's note and skipped; the others are still looked up.
"""

from __future__ import annotations

from digest.errors import ParseError
from digest.ids import ArxivId, parse_arxiv_id
from digest.limits import Budget
from digest.models import Paper
from digest.sources.arxiv_api import parse_page, with_params
from digest.sources.base import (
    FetchContext,
    FetchResult,
    SourceSpec,
    content_hash,
    decode_text,
    get_document,
    unchanged_result,
)

BATCH = 100


def parse_id_list(data: bytes) -> tuple[list[ArxivId], list[str]]:
    """The ids in the file, in order and without repeats, and the lines that are not ids."""
    text = decode_text(data, "the id list")
    ids: dict[str, ArxivId] = {}
    bad: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = parse_arxiv_id(line.split()[0])
        if found is None:
            bad.append(f"line {number}: {line[:60]!r} is not an arXiv id")
        else:
            ids.setdefault(found.id, found)
    return list(ids.values()), bad


class ArxivIdsAdapter:
    kind = "arxiv-ids"
    priority = 50
    summary = "a file of arXiv ids or abs/pdf URLs, one per line, looked up through the API"

    def fetch(self, source: SourceSpec, ctx: FetchContext) -> FetchResult:
        response = get_document(source, ctx)
        unchanged = unchanged_result(response, ctx.state)
        if unchanged is not None:
            return unchanged
        ids, bad = parse_id_list(response.content)
        if not ids and bad:
            raise ParseError(f"no arXiv ids in the list ({bad[0]})")
        papers: list[Paper] = []
        requests = 1
        budget = Budget(ctx.settings.max_bytes, f"the answers to {source.api_url}")
        budget.spend(len(response.content))
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            id_list = ",".join(f"{a.id}v{a.version}" if a.version else a.id for a in batch)
            url = with_params(source.api_url, id_list=id_list, max_results=len(batch))
            answer = ctx.http.get(
                url, min_interval=ctx.settings.arxiv_api_interval, max_bytes=budget.left
            )
            budget.spend(len(answer.content))
            page = parse_page(answer.content)
            requests += 1
            papers.extend(page.papers)
        found = {p.id for p in papers}
        missing = [a.id for a in ids if a.key not in found]
        notes = bad[:3] + ([f"not found on arXiv: {', '.join(missing[:5])}"] if missing else [])
        if len(bad) > 3:
            notes.append(f"and {len(bad) - 3} more lines that are not ids")
        return FetchResult(
            papers=papers,
            note="; ".join(notes) or None,
            content_hash=content_hash(response.content),
            requests=requests,
        )
