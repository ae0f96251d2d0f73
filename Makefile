# Two commands for a newcomer: `make book` and `make test`. Each sets up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KERAS_BACKEND ?= tensorflow
export PYTHONWARNINGS ?= ignore::DeprecationWarning

PROFILE ?= smoke
DATASET ?= fashion_mnist
# TRAIN=0 executes the chapters from the records alone, training nothing (what they lack is named).
# oneDNN kernels train ResNet18, split or not, 1.5 to 2.1 times faster on a CPU where TensorFlow leaves them
# off (e.g. AMD); records name them in their device. ONEDNN=0 turns them off.
ONEDNN ?= 1
PYTEST_ARGS ?=
# Tests run in parallel, one test file per worker at a time (a file's shared fixtures are built once).
WORKERS ?= 2

.PHONY: install book test test-fast reproduce benchmark clean

install: $(STAMP)

# uv installs from PyPI in a third of pip's time. It does not read pip's configuration: behind a mirror, set
# UV_INDEX_URL (or UV_EXTRA_INDEX_URL) as pip's index-url is set.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -e ".[book,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

book: install
	$(BIN)/jupyter-book build . -W --keep-going
	@echo "The book: _build/html/index.html"

test: install
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile -m "not slow" $(PYTEST_ARGS)

reproduce: install
	@case "$(TRAIN)" in ""|1|true|yes|on|0|false|no|off) ;; \
	  *) echo "make reproduce: TRAIN must be 1 (train what the records lack) or 0 (show the records alone), got '$(TRAIN)'" >&2; exit 2;; esac
	TF_ENABLE_ONEDNN_OPTS=$(ONEDNN) $(BIN)/python -m netsplit.study.reproduce --profile $(PROFILE) --dataset $(DATASET) \
		$(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS)) $(if $(THRESHOLD),-p threshold $(THRESHOLD)) \
		$(if $(filter 0 false no off,$(TRAIN)),-p train false) $(OVERRIDES)

benchmark: install
	TF_ENABLE_ONEDNN_OPTS=$(ONEDNN) $(BIN)/python -m benchmarks.train_speed

clean:
	rm -rf _build .pytest_cache
