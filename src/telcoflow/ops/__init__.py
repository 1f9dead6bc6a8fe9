"""Operations: audits, reconciliation, the daily report and the Prometheus exposition of the
real-time path's KPIs (collected by :class:`telcoflow.billing.kpis.Kpis`)."""

from telcoflow.ops.prometheus import exposition, registry_for

__all__ = ["exposition", "registry_for"]
