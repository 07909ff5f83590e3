-- Schema for the checkout demo's "orders" service.
-- Applied once to a freshly created database, so no IF NOT EXISTS guards.

CREATE TABLE orders (
    id           bigserial   PRIMARY KEY,
    customer     text        NOT NULL,
    amount_cents integer     NOT NULL CHECK (amount_cents > 0),
    -- The provider's charge id. UNIQUE so one charge can never back two orders.
    payment_id   text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- GET /orders?customer=NAME filters on this column.
CREATE INDEX orders_customer_idx ON orders (customer);
