# segmint: `make demo` and `make test` each create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= demo-shop
DEMO_DATA ?= demo-data
DEMO_CUSTOMERS ?= 5000
DEMO_SPLIT ?= 2024-06-01
PYTEST_ARGS ?=
SERVE_FLAGS ?=

.PHONY: venv test test-fast demo bench clean docs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/python -m pytest -m "not slow and not db and not browser and not spark" $(PYTEST_ARGS)

# The demo shop in two periods: bargain hunters stop buying in the second (generate --shift); a refresh after
# each load, then the monitoring (docs/monitoring.md) and the dashboard, whose Monitoring page shows it.
demo: venv
	rm -rf $(DEMO_DIR) $(DEMO_DATA)
	$(BIN)/segmint generate $(DEMO_DATA) --customers $(DEMO_CUSTOMERS) --seed 7 --shift bargain_hunter \
		--shift-from $(DEMO_SPLIT) --shift-days 90
	$(BIN)/segmint init $(DEMO_DIR)
	$(BIN)/segmint ingest customers $(DEMO_DATA)/customers.csv -w $(DEMO_DIR)
	$(BIN)/segmint ingest orders $(DEMO_DATA)/orders.csv -w $(DEMO_DIR)
	$(BIN)/segmint ingest events $(DEMO_DATA)/events.csv -w $(DEMO_DIR)
	$(BIN)/segmint ingest responses $(DEMO_DATA)/responses.csv -w $(DEMO_DIR)
	$(BIN)/segmint status -w $(DEMO_DIR)
	mkdir -p $(DEMO_DIR)/segments && cp examples/demo-segments.yaml examples/demo-attitudes.yaml $(DEMO_DIR)/segments/
	cat examples/demo-psychographics.yaml >> $(DEMO_DIR)/segmint.yaml
	$(BIN)/segmint scales -w $(DEMO_DIR)
	$(BIN)/segmint topics feedback --topics 4 -w $(DEMO_DIR)
	$(BIN)/segmint refresh --as-of $(DEMO_SPLIT) -w $(DEMO_DIR)
	$(BIN)/segmint ingest orders $(DEMO_DATA)/period2/orders.csv -w $(DEMO_DIR)
	$(BIN)/segmint ingest events $(DEMO_DATA)/period2/events.csv -w $(DEMO_DIR)
	$(BIN)/segmint ingest responses $(DEMO_DATA)/period2/responses.csv -w $(DEMO_DIR)
	$(BIN)/segmint refresh -w $(DEMO_DIR)
	$(BIN)/segmint monitor rfm -w $(DEMO_DIR)
	$(BIN)/segmint alerts -w $(DEMO_DIR)
	$(BIN)/segmint profile behaviour -w $(DEMO_DIR)
	$(BIN)/segmint report behaviour -w $(DEMO_DIR)
	$(BIN)/segmint profile attitudes -w $(DEMO_DIR)
	$(BIN)/segmint funnel --steps web_visit,email_click,order --within 14d --by behaviour -w $(DEMO_DIR)
	$(BIN)/segmint journeys behaviour --from web_visit --length 3 --top 5 -w $(DEMO_DIR)
	@echo "Monitoring: open /monitoring on the dashboard below (segmint monitor NAME prints the same figures)."
	$(BIN)/segmint serve -w $(DEMO_DIR) --demo-token $(SERVE_FLAGS)

docs: venv
	$(BIN)/python -m segmint.docs_gen

bench: venv
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(DEMO_DATA) .pytest_cache
