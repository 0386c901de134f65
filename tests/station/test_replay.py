"""The replay reply says what became of every seq asked for."""

from __future__ import annotations

import json
import logging

import pytest

from central.ingest.replays import ReplayAsker
from station import replay


def test_a_range_far_beyond_the_last_seq_says_what_was_not_recorded_and_cut() -> None:
    request = replay.parse(b'{"from_seq": 1, "to_seq": 999999, "request_id": "r-1"}')
    reply = replay.answer(request, republished=18, last_seq=18)
    assert reply == {"v": 1, "request_id": "r-1", "from_seq": 1, "to_seq": 999999,
                     "served_to": 10_000, "limit": 10_000, "republished": 18, "purged": 0,
                     "not_recorded": 9_982, "cut_from": 10_001}


def test_seqs_gone_after_the_retention_are_counted_as_purged() -> None:
    reply = replay.answer(replay.ReplayRequest(1, 10), republished=4, last_seq=10)
    assert (reply["republished"], reply["purged"], reply["not_recorded"],
            reply["cut_from"]) == (4, 6, 0, None)


def test_every_seq_asked_for_is_accounted_for_once() -> None:
    for first, last, held, last_seq in [(1, 5, 5, 5), (3, 20_000, 100, 150),
                                        (500, 600, 0, 10), (7, 7, 0, 7)]:
        request = replay.ReplayRequest(first, last)
        reply = replay.answer(request, held, last_seq)
        served = reply["served_to"] - first + 1
        assert reply["republished"] + reply["purged"] + reply["not_recorded"] == served
        assert min(reply["purged"], reply["not_recorded"]) >= 0
        assert (reply["cut_from"] is None) == (last < first + replay.LIMIT)


@pytest.mark.parametrize(("payload", "request_id"), [
    (b'{"from_seq": 5, "to_seq": 2, "request_id": "r-9"}', "r-9"),
    (b"not json", ""), (b'{"request_id": 7}', "")])
def test_a_malformed_command_is_refused_with_its_request_id(payload: bytes,
                                                           request_id: str) -> None:
    with pytest.raises(ValueError) as caught:
        replay.parse(payload)
    refusal = replay.refusal(str(caught.value), replay.request_id_of(payload))
    assert refusal["request_id"] == request_id and refusal["error"].startswith("malformed: ")


def test_the_asker_follows_a_cut_reply_and_ignores_other_collectors_replies(
        caplog: pytest.LogCaptureFixture) -> None:
    asker = ReplayAsker(grace_s=1.0, retry_s=30.0)
    gaps = [("s", "l", 2, 25_000)]
    assert asker.check(gaps, now=0.0) == []                 # within the grace period
    (command,) = asker.check(gaps, now=1.5)
    assert command.topic == "natest/v1/s/l/cmd/replay"
    asked = json.loads(command.payload)
    station_reply = replay.answer(replay.parse(command.payload.encode()), 9_000, 30_000)
    assert asker.replied("s", "l", {**station_reply, "request_id": "someone-else"}) == []
    (rest,) = asker.replied("s", "l", station_reply)
    assert json.loads(rest.payload)["from_seq"] == 10_002 == station_reply["cut_from"]
    assert json.loads(rest.payload)["to_seq"] == asked["to_seq"] == 25_000
    assert asker.purged_total == 1_000                       # 10,000 covered, 9,000 held
    assert "lost for good" in caplog.text
    assert asker.replied("s", "l", station_reply) == []      # answered once only
    assert asker.check(gaps, now=2.0) == []                  # not again before retry_s


def test_the_asker_says_a_gap_once_while_it_fills_and_once_when_it_closes(
        caplog: pytest.LogCaptureFixture) -> None:
    """Seq 1-10 missing; 1-5 arrive (the gap moves on to 6: the same gap), the rest
    arrive (closed); then 20-25 missing, and before it fills 30-31 (a new gap: the first
    is closed, the second said anew) (#42)."""
    caplog.set_level(logging.DEBUG, logger="central.replays")
    asker = ReplayAsker(grace_s=1.0, retry_s=5.0)
    for gaps, now in [([("s", "l", 1, 10)], 0.0), ([("s", "l", 1, 10)], 1.0),
                      ([("s", "l", 6, 10)], 2.0), ([("s", "l", 6, 10)], 3.0),
                      ([("s", "l", 6, 10)], 8.0), ([], 9.0), ([], 10.0),
                      ([("s", "l", 20, 25)], 20.0), ([("s", "l", 20, 25)], 21.0),
                      ([("s", "l", 30, 31)], 30.0), ([("s", "l", 30, 31)], 31.0),
                      ([("s", "l", 30, 31), ("s", "m", 4, 4)], 40.0)]:
        asker.check(gaps, now)
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert said == [
        ("WARNING", "s/l: seq 1–10 missing, asking for a replay"),
        ("DEBUG", "s/l: seq 6–10 still missing, asking again"),
        ("DEBUG", "s/l: seq 6–10 still missing, asking again"),
        ("INFO", "s/l: seq 1–10 now stored: the gap closed after 8 s (asked 3 times)"),
        ("WARNING", "s/l: seq 20–25 missing, asking for a replay"),
        ("INFO", "s/l: seq 20–25 now stored: the gap closed after 9 s (asked 1 time)"),
        ("WARNING", "s/l: seq 30–31 missing, asking for a replay"),
        ("DEBUG", "s/l: seq 30–31 still missing, asking again")]
