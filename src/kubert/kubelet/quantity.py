"""Kubernetes resource quantities ("500m", "1.5", "64Mi", "1G", "129e6") to integers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(r"^([+]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_SUFFIX = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(text: str) -> Decimal:
    match = _QUANTITY.match(text.strip())
    if not match:
        raise QuantityError(f"{text!r} is not a quantity such as 500m, 2, 64Mi or 1G")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        raise QuantityError(f"{text!r} is not a quantity such as 500m, 2, 64Mi or 1G") from None
    return number * _SUFFIX[match.group(2)]


def parse_cpu(text: str) -> int:
    """CPU in millicores, rounded up as the API server does."""
    value = parse_quantity(text) * 1000
    return int(value.to_integral_value(rounding="ROUND_CEILING"))


def parse_memory(text: str) -> int:
    """Memory in bytes, rounded up."""
    value = parse_quantity(text)
    return int(value.to_integral_value(rounding="ROUND_CEILING"))
