"""Cost per run: prices, the ledger, budgets, reports and `envctl cost`."""
