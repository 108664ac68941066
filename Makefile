# Two commands do everything on a fresh machine:  `make demo` (run) and `make test` (tests).
# Each environment is created on first use and reused afterwards (scripts/mkvenv keeps a stamp).
SHELL := /bin/bash
.DEFAULT_GOAL := help
STACK ?= dev
PY := .venv/bin/python
MKVENV := scripts/mkvenv
PYTEST_ARGS ?=

.PHONY: bench-cache help venv venvs plan plans lint typecheck test test-core test-workloads test-app test-e2e demo generated clean

help:
	@echo "make demo              run the whole RAG pipeline locally (CPU, embedded defaults)"
	@echo "make test              every test: program under mocks, workloads on real data, end to end"
	@echo "make plan STACK=dev    offline plan of a stack: resource tree, k8s YAML, schema validation"
	@echo "make lint              ruff (format, lint), mypy, the GitHub workflows (schema, zizmor)"
	@echo "make bench-cache       the gateway's Redis cache: hit rate, hit vs miss latency (real redis-server)"

venv:
	@$(MKVENV) .venv 3.11 requirements-dev.txt
	@# the program as a package (the `leanrag` command), reinstalled when pyproject.toml changes
	@cmp -s pyproject.toml .venv/.leanrag-pyproject 2>/dev/null || \
	  { .venv/bin/pip install -q --no-deps -e . && cp pyproject.toml .venv/.leanrag-pyproject; }

venv-%:
	@$(MKVENV) .venvs/$* 3.11 --torch workloads/$*/requirements.txt workloads/$*/requirements-test.txt requirements-test.txt

# the prefetch job shares the quantize environment (same storage packages and pins)
venv-quantize:
	@$(MKVENV) .venvs/quantize 3.11 --torch workloads/quantize/requirements.txt workloads/quantize/requirements-test.txt \
	  workloads/prefetch/requirements.txt workloads/prefetch/requirements-test.txt requirements-test.txt

venv-benchmark:
	@$(MKVENV) .venvs/benchmark 3.11 --torch workloads/benchmark/requirements.txt workloads/benchmark/requirements-test.txt requirements-test.txt

venv-llm-server:
	@$(MKVENV) .venvs/llm-server 3.11 local/requirements-llm-server.txt

venv-gateway:
	@$(MKVENV) .venvs/gateway 3.11 local/requirements-gateway.txt requirements-test.txt

venv-ogx:
	@$(MKVENV) .venvs/ogx 3.12 local/requirements-ogx.txt

# checkov (the Kubernetes scanner of tests/infra/test_checkov.py) pins packages the program's .venv has newer
venv-checkov:
	@$(MKVENV) .venvs/checkov 3.11 requirements-checkov.txt

venvs: venv venv-ingest venv-quantize venv-benchmark venv-llm-server venv-gateway venv-ogx venv-checkov

plan: venv
	$(PY) -m infra.plan $(STACK) --out .plan/$(STACK)

plans: venv
	@for s in $$(ls Pulumi.*.yaml | cut -d. -f2); do $(PY) -m infra.plan $$s --quiet || exit $$?; done

generated: venv
	$(PY) -m stacks.reference --write

lint: venv
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	.venv/bin/zizmor --offline --min-severity medium .github/workflows
	.venv/bin/python scripts/check_secrets.py

test: test-core test-workloads test-app test-e2e

test-core: venv venv-checkov venv-ingest
	$(PY) -m pytest tests/test_architecture.py tests/stacks tests/components tests/infra tests/policy \
	  tests/corpora -m "not servers" $(PYTEST_ARGS)

test-workloads: venv-ingest venv-quantize venv-benchmark venv-llm-server venv-gateway venv-ogx
	.venvs/ingest/bin/python -m pytest tests/workloads/ingest $(PYTEST_ARGS)
	.venvs/quantize/bin/python -m pytest tests/workloads/quantize tests/workloads/prefetch $(PYTEST_ARGS)
	.venvs/benchmark/bin/python -m pytest tests/workloads/benchmark $(PYTEST_ARGS)
	.venvs/gateway/bin/python -m pytest tests/workloads/moderation $(PYTEST_ARGS)

test-app: venv venv-ingest venv-gateway venv-ogx venv-llm-server
	$(PY) -m pytest tests/local $(PYTEST_ARGS)
	$(PY) -m pytest tests/components tests/infra -m servers $(PYTEST_ARGS)

bench-cache: venv venv-gateway venv-llm-server
	$(PY) -m local.cache_benchmark --requests 200 --questions 40

test-e2e: venv venv-ingest venv-benchmark venv-llm-server venv-gateway venv-ogx
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

demo: venv venv-ingest venv-benchmark venv-llm-server venv-gateway venv-ogx
	@command -v redis-server >/dev/null || { echo "installing redis-server (apt)"; \
	  (apt-get update -qq && apt-get install -y -qq redis-server) >/dev/null || sudo apt-get install -y redis-server; }
	$(PY) -m local.demo $(DEMO_ARGS)

clean:
	rm -rf .plan .demo
