"""One root of errors per product.

Every exception class defined in `central/` derives from `central.errors.CentralError`,
in `station/` from `station.core.errors.StationError`, in `drivers/` from
`drivers.errors.DriverError`, in `contract/` from `contract.errors.ContractError`, and
each keeps the builtin its callers catch.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
ROOTS = {"central": "central.errors.CentralError",
         "station": "station.core.errors.StationError",
         "drivers": "drivers.errors.DriverError",
         "contract": "contract.errors.ContractError"}

# The builtin each class kept when it took its root: `except ValueError` and the like
# elsewhere still catch it.
BUILTINS = {
    "central.mqtt.codec.ProtocolError": ValueError,
    "central.mqtt.connect.Refused": ConnectionError,
    "central.ingest.session_rules.SessionTakenOver": RuntimeError,
    "central.ingest.session_rules.CollectorRefused": RuntimeError,
    "central.ingest.client_id.ClientIdInUse": RuntimeError,
    "central.ingest.validation.Invalid": ValueError,
    "central.reports.opening.Unopenable": ValueError,
    "central.reports.opening.NeedsKey": ValueError,
    "central.intake.lab_files.FileRefused": ValueError,
    "station.config.CredentialError": OSError,
    "station.core.prompts.PromptError": ValueError,
    "station.core.codes.BadCode": ValueError,
    "drivers.lights.gpio.GpioUnavailable": RuntimeError,
    "drivers.printer.code128.NotEncodable": ValueError,
    "drivers.printer.layout.BarcodeTooWide": ValueError,
    "drivers.printer.png.NoCjkFont": RuntimeError,
    "drivers.sam.text.CardTextError": ValueError,
    "contract.id_numbers.InvalidIdNumber": ValueError,
    "contract.sealed.KeyFileError": ValueError,
}


def dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def exception_classes(package: str) -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of `package`, by its dotted name."""
    found: dict[str, type[BaseException]] = {}
    top = importlib.import_module(package)
    for info in pkgutil.walk_packages(top.__path__, f"{package}."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                found[dotted(cls)] = cls
    return found


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_every_exception_class_derives_from_its_products_root(package: str) -> None:
    classes = exception_classes(package)
    assert ROOTS[package] in classes    # the walk sees the root itself
    assert len(classes) >= {"central": 10, "station": 8, "drivers": 9, "contract": 3}[package]
    root = classes[ROOTS[package]]
    assert sorted(name for name, cls in classes.items() if not issubclass(cls, root)) == []


def test_each_class_keeps_the_builtin_its_callers_catch() -> None:
    classes = {name: cls for package in ROOTS for name, cls in
               exception_classes(package).items()}
    assert sorted(name for name, builtin in BUILTINS.items()
                  if not issubclass(classes[name], builtin)) == []
