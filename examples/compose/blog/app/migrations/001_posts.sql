CREATE TABLE posts (
    id         bigserial PRIMARY KEY,
    slug       text NOT NULL UNIQUE,
    title      text NOT NULL,
    body       text NOT NULL,
    published  timestamptz NOT NULL DEFAULT now()
);
