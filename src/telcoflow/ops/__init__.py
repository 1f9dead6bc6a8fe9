"""Operations: KPIs of the real-time path and their Prometheus exposition."""

from telcoflow.ops.kpis import Kpis, KpiSnapshot
from telcoflow.ops.prometheus import exposition, registry_for

__all__ = ["KpiSnapshot", "Kpis", "exposition", "registry_for"]
