-- pgbench_accounts' shape (pgbench -i, PostgreSQL 15), under another name, and as
-- `pgbench -i -I dtg` leaves it: no primary key, no index.
CREATE TABLE seed_accounts (
    aid      int NOT NULL,
    bid      int,
    abalance int,
    filler   char(84)
) WITH (fillfactor = 100);
