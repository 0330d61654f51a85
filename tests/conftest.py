"""pytest's entry point: registers the shared fixtures of tests/support/fixtures.py and
tests/support/eval_slices.py.

Layout: unit/ tests one engine module each (unit/stores, unit/tools mirror qa/stores, qa/tools),
web/ tests the web wing (qa/web), system/ drives the whole product (hostile inputs, crashes,
load, the browser, the installed wheel), support/ holds fakes, fixtures, workers and servers.
"""

pytest_plugins = ["tests.support.fixtures", "tests.support.eval_slices", "tests.support.chromium"]
