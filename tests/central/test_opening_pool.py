"""The reports' one opening stage (central/reports/opening_pool.py): every sealed person,
a lane's registration or a paper card, is opened, counted or shown as not opened before
the fold, the same way in the report's process and in its workers; the fold opens none."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.reports import opening_pool
from central.reports.opening import SEALED, UNOPENED, NeedsKey, Opener, Persons
from central.reports.projection import TypedCard, project
from central.store.event_store import FormData
from contract.events import (
    Event,
    Person,
    SampleRegistered,
    SampleRegisteredEncrypted,
    SampleRegisteredEncryptedEvent,
    SampleRegisteredEvent,
    TubeOpened,
    TubeOpenedEvent,
)
from contract.sealed import keygen, read_keys
from station.sealing import Sealer
from tests.central_keys import key_pair
from tests.lane_days import person
from tests.system.test_layering import import_graph

TS = "2026-12-04T00:00:00.000Z"


def sealer(public: Path | None = None) -> Sealer:
    return Sealer(read_keys(public or key_pair()[1], private=False)[0])


def registration(seq: int, to: Sealer) -> SampleRegisteredEncryptedEvent:
    event_id = f"e{seq}"
    shell = SampleRegistered("T1", seq, "card", Person("other", "", "", "unknown", ""), False)
    return SampleRegisteredEncryptedEvent(
        v=1, id=event_id, site="s", station="l", seq=seq, session=1, ts=TS,
        clock_synced=True,
        data=SampleRegisteredEncrypted.of(shell, to.seal(event_id, person(seq))))


def a_day(other: Sealer) -> list[Event]:
    """A tube opened, then four registrations: the third sealed to another central."""
    opened = TubeOpenedEvent(v=1, id="e0", site="s", station="l", seq=0, session=1, ts=TS,
                             clock_synced=True, data=TubeOpened("T1", 10))
    ours = sealer()
    return [opened, *(registration(n, other if n == 3 else ours) for n in (1, 2, 3, 4))]


@pytest.fixture
def other(tmp_path: Path) -> Sealer:
    return sealer(keygen(tmp_path, "another-central")[1])


@pytest.mark.parametrize("in_workers", [False, True])
def test_no_sealed_registration_leaves_the_stage(
        in_workers: bool, other: Sealer, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the report's process or in a worker: every registration comes out plain, in
    order, its person opened or shown as not opened, the reason kept once."""
    if in_workers:
        monkeypatch.setattr(opening_pool, "FIRST_IN_PROCESS", 0)
        monkeypatch.setattr(opening_pool, "WHILE_WORKERS_START", False)
    events = a_day(other)
    persons = Persons(Opener([key_pair()[0]]), needed=True)
    out = list(opening_pool.opened(events, persons, count=1))
    assert [e.id for e in out] == [e.id for e in events]
    assert not any(isinstance(e, SampleRegisteredEncryptedEvent) for e in out)
    people = [e.data.person for e in out if isinstance(e, SampleRegisteredEvent)]
    assert people == [person(1), person(2), UNOPENED, person(4)]
    assert persons.errors == [] and persons.not_held == {"another-central": 1}
    assert persons.first_not_held["another-central"].startswith(
        "s/l seq 3 (event e3): sealed to key 'another-central'")


def test_a_report_that_counts_opens_none_and_one_that_prints_people_needs_the_key(
        other: Sealer) -> None:
    counted = list(opening_pool.opened(a_day(other), Persons(), count=1))
    assert [e.data.person for e in counted if isinstance(e, SampleRegisteredEvent)] == \
        [SEALED] * 4
    with pytest.raises(NeedsKey, match="the registrations' persons are sealed"):
        list(opening_pool.opened(a_day(other), Persons(needed=True), count=1))


def test_a_paper_card_that_will_not_open_is_shown_and_named_as_a_registration_is(
        other: Sealer) -> None:
    """One fallback for both: the same placeholder, the same reason, named by its card."""
    persons = Persons(Opener([key_pair()[0]]), needed=True)
    cards = {"FORM-1": FormData("", "", "", sealer().seal("FORM-1", person(5))),
             "FORM-2": FormData("", "", "", other.seal("FORM-2", person(6))),
             "FORM-3": FormData(person(7).id_number, "手录", "resident", "")}   # plain
    day = opening_pool.unsealed([registration(3, other)], cards, persons, count=0)
    (plain,) = day.events
    assert isinstance(plain, SampleRegisteredEvent) and plain.data.person == UNOPENED
    assert day.forms == {
        "FORM-1": TypedCard(person(5).id_number, person(5).name, person(5).id_type,
                            person(5).phone),
        "FORM-2": TypedCard(UNOPENED.id_number, UNOPENED.name, "other"),
        "FORM-3": TypedCard(person(7).id_number, "手录", "resident")}
    # One reason for both, counted together; the cards first: opened before the events.
    assert persons.not_held == {"another-central": 2} and persons.errors == []
    assert persons.first_not_held["another-central"].startswith(
        "paper card FORM-2: sealed to key 'another-central'")
    assert Persons().forms(cards)["FORM-2"] == TypedCard(SEALED.id_number, SEALED.name, "other")
    with pytest.raises(NeedsKey, match="the paper cards' persons are sealed"):
        Persons(needed=True).forms(cards)


def test_the_fold_refuses_a_sealed_registration() -> None:
    """A report that skipped the stage fails loudly: never a row passed over in silence."""
    with pytest.raises(TypeError, match="e1: a sealed registration reached the fold"):
        project([registration(1, sealer())])


def test_the_projection_reaches_no_opening_code() -> None:
    """Nothing the projection imports, however far, opens a person (lazy imports count)."""
    graph = import_graph()
    reached: set[str] = set()
    todo = ["central.reports.projection"]
    while todo:
        for module in graph.get(todo.pop(), set()) - reached:
            reached.add(module)
            todo.append(module)
    assert "central.reports.projection" in graph
    assert sorted(m for m in reached if m.startswith("central.reports.")) == []
    assert [m for m in reached if "jwe" in m or "sealed" in m] == []
