"""Ranking: for each topic, score the candidate papers and pick a diverse top N."""

from digest.rank.index import Corpus
from digest.rank.scorer import Pick, TopicRanking, rank_topic

__all__ = ["Corpus", "Pick", "TopicRanking", "rank_topic"]
