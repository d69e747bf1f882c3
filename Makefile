# The two commands a newcomer needs: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint proto clean docker-sandbox

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job on embedded defaults: shipped sample candles, built-in proposer, no key, no network.
# A bounded research run; its JSON summary ends with the best candidate's HTML report.
RUN_ITERATIONS ?= 40
run: $(STAMP)
	@$(BIN)/rara validate > /dev/null || ($(BIN)/rara validate; exit 1)
	$(BIN)/rara data resample --symbol BTC/USDT --from 5m --to 4h --tail 1
	$(BIN)/rara research run --iterations $(RUN_ITERATIONS) --symbol BTC/USDT --timeframe 1h

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check rara sandbox tests benchmarks docker scripts
	$(BIN)/ruff format --check rara sandbox tests benchmarks docker scripts
	$(BIN)/mypy rara sandbox/rara_sandbox
	bash scripts/proto.sh --check

# Start a local Docker engine and build the sandbox image offline (what CI does).
docker-sandbox: $(STAMP)
	bash scripts/ci-docker.sh

# The gRPC stubs in rara/v1/ from proto/rara/v1/rara.proto (committed; `make lint` checks them).
proto: $(STAMP)
	bash scripts/proto.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
