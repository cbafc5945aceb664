"""Plain helpers the tests share (not fixtures: those live in the conftest.py files).

- ``paths``: the repository's root and the committed MNIST sample.
- ``aws``: fake AWS credentials (the environment every moto test starts from).
- ``api``: API Gateway events, a Lambda context and reading the handler's answers.
- ``cli``: running ``python -m hng.cli`` as a subprocess from the repository root.
- ``mnist``: Python 2 pickles and full-size synthetic MNIST arrays.
- ``bundle``: the container bundle's builder (tools/build_bundle.py) and skip-or-fail for its prerequisites.
- ``browser``: headless Chromium helpers for tests/browser.
"""
