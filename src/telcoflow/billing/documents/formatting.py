"""Locale-aware money, number and date formatting for bill documents (no dependencies).

A small built-in table covers the locales telcoflow ships statements for; an unknown locale
falls back to its language (``de_AT`` -> ``de_DE`` rules), then to ``en_GB``.

>>> from decimal import Decimal
>>> format_money(Decimal("1234.5"), "EUR", "de_DE")
'1.234,50\\xa0€'
>>> format_money(Decimal("-1234.5"), "USD", "en_US")
'-$1,234.50'
>>> from datetime import date
>>> format_date(date(2026, 12, 15), "fr_FR", "long")
'15 décembre 2026'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from telcoflow.money import Currency

__all__ = ["LOCALES", "LocaleRules", "format_date", "format_money", "format_number",
           "locale_rules", "money_formatter", "number_formatter", "unit_words"]

_NBSP = "\xa0"


@dataclass(frozen=True, slots=True)
class LocaleRules:
    """How a locale writes numbers, amounts and dates."""

    decimal: str
    group: str
    symbol_first: bool
    symbol_space: bool
    short_date: str
    months: tuple[str, ...]
    long_date: str


_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
_DE_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
              "September", "Oktober", "November", "Dezember")
_FR_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre")
_ES_MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
              "septiembre", "octubre", "noviembre", "diciembre")
_IT_MONTHS = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
              "agosto", "settembre", "ottobre", "novembre", "dicembre")

#: The built-in locales.
LOCALES: dict[str, LocaleRules] = {
    "en_GB": LocaleRules(".", ",", True, False, "{d:02d}/{m:02d}/{y}", _EN_MONTHS, "{d} {M} {y}"),
    "en_US": LocaleRules(".", ",", True, False, "{m:02d}/{d:02d}/{y}", _EN_MONTHS, "{M} {d}, {y}"),
    "de_DE": LocaleRules(",", ".", False, True, "{d:02d}.{m:02d}.{y}", _DE_MONTHS, "{d}. {M} {y}"),
    "fr_FR": LocaleRules(",", "\u202f", False, True, "{d:02d}/{m:02d}/{y}", _FR_MONTHS,
                         "{d} {M} {y}"),
    "es_ES": LocaleRules(",", ".", False, True, "{d:02d}/{m:02d}/{y}", _ES_MONTHS,
                         "{d} de {M} de {y}"),
    "it_IT": LocaleRules(",", ".", False, True, "{d:02d}/{m:02d}/{y}", _IT_MONTHS, "{d} {M} {y}"),
}
_BY_LANGUAGE = {"en": "en_GB", "de": "de_DE", "fr": "fr_FR", "es": "es_ES", "it": "it_IT"}

_QUANTA = [Decimal(1).scaleb(-p) for p in range(9)]
_ZERO = Decimal(0)

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹",
            "KRW": "₩", "BRL": "R$", "NGN": "₦"}


@lru_cache(maxsize=256)
def locale_rules(locale: str) -> LocaleRules:
    """The rules of ``locale`` (``de_AT`` falls back to ``de_DE``; unknown -> ``en_GB``)."""
    name = locale.replace("-", "_")
    rules = LOCALES.get(name)
    if rules is None:
        rules = LOCALES[_BY_LANGUAGE.get(name.split("_")[0].lower(), "en_GB")]
    return rules


def format_number(value: Decimal, locale: str = "en_GB", places: int | None = None) -> str:
    """``value`` with the locale's grouping and decimal mark (rounded half-up to ``places``)."""
    rules = locale_rules(locale)
    if places is not None:
        value = value.quantize(_QUANTA[places] if places < 9 else Decimal(1).scaleb(-places),
                               ROUND_HALF_UP)
    text = format(value, ",f")
    if rules.decimal == "." and rules.group == ",":
        return text
    return text.translate({44: rules.group, 46: rules.decimal})


#: How many texts a formatter remembers (then it starts over): ~150 bytes each.
_REMEMBERED = 65_536


def _remembering(fmt: Callable[[Decimal, str], str]) -> Callable[[Decimal], str]:
    """``value -> fmt(value, str(value))``, remembered by ``str(value)``.

    The text of an amount or a number depends only on ``str`` of it (a decimal's ``str``
    gives back exactly that decimal, exponent and sign included), and a bill run prints the
    same few thousand line amounts, taxes, zero discounts and quantities over and over: a
    dictionary lookup of that string costs a third of the checks that format it. (A cache by
    the decimal itself would not pay: a new ``Decimal`` computes its hash on first use, which
    costs more than ``str``.)
    """
    cache: dict[str, str] = {}
    known = cache.get

    def formatter(value: Decimal) -> str:
        text = str(value)
        out = known(text)
        if out is None:
            if len(cache) >= _REMEMBERED:
                cache.clear()
            out = cache[text] = fmt(value, text)
        return out

    return formatter


