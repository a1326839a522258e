"""The topics of the ranking-quality benchmark, fixed before any ranker was scored.

Written the way a reader fills in a new digest topic: six keywords or phrases for a
field, or "more like these" seed papers. Each topic stands for one arXiv category; a
paper is relevant when that category is among its real categories, which no ranker
sees. These lists are not to be edited after results have been seen: a topic changed
to suit a ranker would make the benchmark flatter it.

Seed papers are not written by hand: for each seed topic they are the first five papers
(by id) whose primary category is the topic's, walking the development days in date
order (``data.choose_seeds``).
"""

from __future__ import annotations

from dataclasses import dataclass

CS = "daily-arXiv-ai-enhanced_cs"
ASTRO = "daily-arXiv-astro-ph"
PARTS = {CS: "cs", ASTRO: "astro-ph"}


@dataclass(frozen=True)
class KeywordTopic:
    part: str
    category: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class SeedTopic:
    part: str
    category: str


KEYWORD_TOPICS = [
    KeywordTopic(
        CS,
        "cs.CV",
        (
            "image segmentation",
            "object detection",
            "video understanding",
            "3D reconstruction",
            "visual recognition",
            "image generation",
        ),
    ),
    KeywordTopic(
        CS,
        "cs.CL",
        (
            "language model",
            "machine translation",
            "question answering",
            "text classification",
            "natural language",
            "tokenization",
        ),
    ),
    KeywordTopic(
        CS,
        "cs.AI",
        (
            "reasoning",
            "planning",
            "knowledge representation",
            "autonomous agents",
            "decision making",
            "explainable AI",
        ),
    ),
    KeywordTopic(
        CS,
        "cs.LG",
        (
            "deep learning",
            "neural network training",
            "generalization",
            "optimization",
            "representation learning",
            "reinforcement learning",
        ),
    ),
    KeywordTopic(
        CS,
        "cs.IT",
        (
            "channel capacity",
            "coding theory",
            "MIMO",
            "information theoretic",
            "error-correcting codes",
            "wireless communication",
        ),
    ),
    KeywordTopic(
        CS,
        "cs.RO",
        (
            "robot",
            "manipulation",
            "grasping",
            "locomotion",
            "motion planning",
            "autonomous driving",
        ),
    ),
    KeywordTopic(
        CS,
        "cs.GR",
        (
            "rendering",
            "mesh",
            "gaussian splatting",
            "animation",
            "computer graphics",
            "neural radiance fields",
        ),
    ),
    KeywordTopic(
        CS,
        "eess.IV",
        (
            "medical imaging",
            "image restoration",
            "MRI",
            "compression",
            "super-resolution",
            "denoising",
        ),
    ),
    KeywordTopic(
        CS,
        "cs.HC",
        (
            "user study",
            "human-computer interaction",
            "interface",
            "participants",
            "usability",
            "interactive",
        ),
    ),
    KeywordTopic(
        CS,
        "cs.IR",
        (
            "recommendation",
            "retrieval",
            "search engine",
            "ranking",
            "recommender system",
            "collaborative filtering",
        ),
    ),
    KeywordTopic(
        CS, "cs.CY", ("society", "ethics", "education", "policy", "fairness", "social impact")
    ),
    KeywordTopic(
        CS,
        "cs.MA",
        (
            "multi-agent",
            "agent cooperation",
            "multi-agent reinforcement learning",
            "coordination",
            "negotiation",
            "agent communication",
        ),
    ),
    KeywordTopic(
        CS, "cs.SD", ("speech", "audio", "music", "speaker", "sound", "speech recognition")
    ),
    KeywordTopic(
        CS, "cs.CR", ("security", "privacy", "attack", "adversarial", "jailbreak", "malware")
    ),
    KeywordTopic(
        CS,
        "cs.GT",
        ("game theory", "equilibrium", "mechanism design", "auction", "strategic", "incentive"),
    ),
    KeywordTopic(
        ASTRO,
        "astro-ph.GA",
        (
            "galaxy",
            "galaxies",
            "star formation",
            "interstellar medium",
            "Milky Way",
            "dark matter halo",
        ),
    ),
    KeywordTopic(
        ASTRO,
        "astro-ph.CO",
        (
            "cosmology",
            "cosmic microwave background",
            "dark energy",
            "large-scale structure",
            "Hubble constant",
            "inflation",
        ),
    ),
    KeywordTopic(
        ASTRO,
        "astro-ph.IM",
        ("telescope", "instrument", "detector", "survey", "data pipeline", "calibration"),
    ),
    KeywordTopic(
        ASTRO,
        "astro-ph.HE",
        ("gamma-ray", "X-ray", "neutron star", "black hole accretion", "cosmic rays", "jets"),
    ),
    KeywordTopic(
        ASTRO,
        "astro-ph.SR",
        ("stellar", "stars", "solar", "asteroseismology", "binary stars", "stellar evolution"),
    ),
    KeywordTopic(
        ASTRO,
        "gr-qc",
        (
            "gravitational waves",
            "general relativity",
            "black hole",
            "spacetime",
            "modified gravity",
            "LIGO",
        ),
    ),
    KeywordTopic(
        ASTRO,
        "astro-ph.EP",
        (
            "exoplanet",
            "planet formation",
            "protoplanetary disk",
            "atmosphere",
            "transit",
            "asteroid",
        ),
    ),
    KeywordTopic(
        ASTRO,
        "hep-ph",
        (
            "particle physics",
            "dark matter candidate",
            "neutrino",
            "standard model",
            "collider",
            "axion",
        ),
    ),
    KeywordTopic(
        ASTRO,
        "hep-th",
        (
            "string theory",
            "holography",
            "AdS/CFT",
            "quantum field theory",
            "supersymmetry",
            "conformal field theory",
        ),
    ),
]

SEED_TOPICS = [
    SeedTopic(CS, category)
    for category in ("cs.CV", "cs.CL", "cs.AI", "cs.LG", "eess.IV", "cs.RO", "cs.GR", "cs.IR")
] + [
    SeedTopic(ASTRO, category)
    for category in (
        "astro-ph.GA",
        "astro-ph.CO",
        "astro-ph.IM",
        "astro-ph.HE",
        "astro-ph.SR",
        "astro-ph.EP",
        "gr-qc",
    )
]
