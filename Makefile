# The two commands of the README. Both set everything up first (idempotent).
.PHONY: demo test setup check down

demo: setup
	.venv/bin/smartcity up

test: setup
	scripts/check
	scripts/test

setup:
	scripts/setup

check: setup
	scripts/check

down:
	.venv/bin/smartcity stack down
