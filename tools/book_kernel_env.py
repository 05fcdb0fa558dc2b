"""Sphinx extension: notebook kernels started by the book build draw figures inline.

tools/setup_env.sh exports ``MPLBACKEND=Agg`` so that tests and scripts never open a
window. Kernels inherit the environment, and ipykernel only picks its inline backend when
``MPLBACKEND`` is unset, so under Agg every ``plt.show()`` in a chapter would silently
produce no image and the built book would have no figures (tools/check_site.py catches
that). This extension, loaded by ``_config.yml``, switches the variable to the inline
backend for the kernels of the build only.
"""
from __future__ import annotations

import os

INLINE = "module://matplotlib_inline.backend_inline"


def setup(app):
    backend = os.environ.get("MPLBACKEND")
    if backend is not None and backend != INLINE:
        os.environ["MPLBACKEND"] = INLINE
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
