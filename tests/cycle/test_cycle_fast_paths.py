"""The bill run's fast paths give the very same results as the plain ones they replace."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from cycle_helpers import FAMILY_LINES, NOV, family_account, line
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup, escape

from telcoflow.billing.cycle import Bill, ClosePolicy, close_account
from telcoflow.billing.cycle.model import check_bill
from telcoflow.billing.documents import StatementRenderer, format_money, format_number
from telcoflow.billing.documents.formatting import money_formatter, number_formatter
from telcoflow.billing.documents.html import _escape_output
from telcoflow.errors import MoneyError
from telcoflow.ledger import LedgerLine

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
                   "€20.00|€64.46")


def test_statement_view_is_the_bill_formatted(bill: Bill) -> None:
    view = StatementRenderer().view(bill)
    assert (view.lang, view.bill_id, view.account_name) == ("en", "A-2026-11-01", "Ada & <Co>")
    assert (view.start, view.end, view.issued, view.due) == (
        "01/11/2026", "30/11/2026", "1 December 2026", "15 December 2026")
    # line 1: S1's basic plan fee, 1 month, 20.00 - 1.05 discount, tax 3.79, gross 22.74
    # (figures worked in test_cycle_close.test_full_close_worked_by_hand)
    assert view.lines[0] == ("S1", "5G Basic", "1 month", "€20.00", "€1.05", "€3.79",
                             "€22.74")
    assert (view.subtotal, view.discount_total, view.tax_total, view.total) == (
        "€59.01", "€5.00", "€10.45", "€64.46")
    assert view.split == (("CORP", "€25.00"), ("A", "€39.46"))
    assert view.taxes == (("digital", "10", "€3.48", "€0.35"), ("telecom", "20", "€50.53",
                                                                 "€10.10"))
    assert (view.previous_balance, view.payments, view.adjustments, view.amount_due) == (
        "€10.00", "€10.00", "-€2.00", "€37.46")
    assert view.paid_by == (("S1", "5G Basic", "CORP"), ("S2", "5G Family", "CORP"))


def test_check_bill_finds_a_line_that_does_not_add_up(bill: Bill) -> None:
    assert check_bill(bill) == []
    first = bill.lines[0]
    broken = first._replace(net=first.net + 1)  # 18.95 -> 19.95: net and gross disagree
    with pytest.raises(MoneyError, match=r"line 1: net 19\.95 != 20\.00 - 1\.05"):
        replace(bill, lines=(broken, *bill.lines[1:]))


@settings(max_examples=300, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**6, max_value=10**6,
                   places=4),
       st.decimals(allow_nan=False, allow_infinity=False, min_value=0, max_value=100, places=3))
def test_tax_by_fraction_equals_tax_by_division(net: Decimal, rate: Decimal) -> None:
    # the close taxes a line as net * (rate / 100); the definition is net * rate / 100
    quantum = D("0.01")
    assert (net * (rate / 100)).quantize(quantum) == (net * rate / 100).quantize(quantum)


# -- the statement template's code generator ---------------------------------------------

HOST_TEMPLATE = (
    "{% macro cell(v) %}<td>{{ v }}</td>{% endmacro %}"
    "{% set head %}<b>{{ s.account_name }}</b>{% endset %}{{ head }}|"
    "{% for sub, item, qty, amount, discount, tax, gross in s.lines %}"
    "<tr>{{ cell(sub) }}{{ item }} {{ qty }} {{ amount }}{{ loop.index }}</tr>{% endfor %}|"
    "{% filter upper %}{{ s.bill_id }} {{ bill.account_name }}{% endfilter %}|"
    "{{ 42 }} {{ s.lines | length }} {{ bill.lines[0].line_no }} {{ '<x>' | safe }}|"
    "{% if s.split %}{% for p, a in s.split %}{{ p }}={{ a }};{% endfor %}{% endif %}|"
    "{{ s.total }}{{ s['total'] }}{{ bill.total | money }}{{ bill.cycle.start | date('long') }}"
)


def _plain_jinja2(renderer: StatementRenderer) -> StatementRenderer:
    """The same renderer compiled by jinja2's own code generator."""
    from jinja2.compiler import CodeGenerator

    from telcoflow.billing.documents import html

    class PlainSandbox(html._BillSandbox):
        code_generator_class = CodeGenerator

    env = PlainSandbox(loader=renderer._env.loader, autoescape=True,
                       undefined=renderer._env.undefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(renderer._env.filters)
    plain = StatementRenderer.__new__(StatementRenderer)
    plain.__dict__.update(renderer.__dict__)
    plain._env = env
    plain._template = env.get_template(renderer._template.name or "")
    plain._globals = dict(plain._template.globals)
    return plain


@pytest.mark.parametrize("template", ["statement.html.j2", "host.j2", "child.j2"])
def test_generated_code_renders_what_jinja2_renders(bill: Bill, template: str) -> None:
    renderer = StatementRenderer(template=template, templates={
        "host.j2": HOST_TEMPLATE,
        "child.j2": '{% extends "telcoflow/statement.html.j2" %}'
                    "{% block header %}<h1>{{ s.account_name }} {{ title }}</h1>{% endblock %}"
                    "{% block footer %}{{ super() }}<p>{{ s.amount_due }}</p>{% endblock %}"})
    out = renderer.render(bill)
    assert out == _plain_jinja2(renderer).render(bill)
    assert "Ada &amp; &lt;Co&gt;" in out
    assert "Ada & <Co>" not in out
    if template == "host.j2":
        assert out.startswith("<b>Ada &amp; &lt;Co&gt;</b>|<tr><td>S1</td>5G Basic 1 month €20.001")
        assert "A-2026-11-01 ADA &AMP; &LT;CO&GT;" in out
        assert out.endswith("|42 5 1 <x>|CORP=€25.00;A=€39.46;|€64.46€64.46€64.461 November 2026")


def test_a_misspelt_view_field_is_still_an_undefined_error(bill: Bill) -> None:
    from telcoflow.billing.documents import BillDocumentError

    renderer = StatementRenderer(templates={"t.j2": "{{ s.totl }}"}, template="t.j2")
    with pytest.raises(BillDocumentError, match="totl"):
        renderer.render(bill)
    private = StatementRenderer(templates={"t.j2": "{{ s.__class__ }}"}, template="t.j2")
    with pytest.raises(BillDocumentError):
        private.render(bill)


def test_a_host_value_named_s_that_is_not_a_view_goes_through_the_sandbox(bill: Bill) -> None:
    renderer = StatementRenderer(templates={"t.j2": "{{ s.total }}|{{ s.lines }}"},
                                 template="t.j2")
    assert renderer.render(bill, s={"total": "<t>", "lines": 3}) == "&lt;t&gt;|3"


# -- ledger rows, the closer, bills built consistent --------------------------------------


def test_rows_by_account_reads_the_same_lines(tmp_path: Path, policy: ClosePolicy) -> None:
    from telcoflow.billing.cycle import CycleCloser, MemoryLedger
    from telcoflow.billing.cycle.sources import lines_by_account, rows_by_account
    from telcoflow.stores.sqlite import SQLiteLedger

    other = line("A", "S1", "voice", "9.99", "10", period="2026-10-01")
    lines = [*FAMILY_LINES, other, line("B", "S9", "sms", "0.10", "1")]
    sqlite = SQLiteLedger(tmp_path / "ledger.db")
    sqlite.write(lines)
    closer = CycleCloser(policy, NOV)
    for reader in (sqlite, MemoryLedger(lines)):
        rows = rows_by_account(reader, NOV.key, ["A", "B", "C"])
        by_line = lines_by_account(reader, NOV.key, ["A", "B", "C"])
        for account_id in ("A", "B", "C"):
            expected = [(ln.subscriber, ln.item_type, ln.currency, ln.amount, ln.quantity)
                        for ln in by_line[account_id] if ln.period == NOV.key]
            assert sorted(rows[account_id]) == sorted(expected)
        assert rows["C"] == []
        account = family_account()
        a_lines = [ln for ln in lines if ln.account == "A"]
        assert closer.close_rows(account, rows["A"]) == closer(account, a_lines)
    sqlite.close()


def test_closed_bills_pass_check_bill_and_equal_checked_ones(policy: ClosePolicy) -> None:
    from cycle_helpers import population

    from telcoflow.billing.cycle import CycleCloser

    closer = CycleCloser(policy, NOV)
    accounts, lines = population(60)
    by_account: dict[str, list[LedgerLine]] = {}
    for ln in lines:
        by_account.setdefault(ln.account, []).append(ln)
    bills = [closer(a, by_account.get(a.account_id, ())) for a in accounts]
    bills.append(close_account(family_account(), FAMILY_LINES, NOV, policy))
    checked = 0
    for b in bills:
        if isinstance(b, Bill):
            assert check_bill(b) == []
            assert replace(b) == b  # the same fields through the checking constructor
            checked += 1
    assert checked > 40


def test_the_close_refuses_discounts_that_do_not_reach_the_lines(
        policy: ClosePolicy, monkeypatch: pytest.MonkeyPatch) -> None:
    from telcoflow.billing.cycle import close

    def short(amount: Decimal, weights: list[Decimal], quantum: Decimal) -> list[Decimal]:
        return [amount - quantum, *[D(0)] * (len(weights) - 1)]  # one cent lost

    monkeypatch.setattr(close, "allocate", short)
    with pytest.raises(MoneyError, match="discounts listed"):
        close_account(family_account(), FAMILY_LINES, NOV, policy)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-10**8, max_value=10**8), st.integers(min_value=0, max_value=4),
       st.sampled_from(LOCALES))