@lru_cache(maxsize=256)
def money_formatter(currency: str, locale: str = "en_GB") -> Callable[[Decimal], str]:
    """A fast formatter of amounts in ``currency`` for ``locale`` (same output as
    :func:`format_money`), built once per pair.

    Bill amounts are already rounded to the currency's minor unit, mostly below a thousand
    and not negative: then ``str`` of the amount is the text to print (no rounding, no
    grouping), which costs a third of ``format(value, ",f")``; zero (an unrounded ``0``
    discount) and anything else take the general path. The text of each amount is
    remembered (see :func:`_remembering`).
    """
    rules = locale_rules(locale)
    places = Currency.of(currency).exponent
    quantum = _QUANTA[places]
    symbol = _SYMBOLS.get(currency, currency)
    mark = rules.decimal
    table = None if mark == "." and rules.group == "," else {44: rules.group, 46: mark}
    if rules.symbol_first:
        sep = _NBSP if rules.symbol_space or len(symbol) == 3 else ""
        pos, neg, post = symbol + sep, "-" + symbol + sep, ""
    else:
        pos, neg, post = "", "-", _NBSP + symbol

    def general(value: Decimal) -> str:
        text = format(abs(value).quantize(quantum, ROUND_HALF_UP), ",f")
        if table is not None:
            text = text.translate(table)
        return (neg if value < 0 else pos) + text + post

    zero = general(_ZERO)
    if places:
        # "d.dd" .. "ddd.dd": the point `places` from the end, at most three digits before it
        point, shortest, longest = -places - 1, places + 2, places + 4

        def fmt(value: Decimal, text: str) -> str:
            if shortest <= len(text) <= longest and text[point] == "." and text[0] != "-":
                return pos + (text if mark == "." else text.replace(".", mark)) + post
            return general(value) if value else zero

    else:

        def fmt(value: Decimal, text: str) -> str:
            if len(text) <= 3 and text[0] != "-" and "." not in text:
                return pos + text + post
            return general(value) if value else zero

    return _remembering(fmt)


@lru_cache(maxsize=64)
def number_formatter(locale: str = "en_GB") -> Callable[[Decimal], str]:
    """A fast formatter of numbers for ``locale`` (same output as :func:`format_number`
    without ``places``), built once per locale: ``str`` of the number when it needs no
    grouping (at most three digits before the point) and has no exponent; one group mark put
    in by slicing when it has four to six digits before the point (call seconds, megabytes)
    and is not negative; ``format(value, ",f")`` otherwise. The text of each number is
    remembered (see :func:`_remembering`)."""
    rules = locale_rules(locale)
    mark, group = rules.decimal, rules.group
    table = None if mark == "." and group == "," else {44: group, 46: mark}

    def fmt(value: Decimal, text: str) -> str:
        if "E" not in text:
            if "0" <= text[0] <= "9":  # digits, maybe one point (not NaN, not negative)
                point = text.find(".")
                if point < 0:
                    if len(text) <= 3:
                        return text
                    if len(text) <= 6:
                        return text[:-3] + group + text[-3:]
                elif point <= 3:
                    return text if mark == "." else text.replace(".", mark)
                elif point <= 6:
                    return (text[:point - 3] + group + text[point - 3:point] + mark
                            + text[point + 1:])
            else:
                digits = text.find(".")
                if digits < 0:
                    digits = len(text)
                if digits - (text[0] == "-") <= 3:
                    return text if mark == "." else text.replace(".", mark)
        text = format(value, ",f")
        return text if table is None else text.translate(table)

    return _remembering(fmt)


def format_money(value: Decimal, currency: str, locale: str = "en_GB") -> str:
    """An amount as the locale writes it, to the currency's minor unit (half-up)."""
    rules = locale_rules(locale)
    places = Currency.of(currency).exponent
    number = format(abs(value).quantize(_QUANTA[places], ROUND_HALF_UP), ",f")
    if rules.decimal != "." or rules.group != ",":
        number = number.translate({44: rules.group, 46: rules.decimal})
    symbol = _SYMBOLS.get(currency, currency)
    sign = "-" if value < 0 else ""
    if rules.symbol_first:
        sep = _NBSP if rules.symbol_space or len(symbol) == 3 else ""
        return f"{sign}{symbol}{sep}{number}"
    return f"{sign}{number}{_NBSP}{symbol}"


def format_date(value: date, locale: str = "en_GB", style: str = "short") -> str:
    """A date as the locale writes it: ``short`` (numeric) or ``long`` (month name)."""
    rules = locale_rules(locale)
    if style == "long":
        return rules.long_date.format(d=value.day, M=rules.months[value.month - 1], y=value.year)
    return rules.short_date.format(d=value.day, m=value.month, y=value.year)


#: Abbreviated units written out (a bill says "8,185 seconds", not "8185 s").
_UNIT_WORDS: dict[str, str] = {
    "s": "second", "sec": "second", "secs": "second", "seconds": "second",
    "min": "minute", "mins": "minute", "minutes": "minute", "h": "hour", "hr": "hour",
    "hours": "hour", "msg": "message", "msgs": "message", "sms": "message",
    "messages": "message", "units": "unit", "months": "month", "days": "day",
}
#: Symbols that take no plural (data sizes and the like).
_UNIT_SYMBOLS = frozenset({"B", "kB", "KB", "MB", "GB", "TB", "Mbit", "Gbit", "%"})
_unit_cache: dict[tuple[str, bool], str] = {}


def unit_words(unit: str, one: bool) -> str:
    """``unit`` as words for a quantity of one (``one``) or of any other amount: ``s`` ->
    ``second`` / ``seconds``, ``msg`` -> ``messages``, ``unit`` -> ``units``; data sizes
    (``MB``, ``GB``) stay as they are.

    >>> unit_words("s", False), unit_words("second", True), unit_words("MB", False)
    ('seconds', 'second', 'MB')
    """
    key = (unit, one)
    found = _unit_cache.get(key)
    if found is None:
        if unit in _UNIT_SYMBOLS or not unit:
            found = unit
        else:
            word = _UNIT_WORDS.get(unit.lower(), unit)
            found = word if one or word.endswith("s") else word + "s"
        if len(_unit_cache) < 1000:
            _unit_cache[key] = found
    return found
