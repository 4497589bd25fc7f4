# Two commands do all the set-up on a fresh machine:
#   make run    install into .venv, index articles/, serve the chat on http://127.0.0.1:7860
#   make test   install into .venv (and Debian's chromium when missing), run ruff and every test
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run index status test chromium bench lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and exactly: the CPU wheel on these machines (an unpinned torch pulls CUDA builds)
	$(PY) -m pip install --quiet torch==2.13.0
	# llama-cpp-python compiles from source the first time (about 5 minutes on 2 cores)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/qa serve

index: install
	$(VENV)/bin/qa index

status: install
	$(VENV)/bin/qa status

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .

test: install chromium
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

bench: install
	$(PY) bench/index_throughput.py
	$(PY) bench/answer_latency.py
	$(PY) bench/scale.py

clean:
	rm -rf $(VENV) index/gen-* index/CURRENT index/embeddings.sqlite
