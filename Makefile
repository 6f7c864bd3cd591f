# The two commands: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PORT ?= 8000
PRODUCTS ?= 10000
DEMO_PRODUCTS ?= 300
VENV := .venv
PY := $(VENV)/bin/python
# The newest Python 3.11+ on the machine.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; done)

.PHONY: run test test-services worker bench bench-checkout bench-analytics install install-dev migrate demo clean lint

$(PY):
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (none found on PATH)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo --products $(DEMO_PRODUCTS)
	$(PY) manage.py seed_demo_gift_cards
	$(PY) manage.py seed_demo_registers
	$(PY) manage.py ensure_staff

# PORT reaches the settings too: links in emails (SITE_URL, unless set) name the port served on.
run: demo
	$(PY) manage.py collectstatic --noinput -v0
	@echo "The store: http://127.0.0.1:$(PORT)/   back office: http://127.0.0.1:$(PORT)/admin/"
	PORT=$(PORT) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# The whole suite on the configured database (SQLite unless DATABASE_URL is set), one worker
# process per CPU (pytest-xdist; each test file stays on one worker, so module fixtures are shared;
# files are handed out longest first, see conftest.py `_longest_files_first`).
PYTEST_WORKERS ?= auto
test: install-dev
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The suite against PostgreSQL and Redis (what CI's second pass runs).
test-services: install-dev
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/shop} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# Celery worker with the beat scheduler embedded; needs REDIS_URL (or CELERY_BROKER_URL). It sends
# the emails, so give it the same PORT as `make run` (or SITE_URL).
worker: install
	@test -n "$${REDIS_URL}$${CELERY_BROKER_URL}" || { echo "Set REDIS_URL (e.g. redis://127.0.0.1:6379/0) first."; exit 1; }
	PORT=$(PORT) $(VENV)/bin/celery -A shop worker --beat --schedule var/celerybeat-schedule --loglevel=info --concurrency=2

# Needs wrk (Debian/Ubuntu: apt-get install wrk); installed here when running as root, otherwise
# it stops with how to install it. BENCH_ARGS passes options to bench/run.py, e.g.
#   make bench BENCH_ARGS="--database-url postgres://postgres@127.0.0.1:5432/shop_bench --redis-url redis://127.0.0.1:6379/14 --workers 4 --scale-workers 1,2,4 --celery"
# (`bench/run.py --help` lists them all: durations, URL count, order rate, parts to skip).
bench: install-dev
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null 2>&1; } || true
	@command -v wrk >/dev/null || { echo "make bench needs wrk, which is not installed. Debian/Ubuntu: sudo apt-get install wrk (others: https://github.com/wg/wrk)."; exit 1; }
	$(PY) bench/run.py --products $(PRODUCTS) $(BENCH_ARGS)

# Only the checkout part of `make bench`: add-to-cart and checkout throughput and the query count
# of each checkout step (in process), on its own small database; then each personal page's median
# time against issue 9's targets on a 10,000-product SQLite catalog (bench/checkout_latency.py).
bench-checkout: install-dev
	$(PY) bench/checkout.py $(BENCH_ARGS)

# The dashboard and the sales report over 10 million generated storefront events on PostgreSQL,
# cold and warm, the rollup and the purge (bench/analytics_events.py; the first run writes the
# events in a few minutes, later ones reuse them). BENCH_ARGS passes options, e.g.
#   make bench-analytics BENCH_ARGS="--database-url postgres://postgres@127.0.0.1:5432/shop_analytics_bench --events 1000000"
bench-analytics: install-dev
	$(PY) bench/analytics_events.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
