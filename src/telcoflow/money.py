"""Exact money: :class:`Decimal` amounts with a :class:`Currency`, explicit rounding.

Floats are refused everywhere. Amounts keep every digit they are computed with;
rounding happens only where a tariff or a bill line says so, through a
:class:`RoundingPolicy`, inside a local decimal context (the global context is
never changed). Combining two currencies raises :class:`CurrencyMismatchError`.

>>> from decimal import Decimal
>>> from telcoflow.money import Money, RoundingPolicy
>>> price = Money("0.05", "EUR") * Decimal("9.96")
>>> price
Money('0.4980', 'EUR')
>>> price.rounded(RoundingPolicy.HALF_UP)
Money('0.50', 'EUR')
"""

from __future__ import annotations

import decimal
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from functools import total_ordering
from importlib.resources import files
from typing import Any, ClassVar, ParamSpec, TypeVar

from telcoflow.errors import CurrencyMismatchError, MoneyError

_P = ParamSpec("_P")
_R = TypeVar("_R")

__all__ = [
    "MONEY_CONTEXT",
    "Currency",
    "Money",
    "RoundingPolicy",
    "Increment",
    "NonDecimalInt",
    "allocate",
    "check_minor_units",
    "format_amount",
    "in_money_context",
    "money_context",
    "shown",
    "to_decimal",
]

def _iso_exponents() -> dict[str, int]:
    """ISO 4217 minor-unit exponents of every current currency, from the table vendored as
    package data (``telcoflow/data/iso4217.json``, generated from the ISO maintenance
    agency's published list through the ``iso4217`` package; the tests check it against
    that source). Currencies without a minor unit (``N.A.``: gold, SDR, the test code
    ``XTS``) are left out: they are not money here."""
    text = (files("telcoflow") / "data" / "iso4217.json").read_text(encoding="utf-8")
    units: dict[str, int] = json.loads(text)["minor_units"]
    return units


#: ISO 4217 minor-unit exponents (``EUR`` 2, ``JPY`` and ``XOF`` 0, ``BHD`` 3, ``CLF`` 4).
_ISO_EXPONENTS: dict[str, int] = _iso_exponents()


class NonDecimalInt(int):
    """An integer written in another notation than plain decimal (``0x10``, ``0o17``).

    The YAML loader builds these so that :func:`to_decimal` can refuse them as amounts:
    ``0x10`` is 16 to YAML 1.2, but nobody writes a price in hexadecimal on purpose.
    """

    text: str

    def __new__(cls, value: int, text: str = "") -> NonDecimalInt:
        self = super().__new__(cls, value)
        self.text = text or hex(value)
        return self


#: The library's one decimal context for money: every sum, product and rounding of money is
#: computed in it (entry points enter it with :func:`money_context`), never in the host's
#: ``decimal.getcontext()``, which a host may set to any precision, rounding or traps.
MONEY_CONTEXT = decimal.Context(
    prec=38,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
    ],
)


