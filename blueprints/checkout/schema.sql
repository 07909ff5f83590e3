-- Schema for the checkout demo's "orders" service.
-- Applied once to a freshly created database, so no IF NOT EXISTS guards.
-- envctl seeds customers, products, orders and order_items (see checkout.yaml, `data`).

CREATE TABLE customers (
    id         bigserial   PRIMARY KEY,
    email      text        NOT NULL UNIQUE,
    name       text        NOT NULL,
    country    char(2)     NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE products (
    id          serial  PRIMARY KEY,
    sku         text    NOT NULL UNIQUE,
    name        text    NOT NULL,
    price_cents integer NOT NULL CHECK (price_cents > 0)
);

CREATE TABLE orders (
    id           bigserial   PRIMARY KEY,
    customer     text        NOT NULL,
    -- Set for orders of registered customers; the API's guest checkout leaves it NULL.
    customer_id  bigint      REFERENCES customers (id),
    amount_cents integer     NOT NULL CHECK (amount_cents > 0),
    -- The provider's charge id. UNIQUE so one charge can never back two orders.
    payment_id   text        NOT NULL UNIQUE,
    status       text        NOT NULL DEFAULT 'paid',
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- GET /orders?customer=NAME filters on this column.
CREATE INDEX orders_customer_idx ON orders (customer);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);

CREATE TABLE order_items (
    id               bigserial PRIMARY KEY,
    order_id         bigint    NOT NULL REFERENCES orders (id),
    product_id       integer   NOT NULL REFERENCES products (id),
    quantity         smallint  NOT NULL CHECK (quantity > 0),
    unit_price_cents integer   NOT NULL CHECK (unit_price_cents > 0)
);

CREATE INDEX order_items_order_idx ON order_items (order_id);
