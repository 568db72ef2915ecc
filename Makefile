# chat_callback.mtls — every entry point a user or CI needs.
#   make demo   one throwaway Debian web host, the real deploy playbook, and the proof
#   make test   everything CI runs: lint, unit, module-through-Ansible, sanity, molecule
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTIONS := $(CURDIR)/build/collections
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export CONTAINERS_CONF := $(CURDIR)/tests/containers.conf
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0

.PHONY: help venv collection-link image lint unit ansible-tests sanity molecule test demo demo-clean bench build clean

help:
	@echo "make demo        deploy the mTLS site on a throwaway podman host and show the proof"
	@echo "make demo-clean  remove the demo host"
	@echo "make test        lint, unit tests, module tests, ansible-test sanity, molecule"
	@echo "make bench       benchmarks (figures, not tests)"
	@echo "make build       the collection tarball"

$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

venv: $(VENV)/.installed

# Ansible finds the checkout as chat_callback.mtls through this link.
collection-link: $(COLLECTIONS)/ansible_collections/chat_callback/mtls
$(COLLECTIONS)/ansible_collections/chat_callback/mtls:
	mkdir -p $(@D)
	ln -sfn $(CURDIR) $@

# apt packages a target needs, installed only when missing (CI starts from a fresh machine).
apt_need = missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

image:
	tests/images/build-image.sh bookworm

lint: venv collection-link
	ruff check plugins tests benchmarks scripts molecule
	yamllint -s .
	ansible-lint
	antsibull-changelog lint
	python scripts/role_vars_table.py --check
	for m in cert_check tls_probe; do ansible-doc chat_callback.mtls.$$m | grep -q "chat_callback.mtls.$$m"; done
	ansible-playbook -i demo/inventory.yml chat_callback.mtls.deploy --syntax-check

unit: venv collection-link
	python -m pytest tests/unit -q

ansible-tests: venv collection-link
	python -m pytest tests/ansible -q -m ansible

sanity: venv
	$(call apt_need,shellcheck git)
	scripts/ansible-test-sanity.sh

molecule: venv collection-link image
	molecule test --all

test: venv
	@start=$$SECONDS; \
	$(MAKE) --no-print-directory lint unit ansible-tests sanity molecule; \
	echo "make test: all stages passed in $$((SECONDS - start)) s"

demo: venv collection-link image
	scripts/demo.sh

demo-clean:
	scripts/demo.sh clean

bench: venv collection-link
	python benchmarks/cert_check_bench.py

build: venv
	ansible-galaxy collection build --force --output-path build/

clean: demo-clean
	rm -rf build .pytest_cache .ruff_cache
