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
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from functools import total_ordering
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
    "in_money_context",
    "money_context",
    "to_decimal",
]

#: ISO 4217 minor-unit exponents for the currencies telcoflow knows out of the box.
_ISO_EXPONENTS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "CNY": 2,
    "INR": 2,
    "BRL": 2,
    "ZAR": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CAD": 2,
    "AUD": 2,
    "MXN": 2,
    "NGN": 2,
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "ISK": 0,
    "VND": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "JOD": 3,
}

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
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        raise MoneyError(
            f"`{field}` must be a Decimal, int or decimal string, not a float (got {value!r})"
        )
    if isinstance(value, str):
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
        """Return the currency for an ISO code (known exponents; others default to 2)."""
        if isinstance(code, Currency):
            return code
        cached = cls._cache.get(code)
        if cached is None:
            cached = cls(code, _ISO_EXPONENTS.get(code, 2))
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
        exp = self.currency.exponent
        quantum = self.currency.quantum
        whole = policy.quantize(self.amount, exp)
        with decimal.localcontext(MONEY_CONTEXT) as ctx:
            ctx.rounding = decimal.ROUND_DOWN if whole >= 0 else decimal.ROUND_UP
            exact = [whole * w / total_w for w in ws]
            parts = [e.quantize(quantum) for e in exact]
            remainder = whole - sum(parts, Decimal(0))
            step = quantum if remainder >= 0 else -quantum
            order = sorted(range(len(ws)), key=lambda i: (-(abs(exact[i] - parts[i])), i))
            i = 0
            while remainder != 0:
                parts[order[i % len(order)]] += step
                remainder -= step
                i += 1
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
