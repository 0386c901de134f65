"""Config: defaults, every error at once (file, key, what is allowed), the CLI's exit."""

from __future__ import annotations

from pathlib import Path

import pytest

import contract
from station import lab_settings
from station.cli import main
from station.config import ConfigError
from tests.central_keys import key_pair, parse

EXAMPLE = Path(__file__).parents[2] / "config" / "station.toml"


def test_the_shipped_example_is_valid_and_shows_the_defaults() -> None:
    key = key_pair()[1]   # the example names /etc/natest-station/central.pub.jwk
    config = parse(EXAMPLE.read_text().replace("/etc/natest-station/central.pub.jwk",
                                               str(key)), str(EXAMPLE))
    minimal = parse('[station]\nid = "lane-01"\nsite = "site-001"\ntube_prefix = "110101"\n'
                    f'[privacy]\ncentral_key = "{key}"\n', "minimal.toml")
    # Every key in the example equals its default, so the example documents them.
    assert config.station == minimal.station and config.mqtt == minimal.mqtt
    assert config.scanner == minimal.scanner and config.printer == minimal.printer
    assert config.card_reader == minimal.card_reader and config.lights == minimal.lights
    assert config.voice == minimal.voice and config.screen == minimal.screen
    assert config.staff == minimal.staff and config.box == minimal.box
    assert config.privacy == minimal.privacy and config.privacy.seal


def test_only_id_and_site_are_required() -> None:
    config = parse('[station]\nid = "L1"\nsite = "西城区-3"\n', "x.toml")
    assert config.station.pool_size == 10 and config.station.tubes == "preprinted"
    assert config.scanner.driver == config.card_reader.driver == "sim"
    assert contract.station_root(config.station.site, config.station.id) == \
        "natest/v1/西城区-3/L1"


def test_every_problem_is_reported_at_once() -> None:
    text = """
[station]
site = "has space"
pool_size = 51
tubes = "sometimes"
tube_pattern = "[unclosed"
timezone = "Mars/Olympus"
pool_sise = 3

[mqtt]
url = "http://broker:1883"
window = "many"

[scanner]
driver = "serial"

[card_reader]
driver = "sam"

[printers]
driver = "zpl"
"""
    with pytest.raises(ConfigError) as caught:
        parse(text, "bad.toml")
    problems = caught.value.problems
    expected = [
        "[station] id: is required",
        "[station] site: 'has space' is not allowed",
        "[station] pool_size: 51 is out of range 1–50",
        "[station] tubes: 'sometimes' is not allowed; use one of 'preprinted', 'print'",
        "[station] tube_pattern: not a valid regular expression",
        "[station] timezone: 'Mars/Olympus' is not a known time zone",
        "[station] pool_sise: unknown key",
        "[mqtt] url: 'http://broker:1883' is not allowed; use mqtt://host:port",
        "[mqtt] window: must be a whole number, not 'many'",
        "[scanner] port: is required with driver = 'serial'",
        "[card_reader] port: is required with driver = 'sam'",
        "[printers]: unknown section",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), f"missing {fragment!r} in {problems}"
    assert all(p.startswith("bad.toml: ") for p in problems)
    assert len(problems) == len(expected)


