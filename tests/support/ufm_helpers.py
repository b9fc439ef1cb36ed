"""Small helpers shared by the UFM tests (not a test module)."""

from __future__ import annotations

from decimal import Decimal


def assert_printed(value: float, printed: str, *, rtol: float = 1e-12) -> None:
    """`value` reproduces a reference value printed in the spec to every printed digit.

    Tolerance: half a unit in the last printed place, or `rtol` relative, whichever is larger
    (a 15-digit reference is then held to 1e-12 relative).  A printed "0" is an exact zero of the
    closed form (p = 0, ‖h_G‖² = 0 below the λ_b threshold), held to 1e-15, not to ±0.5.
    """
    ref = float(printed)
    exponent = Decimal(printed).as_tuple().exponent
    half_unit = 0.5 * 10.0**exponent if ref != 0 else 1e-15
    tol = max(half_unit, rtol * abs(ref))
    assert abs(value - ref) <= tol * (1 + 1e-9), f"{value!r} does not reproduce {printed} (|diff| {abs(value - ref):.3e} > {tol:.1e})"
