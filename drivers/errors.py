"""The drivers' errors share one root, `DriverError`, as gpiozero's share theirs.

Each class also keeps the builtin it always had (`GpioUnavailable` is a `RuntimeError`,
`CardTextError` a `ValueError`), so an `except RuntimeError` still catches it. The root
is the drivers' own, not the station's: drivers import nothing of ours (the layering
test), and a driver's fault is a device's whoever drives it (the station, its
technician's commands, the simulators and benches). The `station` command maps this
root to exit statuses beside its own (`station/exit_status.py`).
"""


class DriverError(Exception):
    """A device cannot do what was asked: the message names the device and why."""
