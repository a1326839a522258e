"""Emails assembled from a period's shared parts equal the emails rendered one by one."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import GOLDEN, SAMPLE_DAY, SAMPLE_NOW, fetched_store, load_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.compose import Edition, compose
from digest.config import TopicSettings
from digest.periods import parse_period
from digest.render import Renderer


@pytest.fixture(scope="module")
def superset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kit")
    case = load_case(GOLDEN / "sample-rl", tmp)
    topics = [
        case.topics[0].model_copy(update={"max_items": 8}),
        TopicSettings(
            slug="nlp", name="Language & <models>", keywords=["language model", "LLM"], max_items=8
        ),
        TopicSettings(slug="vision", name="Vision", keywords=["image", "video", "3D"], max_items=8),
    ]
    settings = case.model_copy(update={"topics": topics})
    store = fetched_store(settings)
    composition = compose(settings, store, parse_period(SAMPLE_DAY, "UTC"), topics, SAMPLE_NOW)
    store.close()
    editions = composition.editions()
    sections = tuple(e.sections[0] for e in editions)
    edition = Edition(editions[0].period, sections, editions[0].arrived, SAMPLE_NOW)
    renderer = Renderer(settings)
    return renderer, edition, renderer.kit(edition)


@st.composite
def sub_editions(draw, superset: Edition):
    chosen = draw(
        st.lists(
            st.sampled_from(range(len(superset.sections))), min_size=0, max_size=3, unique=True
        )
    )
    sections = []
    for index in chosen:
        section = superset.sections[index]
        keep = draw(
            st.lists(
                st.sampled_from(range(len(section.highlights))),
                min_size=1,
                max_size=len(section.highlights),
                unique=True,
            )
        )
        sections.append(
            replace(
                section,
                highlights=tuple(section.highlights[i] for i in keep),
                more_relevant=draw(st.integers(0, 40)),
            )
        )
    arrived = draw(st.integers(0, 3000))
    return Edition(superset.period, tuple(sections), arrived, superset.built_at)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_assembled_email_equals_the_rendered_one(superset, data):
    renderer, edition, kit = superset
    sub = data.draw(sub_editions(edition))
    assert kit.covers(sub) or not sub.sections or not all(s.highlights for s in sub.sections)
    assembled = kit.assemble(sub)
    rendered = renderer.email(sub)
    assert assembled.subject == rendered.subject
    assert assembled.preheader == rendered.preheader
    assert assembled.text == rendered.text
    assert assembled.html == rendered.html


def test_kit_refuses_what_it_does_not_hold(superset):
    renderer, edition, kit = superset
    other = replace(
        edition.sections[0],
        topic=edition.sections[0].topic.model_copy(update={"slug": "elsewhere"}),
    )
    assert not kit.covers(replace(edition, sections=(other,)))
    assert kit.covers(edition)
