"""The bill run's fast paths give the very same results as the plain ones they replace."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from cycle_helpers import FAMILY_LINES, NOV, family_account
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup, escape

from telcoflow.billing.cycle import Bill, ClosePolicy, close_account
from telcoflow.billing.cycle.model import check_bill
from telcoflow.billing.documents import StatementRenderer, format_money, format_number
from telcoflow.billing.documents.formatting import money_formatter, number_formatter
from telcoflow.billing.documents.html import _escape_output
from telcoflow.errors import MoneyError

D = Decimal
LOCALES = ["en_GB", "en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR"]
CURRENCIES = ["EUR", "USD", "JPY", "GBP", "BRL"]

decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**9, max_value=10**9,
                       places=None)


@pytest.fixture
def bill(policy: ClosePolicy) -> Bill:
    result = close_account(family_account(), FAMILY_LINES, NOV, policy)
    assert isinstance(result, Bill)
    return result


@settings(max_examples=300, deadline=None)
@given(decimals, st.sampled_from(CURRENCIES), st.sampled_from(LOCALES))
def test_money_formatter_matches_format_money(value: Decimal, currency: str, locale: str) -> None:
    assert money_formatter(currency, locale)(value) == format_money(value, currency, locale)


@settings(max_examples=300, deadline=None)
@given(decimals, st.sampled_from(LOCALES))
def test_number_formatter_matches_format_number(value: Decimal, locale: str) -> None:
    assert number_formatter(locale)(value) == format_number(value, locale)


def test_money_formatter_edge_cases_worked_by_hand() -> None:
    eur_gb, eur_de = money_formatter("EUR", "en_GB"), money_formatter("EUR", "de_DE")
    # the fast path: already rounded, below a thousand, not negative
    assert eur_gb(D("69.62")) == "€69.62"
    assert eur_de(D("69.62")) == "69,62\xa0€"
    # the general path: rounding (half-up), grouping, sign, an unrounded zero
    assert eur_gb(D("0.005")) == "€0.01"
    assert eur_gb(D("1234.5")) == "€1,234.50"
    assert eur_de(D("1234.5")) == "1.234,50\xa0€"
    assert eur_gb(D("-3.10")) == "-€3.10"
    assert eur_gb(D("-0.00")) == "€0.00"  # a negative zero prints as zero
    assert eur_gb(D(0)) == "€0.00"
    assert eur_gb(D("1E+1")) == "€10.00"
    assert money_formatter("JPY", "en_US")(D("5")) == "¥5"
    assert number_formatter("de_DE")(D("1234.5")) == "1.234,5"
    assert number_formatter("fr_FR")(D("2.5")) == "2,5"
    assert number_formatter("en_GB")(D("1E+2")) == "100"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_output_escaping_matches_markupsafe(text: str) -> None:
    assert _escape_output(text) == str(escape(text))


def test_output_escaping_keeps_markup_and_other_types() -> None:
    assert _escape_output(Markup("<b>ok</b>")) == "<b>ok</b>"  # already safe: left alone
    assert _escape_output(42) == "42"
    assert _escape_output("<a href='x'>&\"") == "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"


def test_host_templates_still_autoescape_with_the_fast_output(bill: Bill) -> None:
    renderer = StatementRenderer(templates={
        "t.j2": "{{ bill.account_name }}|{{ s.account_name }}|{{ '<i>' | safe }}|"
                "{{ bill.account_name ~ '!' }}|{% autoescape false %}{{ '<u>' }}"
                "{% endautoescape %}|{{ s.lines[0][3] }}|{{ bill.total | money }}"},
        template="t.j2")
    out = renderer.render(bill)
    # the name is "Ada & <Co>"; `~` concatenates under autoescape (escaped once, not twice)
    assert out == ("Ada &amp; &lt;Co&gt;|Ada &amp; &lt;Co&gt;|<i>|Ada &amp; &lt;Co&gt;!|<u>|"
                   "€20.00|€71.62")


def test_statement_view_is_the_bill_formatted(bill: Bill) -> None:
    view = StatementRenderer().view(bill)
    assert (view.lang, view.bill_id, view.account_name) == ("en", "A-2026-11-01", "Ada & <Co>")
    assert (view.start, view.end, view.issued, view.due) == (
        "01/11/2026", "30/11/2026", "1 December 2026", "15 December 2026")
    # line 1: S1's basic plan fee, 30 days, 20.00 - 1.04 discount, tax 3.79, gross 22.75
    assert view.lines[0] == ("S1", "5G Basic", "30 day", "€20.00", "€1.04", "€3.79", "€22.75")
    assert (view.subtotal, view.discount_total, view.tax_total, view.total) == (
        "€64.50", "€4.50", "€11.62", "€71.62")
    assert view.split == (("CORP", "€25.00"), ("A", "€46.62"))
    assert view.taxes == (("digital", "10", "€3.79", "€0.38"), ("telecom", "20", "€56.21",
                                                                 "€11.24"))
    assert (view.previous_balance, view.payments, view.adjustments, view.amount_due) == (
        "€10.00", "€10.00", "-€2.00", "€69.62")


def test_check_bill_finds_a_line_that_does_not_add_up(bill: Bill) -> None:
    assert check_bill(bill) == []
    first = bill.lines[0]
    broken = first._replace(net=first.net + 1)  # 18.96 -> 19.96: net and gross disagree
    with pytest.raises(MoneyError, match=r"line 1: net 19\.96 != 20\.00 - 1\.04"):
        replace(bill, lines=(broken, *bill.lines[1:]))


@settings(max_examples=300, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**6, max_value=10**6,
                   places=4),
       st.decimals(allow_nan=False, allow_infinity=False, min_value=0, max_value=100, places=3))
def test_tax_by_fraction_equals_tax_by_division(net: Decimal, rate: Decimal) -> None:
    # the close taxes a line as net * (rate / 100); the definition is net * rate / 100
    quantum = D("0.01")
    assert (net * (rate / 100)).quantize(quantum) == (net * rate / 100).quantize(quantum)
