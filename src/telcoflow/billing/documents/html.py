"""The HTML statement: jinja2 templates (package data) that a host can override.

The environment is sandboxed (:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`: templates
written by a host cannot reach Python internals nor mutate the bill), autoescaping, with
:class:`jinja2.StrictUndefined` (a misspelt name is an error, not an empty string). Filters:
``money`` (in the bill's currency and locale), ``number``, ``date`` (``short`` or ``long``).
Templates compile once per renderer; build one renderer and reuse it.

A template sees ``bill`` (the :class:`~telcoflow.billing.cycle.model.Bill`, for the filters),
``s`` (a :class:`StatementView`: the same bill already formatted for its locale, plain strings
and tuples, which is what the packaged template prints: a bill run renders a million of them,
and formatting each cell through a filter costs more than the rest of the page), ``title``,
``currency`` and ``locale``.

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

from telcoflow._optional import requires
from telcoflow.billing.cycle.model import (
    AccountPosition,
    Bill,
    BillCycle,
    BillLine,
    DiscountApplied,
    MemberCharge,
    PayerPart,
    TaxSummary,
)
from telcoflow.billing.cycle.policy import Issuer
from telcoflow.billing.documents.formatting import (
    format_date,
    format_number,
    money_formatter,
    number_formatter,
    unit_words,
)
from telcoflow.billing.documents.xml import BillDocumentError

with requires("documents", "bill statements (HTML)"):
    import jinja2
    from jinja2 import nodes
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.nodes import Expr
    from jinja2.runtime import new_context
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from markupsafe import Markup, escape

__all__ = ["StatementRenderer", "StatementView"]


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


class StatementView:
    """A bill formatted for its locale, as the statement template prints it (``s``).

    Every value is a string (amounts with their currency symbol, dates written out) or a tuple
    of strings: ``lines`` holds ``(subscriber, description, quantity, amount, discount, tax,
    total)`` per bill line (``quantity`` with its unit), ``discounts`` ``(description,
    amount)``, ``taxes`` ``(category, rate, base, amount)``, ``split`` ``(payer, amount)``
    when more than one payer shares the bill (empty otherwise). The template still escapes
    every value it prints.
    """

    __slots__ = ("account_id", "account_name", "address", "adjustments", "amount_due",
                 "balance", "bill_id", "bill_total", "discount_total", "discounts", "due", "end",
                 "issued", "issuer", "issuer_address", "issuer_footer", "kind", "lang", "lines",
                 "members", "paid_by", "payments", "previous_balance", "split", "start",
                 "subtotal", "tax_total", "taxes", "total")

    lang: str
    #: the issuer's name and address lines (empty without an issuer) and its foot lines
    #: (tax id, payment details, contact)
    issuer: str
    issuer_address: tuple[str, ...]
    issuer_footer: tuple[str, ...]
    bill_id: str
    account_id: str
    account_name: str
    address: tuple[str, ...]
    start: str
    end: str
    issued: str
    due: str
    lines: tuple[tuple[str, str, str, str, str, str, str], ...]
    subtotal: str
    discount_total: str
    tax_total: str
    total: str
    discounts: tuple[tuple[str, str], ...]
    taxes: tuple[tuple[str, str, str, str], ...]
    split: tuple[tuple[str, str], ...]
    previous_balance: str
    payments: str
    adjustments: str
    bill_total: str
    amount_due: str
    #: ``bill``, ``statement`` (prepaid) or ``payer`` (what a payer pays for its members)
    kind: str
    #: lines paid by someone else: (subscriber, item, payer: an account id or ``balance``)
    paid_by: tuple[tuple[str, str, str], ...]
    #: a payer's members: (member account, subscriber, item, total paid)
    members: tuple[tuple[str, str, str, str], ...]
    #: a prepaid account's (opening balance, top-ups, paid from the balance, closing
    #: balance); empty otherwise
    balance: tuple[str, str, str, str] | tuple[()]


#: Our own immutable value types: their public attributes are plain data, safe to read.
_PLAIN_DATA: frozenset[type] = frozenset({
    Bill, BillCycle, BillLine, DiscountApplied, TaxSummary, PayerPart, AccountPosition,
    MemberCharge, StatementView})


try:  # markupsafe's own C escaper (what ``escape`` calls), without the Markup wrapper
    from markupsafe._speedups import _escape_inner
except ImportError:  # pragma: no cover - markupsafe without speedups, or an older one
    def _escape_inner(s: str, /) -> str:
        return (s.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
                .replace("'", "&#39;").replace('"', "&#34;"))


def _escape_output(value: Any) -> str:
    """Escape one printed value: what :func:`markupsafe.escape` does, without building a
    ``Markup`` for a plain string (the text goes straight into the page)."""
    if type(value) is str:
        return _escape_inner(value)
    return escape(value)


#: The fields of :class:`StatementView` (plain strings and tuples of strings: safe to read).
_VIEW_FIELDS: frozenset[str] = frozenset(StatementView.__slots__)


class _OutputCodeGenerator(CodeGenerator):
    """jinja2's code generator, with cheaper code for printing values in root and blocks.

    * ``{{ value }}`` under autoescape compiles to ``environment.escape_output(value)``: the
      same escaping as jinja2's ``escape(value)``, except that a plain string printed to the
      page does not become a ``Markup`` object first (most of the cost of an autoescaped
      output). Expressions inside ``{{ }}`` (filters, concatenation) still see ``Markup``.
    * An output node (a run of template data and ``{{ }}``, such as a statement line of
      seven cells) is one ``yield concat((...))`` instead of one ``yield`` per piece (fifteen
      generator resumptions for that line); the page is the same.
    * In the template's root and block functions (jinja2 sets up their locals, see
      :meth:`write_commons`) that escaping is written inline, and ``{{ s.total }}`` reads a
      :class:`StatementView` field directly when the object is one (anything else still goes
      through the sandbox's ``getattr``): a statement prints some sixty values, and these
      two function calls per value were a third of its rendering time.

    Buffered output (macros, call, filter and set blocks) keeps jinja2's own code.
    """

    _inline = False  # True while writing an output expression of a root or block function

    def write_commons(self) -> None:
        super().write_commons()
        self.writeline("escape_str = environment.escape_str")
        self.writeline("view_type = environment.view_type")

    def _output_child_pre(self, node: Expr, frame: Frame, finalize: Any) -> None:
        if frame.eval_ctx.autoescape and not frame.eval_ctx.volatile:
            if self._inline and finalize.src is None:
                self.write("(escape_str(_out) if type(_out := ")
                return
            self.write("environment.escape_output(")
            if finalize.src is not None:
                self.write(finalize.src)
            return
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: Expr, frame: Frame, finalize: Any) -> None:
        if (self._inline and finalize.src is None and frame.eval_ctx.autoescape
                and not frame.eval_ctx.volatile):
            self.write(") is str else escape(_out))")
            return
        super()._output_child_post(node, frame, finalize)

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:  # noqa: N802 - jinja2's
        if not self._inline or node.attr not in _VIEW_FIELDS or self.environment.is_async:
            super().visit_Getattr(node, frame)
            return
        self.write("(_obj.")
        self.write(node.attr)
        self.write(" if type(_obj := ")
        self.visit(node.node, frame)
        self.write(f") is view_type else environment.getattr(_obj, {node.attr!r}))")

    def _output_expression(self, item: Expr, frame: Frame, finalize: Any) -> None:
        self._inline = True
        try:
            self._output_child_pre(item, frame, finalize)
            self.visit(item, frame)
            self._output_child_post(item, frame, finalize)
        finally:
            self._inline = False

    def visit_Block(self, node: nodes.Block, frame: Frame) -> None:  # noqa: N802 - jinja2's
        """A block of plain template data (the statement's ``style``, its empty ``footer``)
        called from the root is written out in place while it is the template's own: no
        generator and no block function per page. A child template's override (the block
        list then starts with the child's function) is called as jinja2 calls it."""
        text = self._constant_block(node, frame)
        if text is None:
            super().visit_Block(node, frame)
            return
        self.writeline(f"if context.blocks[{node.name!r}][0] is block_{node.name}:", node)
        self.indent()
        self.writeline(f"yield {text!r}" if text else "pass")
        self.outdent()
        self.writeline("else:")
        self.indent()
        self.writeline(f"yield from context.blocks[{node.name!r}][0](context)", node)
        self.outdent()

    def _constant_block(self, node: nodes.Block, frame: Frame) -> str | None:
        """The text of a root-level block made only of template data, else None."""
        if (not frame.toplevel or frame.buffer is not None or self.environment.is_async
                or self.has_known_extends or self.extends_so_far or node.scoped
                or node.required):
            return None
        pieces: list[str] = []
        for child in node.body:
            if not isinstance(child, nodes.Output):
                return None
            for data in child.nodes:
                if not isinstance(data, nodes.TemplateData):
                    return None
                pieces.append(data.data)
        return "".join(pieces)

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:  # noqa: N802 - jinja2's
        if frame.buffer is not None or self.environment.is_async:
            super().visit_Output(node, frame)
            return
        if frame.require_output_check:
            if self.has_known_extends:
                return
            self.writeline("if parent_template is None:")
            self.indent()
        finalize = self._make_finalize()
        body: list[list[str] | Expr] = []
        for child in node.nodes:
            try:  # constants are rendered now, as jinja2 does (see CodeGenerator.visit_Output)
                if not (finalize.const or isinstance(child, nodes.TemplateData)):
                    raise nodes.Impossible()
                const = self._output_child_to_const(child, frame, finalize)
            except (nodes.Impossible, Exception):
                body.append(child)
                continue
            if body and isinstance(body[-1], list):
                body[-1].append(const)
            else:
                body.append([const])
        if len(body) == 1:
            item = body[0]
            if isinstance(item, list):
                self.writeline("yield " + self._output_const_repr(item))
            else:
                self.writeline("yield ", item)
                self._output_expression(item, frame, finalize)
        else:
            self.writeline("yield concat((")
            self.indent()
            for item in body:
                if isinstance(item, list):
                    self.writeline(self._output_const_repr(item) + ",")
                else:
                    self.newline(item)
                    self._output_expression(item, frame, finalize)
                    self.write(",")
            self.outdent()
            self.writeline("))")
        if frame.require_output_check:
            self.outdent()


class _BillSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with a fast path for reading our bill value objects."""

    code_generator_class = _OutputCodeGenerator
    escape_output = staticmethod(_escape_output)
    escape_str = staticmethod(_escape_inner)  # a plain string -> its escaped text
    view_type = StatementView

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
        issuer: Issuer | None = None,
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
        self.issuer = issuer
        self._issuer_lines: tuple[str, tuple[str, ...], tuple[str, ...]] = (
            ("", (), ()) if issuer is None else (
                issuer.name, issuer.address,
                (*([f"VAT number {issuer.vat_id}"] if issuer.vat_id else []),
                 *(f"Payment: {p}" for p in issuer.payment),
                 *([f"Contact: {issuer.contact}"] if issuer.contact else []))))
        try:
            self._template = self._env.get_template(template)
        except jinja2.TemplateError as exc:
            raise BillDocumentError(f"cannot load statement template {template!r}: "
                                    f"{_where(exc)}") from exc
        self._dates: dict[tuple[str, date, date, date], tuple[str, str, str, str]] = {}
        # the template's globals as a plain dict: a context takes the set of their names, and
        # the template's own ChainMap costs more to list than the rest of the context
        self._globals: dict[str, Any] = dict(self._template.globals)
        self._concat: Callable[[Any], str] = self._env.concat

    def _cycle_dates(self, locale: str, cycle: BillCycle, due: date) -> tuple[str, str, str, str]:
        """Start, end, issue and due dates as ``locale`` writes them (the same for every bill
        of a cycle, so worked out once)."""
        key = (locale, cycle.start, cycle.end, due)  # not the cycle: its hash runs Python
        dates = self._dates.get(key)
        if dates is None:
            if len(self._dates) > 1000:
                self._dates.clear()
            dates = self._dates[key] = (
                format_date(cycle.start, locale, "short"), format_date(cycle.end, locale, "short"),
                format_date(cycle.bill_date, locale, "long"), format_date(due, locale, "long"))
        return dates

    def view(self, bill: Bill) -> StatementView:
        """``bill`` formatted for its locale (what the template sees as ``s``)."""
        locale = bill.locale
        money = money_formatter(bill.currency, locale)
        number = number_formatter(locale)
        pos = bill.position
        v = StatementView()
        v.lang = locale[:2]
        v.bill_id = bill.bill_id
        v.account_id = bill.account_id
        v.account_name = bill.account_name
        v.address = bill.address
        v.start, v.end, v.issued, v.due = self._cycle_dates(locale, bill.cycle, pos.due_date)
        v.issuer, v.issuer_address, v.issuer_footer = self._issuer_lines
        v.lines = tuple([
            (ln.subscriber_id, ln.description,
             number(ln.quantity) + " " + unit_words(ln.unit, ln.quantity == 1),
             money(ln.amount), money(ln.discount), money(ln.tax), money(ln.gross))
            for ln in bill.lines])
        v.subtotal = money(bill.subtotal)
        v.discount_total = money(bill.discount_total)
        v.tax_total = money(bill.tax_total)
        v.total = total = money(bill.total)
        v.discounts = tuple([(d.description, money(d.amount)) for d in bill.discounts])
        v.taxes = tuple([(t.category, number(t.rate), money(t.base), money(t.amount))
                         for t in bill.taxes])
        parts = bill.payer_parts
        v.split = tuple([(p.payer_id, money(p.amount)) for p in parts]) if len(parts) > 1 else ()
        v.previous_balance = money(pos.previous_balance)
        v.payments = money(pos.payments)
        v.adjustments = money(pos.adjustments)
        v.bill_total = total if pos.bill_total == bill.total else money(pos.bill_total)
        v.amount_due = money(pos.amount_due)
        v.kind = bill.kind
        v.paid_by = tuple([(ln.subscriber_id, ln.description, ln.paid_by)
                           for ln in bill.lines if ln.paid_by])
        v.members = tuple([(m.member_id, m.subscriber_id, m.item_type, money(m.gross))
                           for m in bill.members])
        opening, closing = bill.opening_balance, bill.closing_balance
        v.balance = ((money(opening), money(bill.top_ups), money(bill.paid_from_balance),
                      money(closing)) if opening is not None and closing is not None else ())
        return v

    def render(self, bill: Bill, **extra: Any) -> str:
        """The statement of ``bill`` as an HTML page (``extra`` names reach the template)."""
        # what Template.render does, with the globals merged once rather than per bill
        template = self._template
        names = self._globals.copy()
        names["bill"] = bill
        names["s"] = self.view(bill)
        names["currency"] = bill.currency
        names["locale"] = bill.locale
        names["title"] = self.title
        names["_money_fmt"] = money_formatter(bill.currency, bill.locale)
        if extra:
            names.update(extra)
        try:
            try:
                context = new_context(self._env, template.name, template.blocks, names,
                                      shared=True, globals=self._globals)
                return self._concat(template.root_render_func(context))
            except Exception:
                self._env.handle_exception()  # re-raises, traceback in template lines
        except jinja2.TemplateError as exc:
            raise BillDocumentError(
                f"cannot render the statement of bill {bill.bill_id}: {_where(exc)}") from exc


def _where(exc: jinja2.TemplateError) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
