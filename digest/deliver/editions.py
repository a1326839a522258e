"""Personal editions now live in ``digest.compose.personal``; this name is kept for old imports."""

from digest.compose.personal import (  # noqa: F401
    SharedRankings,
    _edition_by_paper,
    personal_edition,
    stored_edition,
    superset_of,
)
