"""The kiosk page, shown by Debian's real Chromium against a running station."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.core.messages import DeviceFaulted, DeviceRecovered
from station.runner import Station
from tests.browser import Browser
from tests.conftest import eventually, in_process, write_config
from tests.people import LI, WANG, ZHANG, id_number
from tools.broker import free_port

NAMED = json.dumps({"id": ZHANG, "name": "张三丰"}, ensure_ascii=False)


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}", pool_size=10)
    text = config.read_text().replace('listen = ""', f'listen = "127.0.0.1:{free_port()}"')
    config.write_text(text)
    with in_process(config) as running:
        yield running


def url(station: Station, path: str = "") -> str:
    assert station.screen is not None
    return station.screen.url + path


def text_of(browser: Browser, element: str) -> str:
    value: str = browser.evaluate(f"document.getElementById({element!r}).innerText")
    return value


def test_a_pooled_session_drives_the_page_live(station: Station, tmp_path: Path) -> None:
    sim = station.devices.scanner_sim
    assert sim is not None
    for code in ("T000001", NAMED, LI):
        sim.scan(code)
    assert eventually(lambda: station.accepted == 3)
    with Browser() as browser:
        browser.open(url(station))
        assert browser.wait_for("document.body.dataset.seq === '3'")
        assert text_of(browser, "tube-id") == "试管 T000001"
        assert text_of(browser, "count").replace(" ", "") == "2/10"
        positions = browser.evaluate(
            "[...document.querySelectorAll('#positions li')].map(li => li.innerText)")
        assert positions[:2] == ["1. 张*丰 1101**********0011", "2. - 1101**********002X"]
        assert len(positions) == 10 and positions[2] == "3."
        assert text_of(browser, "last").startswith("已登记 第2位")
        # Live: the next scans reach the open page without a reload.
        sim.scan(NAMED)                                   # refused: already in this tube
        assert browser.wait_for("document.getElementById('last').className === 'refused'")
        assert text_of(browser, "last").startswith("此人已在本管")
        assert text_of(browser, "count").replace(" ", "") == "2/10"
        sim.scan(WANG)
        assert browser.wait_for("document.body.dataset.seq === '4'")
        assert text_of(browser, "count").replace(" ", "") == "3/10"
        station.events.put(DeviceFaulted("voice", "no sound card"))
        assert browser.wait_for("document.getElementById('faults').innerText !== ''")
        assert "语音故障" in text_of(browser, "faults")
        assert browser.evaluate(
            "document.querySelector('#devices [data-part=voice]').className") == "fault"
        assert text_of(browser, "link").startswith("离线")   # no broker in this test
        page = text_of(browser, "positions") + browser.evaluate("document.body.innerText")
        for secret in ("张三丰", ZHANG, LI, WANG):
            assert secret not in page, "a bystander must not read a full name or number"
        shot = tmp_path / "kiosk.png"
        browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    station.events.put(DeviceRecovered("voice"))
    assert eventually(lambda: station.view()["faults"] == [])


def test_the_state_api_shows_the_same_and_nothing_changes_state(station: Station) -> None:
    sim = station.devices.scanner_sim
    assert sim is not None
    sim.scan("T000001")
    sim.scan(NAMED)
    assert eventually(lambda: station.accepted == 2)
    with urllib.request.urlopen(url(station, "api/state"), timeout=5) as reply:
        state = json.load(reply)
    assert state["tube"] == {"id": "T000001", "count": 1,
                             "positions": ["张*丰 1101**********0011"]}
    assert state["last"]["cue"] == "accepted" and state["last"]["line"] == "已登记 第1位"
    assert state["devices"]["storage"] == "ok" and state["pool_size"] == 10
    assert "张三丰" not in json.dumps(state, ensure_ascii=False)
    for method in ("POST", "PUT", "DELETE"):
        request = urllib.request.Request(url(station, "api/state"), data=b"{}", method=method)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 405
    assert station.accepted == 2 and station.state.tube is not None
    assert station.screen is not None
    assert station.screen.server.server_address[0] == "127.0.0.1"


# What the operator reads to confirm the right person is the mask's last characters.
CUT = ("[...document.querySelectorAll('#positions li')]"
       ".filter(li => li.scrollWidth > li.clientWidth).map(li => li.innerText)")


@pytest.mark.parametrize("size", [(800, 480), (1024, 600)])
def test_every_entry_of_a_full_tube_is_shown_whole_on_a_kiosk_screen(
        tmp_path: Path, size: tuple[int, int]) -> None:
    """A 20混1 tube one short of full, people with three-character names: each entry is
    the longest the list shows (`19. 张*丰 1101**********0011`, two-digit count beside it),
    and none is cut at either common kiosk size (#42)."""
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}", pool_size=20)
    config.write_text(config.read_text().replace('listen = ""',
                                                 f'listen = "127.0.0.1:{free_port()}"'))
    names = ("张三丰", "赵六六", "陈大文")
    people = [id_number(seq=11 + 2 * n) for n in range(19)]   # the 20th would seal it
    with in_process(config) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        sim.scan("T000001")
        for n, number in enumerate(people):
            sim.scan(json.dumps({"id": number, "name": names[n % 3]}, ensure_ascii=False))
        assert eventually(lambda: station.accepted == 20)
        with Browser(*size) as browser:
            browser.open(url(station))
            assert browser.wait_for("document.body.dataset.seq === '20'")
            shown = browser.evaluate(
                "[...document.querySelectorAll('#positions li')].map(li => li.innerText)")
            assert len(shown) == 20 and shown[18] == f"19. 张*丰 {people[18][:4]}" \
                f"{'*' * 10}{people[18][-4:]}", shown
            assert browser.evaluate(CUT) == [], f"cut at {size}"
            assert browser.evaluate("innerWidth") == size[0]   # the whole screen, as a kiosk
