"""Source adapters: one per kind of listing, each turning a source into ``Paper`` records.

The registry below is the one list of kinds: the names a ``[[sources]]`` table may give,
and the priority each kind has when several sources describe the same paper, both come
from the adapter classes. A new kind is one module plus one line here.
"""

from __future__ import annotations

from digest.sources.arxiv_api import ArxivApiAdapter
from digest.sources.arxiv_ids import ArxivIdsAdapter
from digest.sources.arxiv_rss import ArxivRssAdapter
from digest.sources.base import Adapter, FetchContext, FetchResult, Listing
from digest.sources.feed import FeedAdapter
from digest.sources.hf_daily import HfDailyAdapter
from digest.sources.listing import ListingAdapter

ADAPTERS: dict[str, Adapter] = {
    adapter.kind: adapter
    for adapter in (
        ArxivRssAdapter(),
        ArxivApiAdapter(),
        HfDailyAdapter(),
        FeedAdapter(),
        ListingAdapter(),
        ArxivIdsAdapter(),
    )
}

#: The kinds a ``[[sources]]`` table may name, in the registry's order.
SOURCE_KINDS: tuple[str, ...] = tuple(ADAPTERS)

#: How much each kind of source is trusted for a paper's bibliographic fields (title,
#: abstract, authors, categories). arXiv itself wins; a pasted listing page trusts least.
SOURCE_PRIORITY: dict[str, int] = {kind: adapter.priority for kind, adapter in ADAPTERS.items()}

__all__ = [
    "ADAPTERS",
    "SOURCE_KINDS",
    "SOURCE_PRIORITY",
    "Adapter",
    "FetchContext",
    "FetchResult",
    "Listing",
]
