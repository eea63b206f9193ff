-- Idempotency keys of requests that spend money at the provider (orders). A client that
-- retries such a request with the same key gets the first request's result, not a second
-- order. `result` is NULL while the request is being placed.
CREATE TABLE request_keys (
    scope           TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    result          TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX request_keys_created ON request_keys (created_at);
