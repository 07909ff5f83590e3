"""Cost per run: metering (meter.py), prices (pricing.py), the ledger, budgets, reports."""