def test_number_formatter_groups_whole_and_decimal_numbers(
        digits: int, places: int, locale: str) -> None:
    value = D(digits).scaleb(-places)
    fmt = number_formatter(locale)
    assert fmt(value) == format_number(value, locale)
    assert fmt(value) == format_number(value, locale)  # remembered: the same text


def test_formatters_remember_texts_not_values() -> None:
    gb = number_formatter("en_GB")
    assert (gb(D("1234")), gb(D("1234.0")), gb(D("1234.00"))) == ("1,234", "1,234.0", "1,234.00")
    eur = money_formatter("EUR", "en_GB")
    assert (eur(D("-0.00")), eur(D("0")), eur(D("0.00")), eur(D("5.5"))) == (
        "€0.00", "€0.00", "€0.00", "€5.50")


def test_xml_writes_numbers_in_exponent_notation_out(bill: Bill) -> None:
    from telcoflow.billing.documents import render_bill_xml, validate_bill_xml

    first = bill.lines[0]
    odd = replace(bill, lines=(first._replace(quantity=D("3E+1")), *bill.lines[1:]),
                  position=bill.position._replace(previous_balance=D("1E+1"),
                                                  amount_due=bill.position.amount_due))
    xml = render_bill_xml(odd)
    validate_bill_xml(xml)
    assert b'<quantity unit="month">30</quantity>' in xml
    assert b"<previousBalance>10</previousBalance>" in xml
    assert b"E+" not in xml
    plain = replace(bill, lines=(first._replace(quantity=D(30)), *bill.lines[1:]))
    assert render_bill_xml(plain) == xml.replace(b"<previousBalance>10<",
                                                 b"<previousBalance>10.00<")
