"""cartwatch's developer and operator tooling: the CLI, ``cartwatch local`` and the
BigCommerce sandbox.

Nothing here runs in Lambda.  The runtime lives in the ``cartwatch`` package under
``functions/``, and the Lambda bundle is built from an allow-list of its subpackages
(``infra/cartwatch_infra/bundling.py``), so tooling can never ship by accident.
"""
