"""Source adapters: one per kind of listing, each turning a source into ``Paper`` records."""

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

__all__ = ["ADAPTERS", "Adapter", "FetchContext", "FetchResult", "Listing"]