def in_money_context(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate a function that computes money so that it runs in :data:`MONEY_CONTEXT`."""
    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with decimal.localcontext(MONEY_CONTEXT):
            return fn(*args, **kwargs)
    return wrapper


def money_context() -> AbstractContextManager[decimal.Context]:
    """``with money_context():`` computes in :data:`MONEY_CONTEXT` (the host's context is
    restored after)."""
    return decimal.localcontext(MONEY_CONTEXT)


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Convert ``value`` to :class:`Decimal` exactly; refuse floats and bools.

    >>> to_decimal("1.10")
    Decimal('1.10')
    >>> to_decimal(1.1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    telcoflow.errors.MoneyError: `amount` must be a Decimal, int or decimal string, not a float...
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError(f"`{field}` must be a finite number (got {value})")
        return value
    if isinstance(value, bool):
        raise MoneyError(f"`{field}` must be a number, not a boolean (got {value!r})")
    if isinstance(value, NonDecimalInt):
        raise MoneyError(
            f"`{field}` must be written as a decimal number, not {value.text!r} (= {int(value)})"
        )
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        raise MoneyError(
            f"`{field}` must be a Decimal, int or decimal string, not a float (got {value!r})"
        )
    if isinstance(value, str):
        if "_" in value:  # Decimal() accepts "12_000"; a price with separators is a typo
            raise MoneyError(
                f"`{field}` must be a decimal number without separators (got {value!r})")
        try:
            result = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise MoneyError(f"`{field}` must be a decimal number (got {value!r})") from None
        if not result.is_finite():
            raise MoneyError(f"`{field}` must be a finite number (got {value!r})")
        return result
    raise MoneyError(
        f"`{field}` must be a Decimal, int or decimal string (got {type(value).__name__} {value!r})"
    )


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency: ISO 4217 code and minor-unit exponent (2 for EUR, 0 for JPY)."""

    code: str
    exponent: int = 2

    _cache: ClassVar[dict[str, Currency]] = {}

    def __post_init__(self) -> None:
        if len(self.code) != 3 or not self.code.isalpha() or not self.code.isupper():
            raise MoneyError(f"currency code must be three upper-case letters (got {self.code!r})")
        if not 0 <= self.exponent <= 8:
            raise MoneyError(f"currency exponent must be 0..8 (got {self.exponent})")

    @classmethod
    def of(cls, code: str | Currency) -> Currency:
        """Return the currency for an ISO 4217 code, with its ISO minor-unit exponent.

        A code that ISO 4217 does not list (or lists without a minor unit) is an error,
        never silently given 2 decimals; build ``Currency(code, exponent)`` for a private one.

        >>> Currency.of("XOF").exponent
        0
        >>> Currency.of("EUX")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        telcoflow.errors.MoneyError: unknown currency 'EUX' (not an ISO 4217 code...
        """
        if isinstance(code, Currency):
            return code
        cached = cls._cache.get(code)
        if cached is None:
            exponent = _ISO_EXPONENTS.get(code)
            if exponent is None:
                cls(code)  # a malformed code gets its own message
                raise MoneyError(f"unknown currency {code!r} (not an ISO 4217 code with a "
                                 "minor unit, e.g. EUR, USD, JPY)")
            cached = cls(code, exponent)
            cls._cache[code] = cached
        return cached

    @property
    def quantum(self) -> Decimal:
        """The smallest amount in this currency, e.g. ``Decimal('0.01')``."""
        return Decimal(1).scaleb(-self.exponent)

    def __str__(self) -> str:
        return self.code


class RoundingPolicy(str, Enum):
    """How a tariff rounds: half-up, half-even (banker's), up (away from zero), down."""

    HALF_UP = "half-up"
    HALF_EVEN = "half-even"
    UP = "up"
    DOWN = "down"

    @property
    def decimal_mode(self) -> str:
        """The :mod:`decimal` rounding constant for this policy."""
        return _DECIMAL_MODES[self]

    def quantize(self, value: Decimal, exponent: int) -> Decimal:
        """Round ``value`` to ``exponent`` decimal places in a local context."""
        with decimal.localcontext(MONEY_CONTEXT) as ctx:
            ctx.rounding = self.decimal_mode
            return value.quantize(Decimal(1).scaleb(-exponent))


_DECIMAL_MODES = {
    RoundingPolicy.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingPolicy.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingPolicy.UP: decimal.ROUND_UP,
    RoundingPolicy.DOWN: decimal.ROUND_DOWN,
}


def allocate(amount: Decimal, weights: Sequence[Decimal], quantum: Decimal) -> list[Decimal]:
    """Split ``amount`` (a multiple of ``quantum``) in proportion to ``weights`` (>= 0, not
    all zero) into multiples of ``quantum`` that sum exactly to it: each part rounded towards
    zero, the remainder one ``quantum`` at a time to the parts that lost most, first-listed
    first on ties (the largest-remainder method). The one allocation of the library: bills'
    discounts, per-bill tax and :meth:`Money.allocate` use it.

    >>> allocate(Decimal("1.00"), [Decimal(1)] * 3, Decimal("0.01"))
    [Decimal('0.34'), Decimal('0.33'), Decimal('0.33')]
    """
    if len(weights) == 1:
        return [amount]
    with decimal.localcontext(MONEY_CONTEXT) as ctx:
        ctx.rounding = decimal.ROUND_DOWN if amount >= 0 else decimal.ROUND_UP
        total = sum(weights, Decimal(0))
        exact = [amount * w / total for w in weights]
        parts = [e.quantize(quantum) for e in exact]
        remainder = amount - sum(parts, Decimal(0))
        if remainder:
            step = quantum if remainder > 0 else -quantum
            order = sorted(range(len(parts)), key=lambda i: (-abs(exact[i] - parts[i]), i))
            i = 0
            while remainder != 0:
                parts[order[i % len(order)]] += step
                remainder -= step
                i += 1
    return parts


def format_amount(amount: Decimal, currency: str | Currency) -> str:
    """An amount as people read it in messages: ``-5.00 EUR`` (never ``Decimal('-5.00')``).

    >>> format_amount(Decimal("-5.00"), "EUR")
    '-5.00 EUR'
    """
    code = currency.code if isinstance(currency, Currency) else currency
    return f"{amount} {code}"


def shown(value: object) -> str:
    """Any value as an error message shows it: a Decimal as people write it (``-5.00``,
    ``NaN``, never ``Decimal('-5.00')``), anything else as its ``repr`` (text in quotes).

    >>> shown(Decimal("-5.00")), shown("5")
    ('-5.00', "'5'")
    """
    return str(value) if isinstance(value, Decimal) else repr(value)


def check_minor_units(amount: Decimal, currency: str | Currency, *, field: str = "amount") -> None:
    """Refuse an amount written with more decimals than its currency has minor units.

    This is the one home of the rule for money entered by people (catalogs, configuration):
    ``5.005`` is not a EUR amount and ``10.5`` is not a JPY one. Rates (prices per unit) are
    not amounts and may have more decimals: do not call this for them. Trailing zeros
    are not decimals (``5.000 EUR`` is 5.00 EUR).

    >>> check_minor_units(Decimal("5.00"), "EUR")
    >>> check_minor_units(Decimal("5.005"), "EUR")
    Traceback (most recent call last):
    ...
    telcoflow.errors.MoneyError: `amount` 5.005 EUR has 3 decimals; EUR has 2 (its minor unit)
    """
    cur = Currency.of(currency)
    exponent = amount.normalize(MONEY_CONTEXT).as_tuple().exponent
    if isinstance(exponent, int) and -exponent > cur.exponent:
        raise MoneyError(
            f"`{field}` {format_amount(amount, cur)} has {-exponent} decimal"
            f"{'s' if -exponent > 1 else ''}; "
            f"{cur.code} has {cur.exponent} (its minor unit)")


@total_ordering
@dataclass(frozen=True, slots=True, init=False, eq=False)
class Money:
    """An exact amount in one currency.

    Arithmetic keeps every digit; :meth:`rounded` applies a rounding policy.

    >>> Money("10.00", "EUR") + Money("0.005", "EUR")
    Money('10.005', 'EUR')
    >>> Money("1", "EUR") + Money("1", "USD")
    Traceback (most recent call last):
    ...
    telcoflow.errors.CurrencyMismatchError: cannot add EUR and USD amounts (1 EUR, 1 USD)
    """

    amount: Decimal
    currency: Currency

    def __init__(self, amount: object, currency: str | Currency) -> None:
        object.__setattr__(self, "amount", to_decimal(amount))
        object.__setattr__(self, "currency", Currency.of(currency))

    @classmethod
    def zero(cls, currency: str | Currency) -> Money:
        """Zero in ``currency``."""
        return cls(Decimal(0), currency)

    # -- arithmetic ---------------------------------------------------------------
    def _check(self, other: Money, op: str) -> None:
        if not isinstance(other, Money):
            raise MoneyError(f"cannot {op} Money and {type(other).__name__} ({other!r})")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot {op} {self.currency} and {other.currency} amounts "
                f"({self.amount} {self.currency}, {other.amount} {other.currency})"
            )

    def __add__(self, other: Money) -> Money:
        self._check(other, "add")
        with decimal.localcontext(MONEY_CONTEXT):
            return Money(self.amount + other.amount, self.currency)

    def __radd__(self, other: object) -> Money:
        # lets sum() start from the int 0
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self
        return NotImplemented

    def __sub__(self, other: Money) -> Money:
        self._check(other, "subtract")
        with decimal.localcontext(MONEY_CONTEXT):
            return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: object) -> Money:
        if isinstance(factor, Money):
            raise MoneyError("cannot multiply two amounts of money")
        with decimal.localcontext(MONEY_CONTEXT):
            return Money(self.amount * to_decimal(factor, field="factor"), self.currency)

    __rmul__ = __mul__

    def __truediv__(self, divisor: object) -> Money:
        d = to_decimal(divisor, field="divisor")
        if d == 0:
            raise MoneyError("cannot divide an amount by zero")
        with decimal.localcontext(MONEY_CONTEXT):
            return Money(self.amount / d, self.currency)

    # -- comparison ---------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency.code))

    def __lt__(self, other: Money) -> bool:
        self._check(other, "compare")
        return self.amount < other.amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    # -- rounding and splitting ---------------------------------------------------
    def rounded(
        self, policy: RoundingPolicy = RoundingPolicy.HALF_EVEN, exponent: int | None = None
    ) -> Money:
        """Round to the currency's minor unit (or ``exponent`` places) with ``policy``."""
        exp = self.currency.exponent if exponent is None else exponent
        return Money(policy.quantize(self.amount, exp), self.currency)

    def allocate(
        self, weights: Sequence[object], policy: RoundingPolicy = RoundingPolicy.HALF_EVEN
    ) -> list[Money]:
        """Split into parts proportional to ``weights`` that sum *exactly* to this amount.

        Each part is rounded to the minor unit; the remainder goes to the parts with the
        largest rounding loss (largest-remainder method), first-listed first on ties.

        >>> [str(m) for m in Money("10.00", "EUR").allocate([1, 1, 1])]
        ['3.34 EUR', '3.33 EUR', '3.33 EUR']
        """
        ws = [to_decimal(w, field="weight") for w in weights]
        if not ws:
            raise MoneyError("allocate needs at least one weight")
        if any(w < 0 for w in ws):
            raise MoneyError(f"allocation weights must be >= 0 (got {[str(w) for w in ws]})")
        total_w = sum(ws, Decimal(0))
        if total_w == 0:
            raise MoneyError("allocation weights must not all be zero")
        whole = policy.quantize(self.amount, self.currency.exponent)
        parts = allocate(whole, ws, self.currency.quantum)
        return [Money(p, self.currency) for p in parts]

    # -- presentation -------------------------------------------------------------
    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency.code}')"

    def __str__(self) -> str:
        return f"{self.amount} {self.currency.code}"

    def to_json(self) -> dict[str, Any]:
        """TMF-style ``{"value": "1.23", "unit": "EUR"}`` (value as a string, never a float)."""
        return {"value": str(self.amount), "unit": self.currency.code}

    @staticmethod
    def sum(amounts: Iterable[Money], currency: str | Currency) -> Money:
        """Sum amounts of one currency; an empty iterable gives zero in ``currency``."""
        total = Money.zero(currency)
        for m in amounts:
            total = total + m
        return total


