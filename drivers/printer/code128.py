"""Code 128 with the shortest encoding: runs of digits in set C (two digits a symbol),
the rest in set B, switching where that saves symbols.

The width of a barcode follows from its content, so the layout can choose a module
width that fits the label (with the 10-module quiet zones the symbology needs) before
anything is printed. Printers encode the barcode themselves (TSPL "128", ZPL ^BC mode
A choose their sets automatically); our shortest encoding is what they produce for the
ids we mint (all digits), and the PNG preview is drawn from these very modules.
"""

from __future__ import annotations

from drivers.errors import DriverError

QUIET_ZONE = 10          # modules of white each side
START_B, START_C = 104, 105
TO_B, TO_C = 100, 99     # CODE B (from set C), CODE C (from set B)


class NotEncodable(DriverError, ValueError):
    """A character Code 128 set B cannot carry (only printable ASCII here)."""


def _symbols(text: str) -> list[int]:
    """The shortest symbol values for `text` in sets B and C, start code first."""
    for char in text:
        if not " " <= char <= "~":
            raise NotEncodable(f"{char!r} cannot go into a Code 128 barcode here "
                               "(printable ASCII only)")
    n = len(text)
    # best[i][s]: the fewest symbols for text[i:] when the current set is s (0 = B, 1 = C).
    best = [[0, 0] for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        pair = text[i:i + 2]
        in_b = 1 + best[i + 1][0]
        in_c = 1 + best[i + 2][1] if len(pair) == 2 and pair.isdigit() else n * 2 + 9
        best[i][0] = min(in_b, 1 + in_c)   # stay in B, or switch to C
        best[i][1] = min(in_c, 1 + in_b)   # stay in C, or switch to B
    current = 1 if best[0][1] < best[0][0] else 0
    out = [START_C if current else START_B]
    i = 0
    while i < n:
        pair = text[i:i + 2]
        can_c = len(pair) == 2 and pair.isdigit()
        want_c = can_c and 1 + best[i + 2][1] + (current == 0) <= \
            1 + best[i + 1][0] + (current == 1)
        if want_c:
            if current == 0:
                out.append(TO_C)
                current = 1
            out.append(int(pair))
            i += 2
        else:
            if current == 1:
                out.append(TO_B)
                current = 0
            out.append(ord(text[i]) - 32)
            i += 1
    return out


def symbols(text: str) -> list[int]:
    """Start code, data and switches, and the check symbol."""
    values = _symbols(text)
    check = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    return [*values, check]


def modules(text: str) -> str:
    """Bars and spaces, one character a module ("1" = bar), without the quiet zones."""
    # python-barcode's package imports Pillow: only previews need the bar patterns, and
    # the daemon, which only needs widths, starts a quarter of a second sooner on a Pi.
    from barcode.charsets.code128 import CODES, STOP  # noqa: PLC0415

    stop = str(STOP) + "11"   # the stop pattern with its final bar: 13 modules
    return "".join(str(CODES[value]) for value in symbols(text)) + stop


def width(text: str) -> int:
    """Modules from the start code to the stop bar: 11 per symbol and 13 for the stop."""
    return 11 * len(symbols(text)) + 13
