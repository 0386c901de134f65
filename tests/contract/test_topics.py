"""Topics are built and read in one place (contract): what is built reads back the same,
and what is not a station's topic reads as None."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import contract
from contract import Topic, parse_topic

NAME = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,15}", fullmatch=True)


@given(NAME, NAME, NAME)
def test_every_topic_built_reads_back(site: str, station: str, name: str) -> None:
    assert parse_topic(contract.event_topic(site, station, name)) == Topic(
        site, station, "events", name)
    assert parse_topic(contract.status_topic(site, station)) == Topic(
        site, station, "status", "")
    assert parse_topic(contract.cmd_topic(site, station, name)) == Topic(
        site, station, "cmd", name)
    assert parse_topic(contract.reply_topic(site, station, name)) == Topic(
        site, station, "reply", name)
    assert contract.replay_topic(site, station) == contract.cmd_topic(site, station, "replay")


@pytest.mark.parametrize("topic", [
    "natest/v2/s/l/events/tube.opened",          # another version
    "natest/v1/s/l/events",                      # no type
    "natest/v1/s/l/events/",                     # an empty type
    "natest/v1/s/l/events/a/b",                  # too deep
    "natest/v1/s/l/status/x",                    # a status has no name
    "natest/v1/s/l/other/x",                     # not a kind of the contract
    "natest/v1/central/city/state/c1",           # central's own, not a station's
    "elsewhere/v1/s/l/status", "natest/v1", ""])
def test_what_is_not_a_station_topic_reads_as_none(topic: str) -> None:
    assert parse_topic(topic) is None


def test_filters_for_every_station() -> None:
    assert contract.every_station("reply", "replay") == "natest/v1/+/+/reply/replay"
    assert contract.every_station("status") == "natest/v1/+/+/status"
    assert contract.every_station("events") == "natest/v1/+/+/events/+"


def test_a_collector_state_topic_reads_back_and_nothing_else_does() -> None:
    topic = contract.central_state_topic("city", "natest-collector-city-1")
    assert contract.parse_central_state(topic) == ("city", "natest-collector-city-1")
    assert parse_topic(topic) is None                        # not a station's topic
    for other in ("natest/v1/central/city/state", "natest/v1/s/l/status",
                  "natest/v2/central/city/state/c1", "natest/v1/central//state/c1"):
        assert contract.parse_central_state(other) is None, other
