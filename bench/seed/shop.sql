-- Three related tables for the seed section's cache figure (shop.yaml): keys, foreign
-- keys and indexes, so a cold seed does all of its phases.
CREATE TABLE customers (
    id         bigserial   PRIMARY KEY,
    email      text        NOT NULL UNIQUE,
    name       text        NOT NULL,
    country    char(2)     NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE orders (
    id           bigserial   PRIMARY KEY,
    customer_id  bigint      NOT NULL REFERENCES customers (id),
    amount_cents integer     NOT NULL CHECK (amount_cents > 0),
    status       text        NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);

CREATE TABLE order_items (
    id          bigserial PRIMARY KEY,
    order_id    bigint    NOT NULL REFERENCES orders (id),
    sku         text      NOT NULL,
    quantity    smallint  NOT NULL CHECK (quantity > 0),
    price_cents integer   NOT NULL CHECK (price_cents > 0)
);
CREATE INDEX order_items_order_id_idx ON order_items (order_id);