@dataclass(frozen=True, slots=True)
class Increment:
    """Rating increments: a first ``minimum`` then per started ``step`` units.

    ``Increment(minimum=60, step=30)`` bills 61 s as 90 s and 125 s as 150 s;
    ``Increment(step=1)`` bills per started unit (per started MB); zero usage is zero.

    >>> Increment(minimum=Decimal(60), step=Decimal(30)).charged(Decimal(61))
    Decimal('90')
    """

    step: Decimal = Decimal(1)
    minimum: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", to_decimal(self.step, field="step"))
        object.__setattr__(self, "minimum", to_decimal(self.minimum, field="minimum"))
        if self.step < 0 or self.minimum < 0:
            raise MoneyError(
                f"increments must be >= 0 (got step {self.step}, minimum {self.minimum})"
            )

    def charged(self, quantity: Decimal) -> Decimal:
        """The quantity that is charged for ``quantity`` used."""
        if quantity <= 0:
            return Decimal(0)
        if quantity <= self.minimum:
            return self.minimum
        if self.step == 0:
            return quantity
        over = quantity - self.minimum
        with decimal.localcontext(MONEY_CONTEXT):
            blocks = (over / self.step).to_integral_value(rounding=decimal.ROUND_CEILING)
        return self.minimum + blocks * self.step