def test_secret_and_tls_files_must_exist(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    text = (f'[station]\nid = "L1"\nsite = "s"\n[mqtt]\nurl = "mqtts://b:8883"\n'
            f'username = "lane"\npassword_file = "{secret}"\nca_file = "{tmp_path}/ca.crt"\n')
    with pytest.raises(ConfigError) as caught:
        parse(text, "x.toml")
    assert caught.value.problems == [f"x.toml: [mqtt] ca_file: '{tmp_path}/ca.crt': no such file"]


def test_device_sections_need_their_device() -> None:
    text = ('[station]\nid = "L1"\nsite = "s"\n[scanner]\ndriver = "evdev"\n'
            '[printer]\ndriver = "zpl"\n[lights]\ngreen = 17\n')
    with pytest.raises(ConfigError) as caught:
        parse(text, "x.toml")
    problems = "\n".join(caught.value.problems)
    assert "[scanner] device: is required with driver = 'evdev'" in problems
    assert "[printer] uri: is required with driver = 'zpl'" in problems
    assert "[lights] red/yellow/green/buzzer: two outputs share a pin" in problems


@pytest.mark.parametrize("phone", ["ask", "require"])
def test_a_phone_after_the_card_needs_a_keypad_unless_the_card_reader_is_simulated(
        phone: str) -> None:
    """Without a keypad nobody can type the phone, or Enter, a held card waits for: every
    card would wait for ever. A dry run types them with `station sim key`."""
    lane = f'[station]\nid = "L1"\nsite = "s"\nphone = "{phone}"\n'
    real = '[card_reader]\ndriver = "sam"\nport = "/dev/ttyUSB0"\n'
    with pytest.raises(ConfigError) as caught:
        parse(lane + real, "x.toml")
    (problem,) = caught.value.problems
    assert f"[station] phone = '{phone}'" in problem and "[keypad] driver = 'none'" in problem
    keypad = '[keypad]\ndriver = "evdev"\ndevice = "/dev/input/event3"\n'
    assert parse(lane + real + keypad, "x.toml").keypad.driver == "evdev"
    assert parse(lane, "x.toml").card_reader.driver == "sim"   # the dry run: sim key
    off = '[station]\nid = "L1"\nsite = "s"\n'
    assert parse(off + real, "x.toml").station.phone == "off"


def test_the_site_id_central_is_reserved_for_collectors() -> None:
    with pytest.raises(ConfigError, match=r"\[station\] site: 'central' is not allowed"):
        parse('[station]\nid = "L1"\nsite = "central"\n', "x.toml")
    assert parse('[station]\nid = "L1"\nsite = "central-2"\n', "x.toml").station.site \
        == "central-2"


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(ConfigError, match="pool_size: must be a whole number, not True"):
        parse('[station]\nid = "L1"\nsite = "s"\npool_size = true\n', "x.toml")


def test_broken_toml_names_the_file_and_line() -> None:
    with pytest.raises(ConfigError, match=r"x\.toml: not valid TOML: .*line 2"):
        parse('[station]\nid = "L1\n', "x.toml")


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = tmp_path / "example.toml"
    example.write_text(EXAMPLE.read_text().replace("/etc/natest-station/central.pub.jwk",
                                                   str(key_pair()[1]))
                       .replace('tube_prefix = "110101"', 'tube_prefix = "220107"'))
    assert main(["check-config", str(example)]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["check-config", "--config", str(example)]) == 0   # as run and status take it
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[station]\nid = "a b"\n')
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "3 problem(s)" in err and "[station] site: is required" in err
    assert "[privacy] central_key: is required" in err
    assert "Traceback" not in err
    assert main(["check-config", str(tmp_path / "missing.toml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_run_refuses_a_broken_config_with_ex_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[station]\n")
    assert main(["run", "--config", str(bad)]) == 78


@pytest.mark.parametrize("listen", ["8080", "localhost", "0.0.0.0:99999", "a b:80"])
def test_the_screen_needs_host_and_port_or_nothing(listen: str) -> None:
    with pytest.raises(ConfigError, match=r"x.toml: \[screen\] listen: .* is not HOST:PORT"):
        parse(f'[station]\nid = "L1"\nsite = "s"\n[screen]\nlisten = "{listen}"\n', "x.toml")
    for fine in ("", "0.0.0.0:8080", "[::1]:8080", "kiosk.local:80"):
        parse(f'[station]\nid = "L1"\nsite = "s"\n[screen]\nlisten = "{fine}"\n', "x.toml")


def test_staff_and_box_sections_are_checked(tmp_path: Path) -> None:
    roster = tmp_path / "staff.csv"
    roster.write_text("badge,name\nS0000001,张登记\nbad badge,李\n")
    roster.chmod(0o644)
    text = (f'[station]\nid = "L1"\nsite = "s"\n[staff]\npattern = "CMD:.*"\n'
            f'roster = "{roster}"\nrequired = true\n[box]\ndispatch_reminder_min = 0\n')
    with pytest.raises(ConfigError) as caught:
        parse(text, "x.toml")
    said = "\n".join(caught.value.problems)
    assert "[staff] pattern: matches operator commands" in said
    assert "[staff] roster:" in said and "chmod 600" in said and "mode 644" in said
    assert "line 3: a badge is 1-32 of" in said
    assert "[staff] required: needs [staff] pattern" in said
    assert "[box] dispatch_reminder_min:" in said
    roster.write_text("badge,name\nS0000001,张登记\n")
    roster.chmod(0o600)
    config = parse(f'[station]\nid = "L1"\nsite = "s"\n[staff]\npattern = "S[0-9]{{7}}"\n'
                   f'roster = "{roster}"\n', "x.toml")
    assert config.staff.roster == {"S0000001": "张登记"}
    assert config.staff.shown("S0000001") == "张*记 (S0000001)"
    assert config.staff.shown("S0000002") == "S0000002"


def test_check_config_refuses_the_example_prefix_and_says_simulated_devices_and_examples(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The skeleton as shipped is a lab's: its prefix is refused (every lane that kept it
    would mint the same ids), its simulated devices and example ids are said (#42)."""
    example = tmp_path / "example.toml"
    keyed = EXAMPLE.read_text().replace("/etc/natest-station/central.pub.jwk",
                                        str(key_pair()[1]))
    example.write_text(keyed)
    assert main(["check-config", str(example)]) == 1
    err = capsys.readouterr().err
    assert "1 problem(s)" in err
    assert f"{example}: [station] tube_prefix: '110101' is the shipped example" in err
    example.write_text(keyed.replace('tube_prefix = "110101"', 'tube_prefix = "220107"'))
    assert main(["check-config", str(example)]) == 0
    err = capsys.readouterr().err
    assert "WARNING: SIMULATED devices: scanner, card_reader, printer, lights, voice" in err
    assert ('WARNING: EXAMPLE values from the skeleton, never changed: [station] id = '
            '"lane-01", [station] site = "site-001"') in err
    # The daemon reads it as it is: a dry run and the tests run on the example prefix.
    assert parse(keyed, "x.toml").station.tube_prefix == "110101"


def test_the_readme_and_the_skeleton_say_the_same_is_required_and_the_examples_are_its(
        ) -> None:
    """One list of what is required, in the skeleton's header and the README (#42); the
    example values check-config says are the skeleton's own."""
    def said(text: str) -> str:
        return " ".join(text.replace("`", "").replace("#", "").split()).lower()

    required = ("required: [station] id, site, [privacy] central_key, and tube_prefix in "
                "most cases")
    readme = (EXAMPLE.parents[1] / "README.md").read_text()
    assert required in said(EXAMPLE.read_text()) and required in said(readme)
    skeleton = parse(EXAMPLE.read_text().replace("/etc/natest-station/central.pub.jwk",
                                                 str(key_pair()[1])), "x.toml")
    assert lab_settings.examples(skeleton) == [
        '[station] id = "lane-01"', '[station] site = "site-001"',
        '[station] tube_prefix = "110101"']


def test_a_prefix_left_unassigned_by_the_installer_is_refused_by_check_config_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`tube_prefix = ""` is what an unattended install without a prefix writes (#38):
    check-config refuses it until the district's digits are there; the daemon run by hand
    reads it as no prefix."""
    keyed = EXAMPLE.read_text().replace("/etc/natest-station/central.pub.jwk",
                                        str(key_pair()[1]))
    unset = tmp_path / "station.toml"
    unset.write_text(keyed.replace('tube_prefix = "110101"', 'tube_prefix = ""'))
    assert main(["check-config", str(unset)]) == 1
    err = capsys.readouterr().err
    assert "1 problem(s)" in err
    assert f"{unset}: [station] tube_prefix: not set yet" in err and "testing office" in err
    # As if the line were absent (a short id: box ids made from it fit the label).
    short = unset.read_text().replace('id = "lane-01"', 'id = "L1"')
    assert parse(short, "x.toml").station.tube_prefix == ""
