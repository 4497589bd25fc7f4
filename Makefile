# Two commands do all the set-up on a fresh machine:
#   make run    install into .venv, index articles/, serve the chat on http://127.0.0.1:7860
#   make test   install into .venv (and Debian's chromium when missing), run ruff and every test
#   make check  ruff and the quick tests (fakes only), for every commit
#   make scale  add the optional Ray extra (`qa index --ray`, docs/scale.md) to .venv
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run index status test check screenshot chromium bench lint clean scale

LLAMA  := llama-cpp-python==0.3.36
# llama.cpp is compiled here (about 5 minutes on 2 cores), for the CPU features this machine has:
# AVX2 always, and the AVX-512 family where the CPU has it, which evaluates the answer's prompt 1.5x as
# fast (bench/llama_build.py, docs/benchmarks.md). Not -march=native: that also enables AMX, whose tile
# instructions die with "Illegal instruction" in VMs that do not hand the AMX state to the guest
# (these machines do not). A wheel built for one CPU dies the same way on an older one, so it is kept
# in a folder named after the flags it was built with, never in pip's shared wheel cache.
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	$(if $(filter bmi2,$(CPU_FLAGS)),-DGGML_BMI2=ON) \
	$(if $(filter avx_vnni,$(CPU_FLAGS)),-DGGML_AVX_VNNI=ON) \
	$(if $(filter avx512f,$(CPU_FLAGS)),-DGGML_AVX512=ON) \
	$(if $(filter avx512vbmi,$(CPU_FLAGS)),-DGGML_AVX512_VBMI=ON) \
	$(if $(filter avx512_vnni,$(CPU_FLAGS)),-DGGML_AVX512_VNNI=ON) \
	$(if $(filter avx512_bf16,$(CPU_FLAGS)),-DGGML_AVX512_BF16=ON)
WHEELS := .wheels/$(shell echo '$(LLAMA) $(LLAMA_CMAKE)' | md5sum | cut -c1-12)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and exactly: the CPU wheel on these machines (an unpinned torch pulls CUDA builds)
	$(PY) -m pip install --quiet torch==2.13.0
	ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || CMAKE_ARGS="$(strip $(LLAMA_CMAKE))" $(PY) -m pip wheel \
		--quiet --no-deps --no-binary llama-cpp-python --no-cache-dir -w $(WHEELS) $(LLAMA)
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(WHEELS)/llama_cpp_python-*.whl
	# the tests include the Ray build (tests/test_ray_build.py), so the test install has the scale extra;
	# a plain `pip install -e .` stays without Ray
	$(PY) -m pip install --quiet -e '.[test,scale]'
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

scale: install
	$(PY) -m pip install --quiet -e '.[scale]'

lint: install
	$(VENV)/bin/ruff check .

test: install chromium
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

# refresh the README's picture from the browser test that opens a citation
screenshot: install chromium
	QA_SCREENSHOT=$(CURDIR)/docs/screenshot.png $(PY) -m pytest -q tests/test_app_e2e.py -k citation_click

# the quick tier for every commit: ruff and the tests that use the fakes (no real model, no browser),
# on two workers (pytest-xdist): 1 min 38 s on 2 cores against 2 min 2 s on one
check: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n 2 -m "not slow and not browser"

bench: install
	$(PY) -m pip install --quiet -e '.[test,scale,bench]'
	$(PY) bench/index_throughput.py
	$(PY) bench/starter_index.py --corpus clapnq --configs 80/1
	$(PY) bench/answer_latency.py
	$(PY) bench/cold_prefix.py
	$(PY) bench/scale.py
	$(PY) bench/ray_build.py

clean:
	rm -rf $(VENV) index/gen-* index/CURRENT index/embeddings.sqlite
