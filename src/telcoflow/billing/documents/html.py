"""The HTML statement: jinja2 templates (package data) that a host can override.

The environment is sandboxed (:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`: templates
written by a host cannot reach Python internals nor mutate the bill), autoescaping, with
:class:`jinja2.StrictUndefined` (a misspelt name is an error, not an empty string). Filters:
``money`` (in the bill's currency and locale), ``number``, ``date`` (``short`` or ``long``).
Templates compile once per renderer; build one renderer and reuse it.

Host templates are looked up first in ``template_dirs`` (then in ``templates``, a mapping of
name -> source), then in the package's ``templates/`` folder, so a host may replace
``statement.html.j2`` whole, or extend the packaged one under its full name
(``{% extends "telcoflow/statement.html.j2" %}``, which always means the package's) and override
its blocks: ``title``, ``style``, ``header``, ``content``, ``footer``. The packaged template
uses no inheritance itself: each level of it costs about a third more rendering time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from telcoflow.billing.cycle.model import (
    AccountPosition,
    Bill,
    BillCycle,
    BillLine,
    DiscountApplied,
    PayerPart,
    TaxSummary,
)
from telcoflow.billing.documents.formatting import format_date, format_number, money_formatter
from telcoflow.billing.documents.xml import BillDocumentError

__all__ = ["StatementRenderer"]


def _package_template(name: str) -> tuple[str, str, Callable[[], bool]] | None:
    name = name.removeprefix("telcoflow/")
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    ref = resources.files("telcoflow.billing.documents").joinpath("templates").joinpath(name)
    if not ref.is_file():
        return None
    return ref.read_text(encoding="utf-8"), f"telcoflow:templates/{name}", lambda: True


@jinja2.pass_context
def _money(ctx: jinja2.runtime.Context, value: Decimal) -> Markup:
    # amounts format to digits, separators and a currency symbol: nothing to escape
    fmt = ctx.get("_money_fmt")
    if fmt is None:
        fmt = money_formatter(ctx["currency"], ctx["locale"])
    return Markup(fmt(value))


@jinja2.pass_context
def _number(ctx: jinja2.runtime.Context, value: Decimal) -> str:
    return format_number(value, ctx["locale"])


@jinja2.pass_context
def _date(ctx: jinja2.runtime.Context, value: date, style: str = "short") -> str:
    return format_date(value, ctx["locale"], style)


#: Our own immutable value types: their public attributes are plain data, safe to read.
_PLAIN_DATA: frozenset[type] = frozenset({
    Bill, BillCycle, BillLine, DiscountApplied, TaxSummary, PayerPart, AccountPosition})


class _BillSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with a fast path for reading our bill value objects."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) in _PLAIN_DATA and not attribute.startswith("_"):
            try:
                return getattr(obj, attribute)
            except AttributeError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if type(obj) in _PLAIN_DATA and not attr.startswith("_"):
            return True
        return bool(super().is_safe_attribute(obj, attr, value))


class StatementRenderer:
    """Render bills as HTML statements with (host-overridable) jinja2 templates."""

    def __init__(
        self,
        *,
        template: str = "statement.html.j2",
        template_dirs: Sequence[str | Path] = (),
        templates: Mapping[str, str] | None = None,
        title: str = "Your bill",
    ) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if template_dirs:
            loaders.append(jinja2.FileSystemLoader([str(d) for d in template_dirs]))
        if templates:
            loaders.append(jinja2.DictLoader(dict(templates)))
        loaders.append(jinja2.FunctionLoader(_package_template))
        self._env = _BillSandbox(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters.update(money=_money, number=_number, date=_date)
        self.title = title
        try:
            self._template = self._env.get_template(template)
        except jinja2.TemplateError as exc:
            raise BillDocumentError(f"cannot load statement template {template!r}: "
                                    f"{_where(exc)}") from exc

    def render(self, bill: Bill, **extra: Any) -> str:
        """The statement of ``bill`` as an HTML page (``extra`` names reach the template)."""
        try:
            return self._template.render(
                bill=bill, currency=bill.currency, locale=bill.locale, title=self.title,
                _money_fmt=money_formatter(bill.currency, bill.locale), **extra)
        except jinja2.TemplateError as exc:
            raise BillDocumentError(
                f"cannot render the statement of bill {bill.bill_id}: {_where(exc)}") from exc


def _where(exc: jinja2.TemplateError) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
