"""Storage backends, one subpackage (or module) per backend.

* :mod:`.memory` -- in-memory ledger and journey stores (tests, benchmarks, one process);
* :mod:`.sqlite` -- the embedded, durable stores (ledger, journeys, bill run) and the bill
  run's SQLite sources;
* :mod:`.postgres` -- the same stores in PostgreSQL, for many workers;
* :mod:`.redis` -- the Redis profile cache.

The protocols they implement stay with the layer that uses them:
:class:`telcoflow.ledger.LedgerStore`, :class:`telcoflow.journeys.store.JourneyStore` and
:class:`telcoflow.billing.cycle.store.BillStore`. :mod:`telcoflow.config` opens any of them by
URL (``open_ledger_store``, ``open_journey_store``, ``open_bill_store``). A store never imports
the application layer (config, worker, CLI, demo); no engine imports a store.
"""
