"""No full name, ID number, phone or address in what a bystander can see: the demo's
printout and logs."""

import json
import logging

import pytest

from tools import demo
from tools.broker import LocalBroker


def test_demo_shows_only_masked_people(broker: LocalBroker, capsys: pytest.CaptureFixture[str],
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert demo.main(broker.url) == 0
    shown = capsys.readouterr().out + caplog.text
    secrets = [demo.ZHANG.name, demo.ZHANG.number, demo.ZHAO.name, demo.ZHAO.number,
               demo.WANG_BARE, demo.SUN_TYPED, *demo.PHONES, *demo.ADDRESSES]
    for qr in (demo.LI_QR, demo.QIAN_QR):
        person = json.loads(qr)
        secrets += [person["id"], person["name"]]
    leaked = [s for s in secrets if s in shown]
    assert leaked == []
    assert "张*丰" in shown and "delivery: OK" in shown
    assert "138****8000" in shown and '"operator": "S0101002"' in shown
    assert '"type": "box.dispatched"' in shown
