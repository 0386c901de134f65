"""`station status`: what a technician asks before powering a lane off.

Reads the database read-only beside the running daemon. Exit 0 only when every event
recorded here has been acknowledged by the broker: safe to power off. 1 while a backlog
remains, 2 when the database cannot be read, 78 for a broken config.
"""

from __future__ import annotations

import datetime as dt
import json
import socket

from station import lab_settings
from station.config import Config, MqttConfig
from station.exit_status import BACKLOG, OK, failed
from station.readout import Delivery, NotReadable, read

BROKER_WAIT_S = 2.0


def broker_reach(m: MqttConfig) -> tuple[bool, str]:
    """Whether the broker's port answers from here, and in words: the daemon's connection
    counter alone does not say that an outage is on now."""
    try:
        with socket.create_connection((m.host, m.port), timeout=BROKER_WAIT_S):
            return True, f"{m.url} reachable"
    except TimeoutError:
        why = f"no answer in {BROKER_WAIT_S:.0f} s"
    except OSError as exc:
        why = (exc.strerror or str(exc)).lower()
    return False, f"{m.url} UNREACHABLE ({why}): events wait on this station"


def age(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m} min" if hours else f"{m} min {s} s" if m else f"{s} s"


def local(ts: str | None, config: Config) -> str:
    if ts is None:
        return "never"
    when = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return when.astimezone(config.station.timezone).strftime("%Y-%m-%d %H:%M:%S %Z")


def describe(d: Delivery, config: Config, now: dt.datetime, broker: str = "") -> str:
    s = config.station
    waiting = d.backlog_age_s(now)
    lab = [f"lab settings    {line}" for line in lab_settings.warnings(config)]
    lines = [
        f"station         {s.site}/{s.id}, session {d.session}, connection {d.connection}",
        *lab,
        *([f"broker          {broker}"] if broker else []),
        f"recorded        up to seq {d.last_seq}",
        f"delivered       up to seq {d.delivered_up_to}; broker's last acknowledgement "
        f"{local(d.last_ack, config)}",
        f"backlog         {d.backlog} event(s)"
        + (f", the oldest waiting {age(waiting)}" if waiting is not None else ""),
        f"open tube       {d.tube} ({d.tube_count} of {s.pool_size})" if d.tube
        else "open tube       none",
        f"box             {d.box_tubes} tube(s), {d.box_samples} sample(s) since the last box",
        f"print queue     {d.print_queue} label(s) waiting",
        "safe to power off: yes, every event is delivered" if d.safe_to_power_off else
        f"safe to power off: NO, {d.backlog} event(s) exist only on this station",
    ]
    return "\n".join(lines)


def status_command(config: Config, as_json: bool) -> int:
    path = config.station.data_dir / "station.db"
    try:
        delivery = read(path)
    except NotReadable as exc:   # 2 (UNREADABLE)
        return failed(exc, "cannot read the station's database")
    now = dt.datetime.now(dt.UTC)
    reachable, broker = broker_reach(config.mqtt)
    if as_json:
        print(json.dumps({"site": config.station.site, "station": config.station.id,
                          **delivery.to_json(),
                          "backlog_age_s": delivery.backlog_age_s(now),
                          "broker_reachable": reachable,
                          "simulated": lab_settings.simulated(config),
                          "examples": lab_settings.examples(config)}, indent=2))
    else:
        print(describe(delivery, config, now, broker))
    return OK if delivery.safe_to_power_off else BACKLOG
