# Routine tasks. `make test` runs what CI runs, against a local PostgreSQL when
# SIMFLEET_TEST_DATABASE_URL is set (see README).

.PHONY: test lint fmt ci run bench-api

test:
	cargo test --workspace

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

ci:
	bash .ci/run

run:
	cargo run --release -p simfleet -- serve

bench-api:
	bash bench/api.sh
