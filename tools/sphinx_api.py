"""Sphinx extension: the ``ppo-api`` directive writes the API reference of a package.

    ```{eval-rst}
    .. ppo-api:: ppo_grpo_lab.ppo
    ```

    ```{eval-rst}
    .. ppo-api:: ppo_grpo_lab
       :flat:
    ```

The directive walks the package (or module) at build time and emits, for every module in
it, a rubric with the module's name and an ``automodule`` with the classes and functions *defined in that module* (so a
function re-exported by ``__init__`` is documented once, under the module that defines
it, and its anchor is ``#ppo_grpo_lab.<module>.<name>``). Subpackages that do not exist
yet are reported in one sentence instead of failing the build; a module that exists but
cannot be imported is a real bug and fails the ``-W`` build with a warning naming it.
Two safety nets keep a ``-W -n`` build clean while many people write docstrings:

- a docstring that is not valid reStructuredText (after napoleon's Google-style rewrite)
  is shown verbatim in a literal block instead of producing docutils warnings; the build
  log lists such docstrings (``ppo-api: shown verbatim``) so their authors can fix them;
- a cross-reference to a re-exported name (``ppo_grpo_lab.gae`` for the function
  ``ppo_grpo_lab.gae.gae``, ``ppo_grpo_lab.ppo.PPOTrainer``) resolves to the object's
  documented home; one to an existing but undocumented object (a private helper) is shown
  as plain code; one to a name that does not exist still fails the build.

With ``:flat:`` only the package's own docstring and its direct, non-package modules are
listed (the core of ``ppo_grpo_lab``); subpackages get their own directive. ``:exclude:``
takes module names (space- or comma-separated) documented elsewhere on the page.

Enabled from ``_config.yml``::

    sphinx:
      local_extensions:
        sphinx_api: tools/
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import inspect
import pkgutil

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)


def module_names(package: str, flat: bool = False) -> list[str]:
    """``package`` and, if it is a package, the modules under it (sorted, private ones skipped).

    ``flat``: only the direct submodules that are not packages themselves.
    """
    mod = importlib.import_module(package)
    names = []
    if hasattr(mod, "__path__"):
        walk = pkgutil.iter_modules if flat else pkgutil.walk_packages
        for info in walk(mod.__path__, prefix=package + "."):
            if flat and info.ispkg:
                continue
            if not any(part.startswith("_") for part in info.name.split(".")):
                names.append(info.name)
    return [package, *sorted(names)]


def documented_members(mod) -> list[str]:
    """Public classes and functions defined in ``mod`` itself (and listed in ``__all__`` if it has one)."""
    public = getattr(mod, "__all__", None)
    out = []
    for name, obj in vars(mod).items():
        if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if getattr(obj, "__module__", None) != mod.__name__:
            continue
        if public is not None and name not in public:
            continue
        out.append(name)
    return out


class PpoApiDirective(SphinxDirective):
    """``.. ppo-api:: package`` with an optional ``:flat:`` flag."""

    required_arguments = 1
    option_spec = {"flat": directives.flag, "exclude": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        package = self.arguments[0]
        lines: list[str] = []
        if _missing(package):
            lines += [f"``{package}`` is not part of this version of the package.", ""]
        else:
            excluded = set(self.options.get("exclude", "").replace(",", " ").split())
            for name in module_names(package, flat="flat" in self.options):
                if name in excluded:
                    continue
                try:
                    mod = importlib.import_module(name)
                except Exception as exc:  # a broken module must not pass silently
                    logger.warning(f"ppo-api: cannot import {name}: {type(exc).__name__}: {exc}",
                                   location=self.get_location())
                    continue
                members = documented_members(mod)
                lines += [f".. rubric:: ``{name}``", "", f".. automodule:: {name}"]
                if members:
                    lines += [f"   :members: {', '.join(members)}"]
                lines += [""]
        container = nodes.container()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=self.get_source_info()[0]), container)
        return container.children


def _missing(package: str) -> bool:
    """True if ``package`` (or its parent) cannot be found at all."""
    try:
        return importlib.util.find_spec(package) is None
    except ModuleNotFoundError:
        return True


_VERBATIM: list[str] = []


def _is_valid_rst(app, lines: list[str]) -> bool:
    """Parse ``lines`` as reST the way Sphinx will; False if docutils reports any problem."""
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    settings = get_default_settings(Parser)
    settings.env = app.env
    settings.report_level = 5  # collect messages, print nothing
    settings.halt_level = 5
    settings.warning_stream = False
    doc = new_document("<docstring>", settings)
    problems = []
    doc.reporter.attach_observer(lambda msg: problems.append(msg) if msg["level"] >= 2 else None)
    # Directives in the docstring (e.g. napoleon's ``.. attribute::``) register objects in the
    # environment: parse on a snapshot so the real pass does not see duplicates.
    env = app.env
    saved = copy.deepcopy(env.domaindata), dict(env.temp_data), dict(env.ref_context)
    try:
        Parser().parse("\n".join(lines), doc)
    except Exception:
        return False
    finally:  # restore in place: domains keep references to these dicts
        for store, old in zip((env.domaindata, env.temp_data, env.ref_context), saved):
            for key in list(store):
                if key not in old:
                    del store[key]
            for key, value in old.items():
                if isinstance(store.get(key), dict) and isinstance(value, dict) and store is env.domaindata:
                    store[key].clear()
                    store[key].update(value)
                else:
                    store[key] = value
    return not problems


def _process_docstring(app, what, name, obj, options, lines):
    if not name.startswith("ppo_grpo_lab") or _is_valid_rst(app, lines):
        return
    raw = inspect.getdoc(obj) or ""
    _VERBATIM.append(name)
    lines[:] = ["::", ""] + ["    " + line for line in raw.splitlines()] + [""]


def _report(app, exc):
    if _VERBATIM:
        logger.info(f"ppo-api: shown verbatim (not valid reST): {', '.join(sorted(set(_VERBATIM)))}")


def _lookup(dotted: str):
    """The object named ``dotted`` (longest importable module prefix, then attributes), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _resolve_alias(app, env, node, contnode):
    """Resolve ``ppo_grpo_lab.X`` (a re-export) to where X is defined and documented."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith("ppo_grpo_lab."):
        return None
    obj = _lookup(target)
    if obj is None:
        return None
    home = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
    if home != target and home.startswith("ppo_grpo_lab."):
        found = env.get_domain("py").resolve_xref(env, node["refdoc"], app.builder, "obj", home, node, contnode)
        if found is not None:
            return found
    # The object exists but has no entry in the API page (private helper, data, not in __all__):
    # show the name as plain code rather than failing the build. A name that does not exist
    # at all still produces the usual warning.
    return contnode


def _patch_codeautolink() -> None:
    """sphinx-codeautolink 0.20 pops a section title it never pushed for myst-nb pages whose first
    section has no title node it visits; tolerate that (the links themselves are unaffected).
    """
    try:
        from sphinx_codeautolink.extension.block import CodeBlockAnalyser
    except ImportError:  # the extension is optional for this module
        return

    def depart_section(self, node) -> None:
        if self.title_stack:
            self.title_stack.pop()

    CodeBlockAnalyser.depart_section = depart_section


def _drop_sourceless_modules(app):
    """sphinx.ext.viewcode lists, on its "Module code" index, every module it looked at, including
    those it found no source for (it marks them False and writes no page): a class attribute whose
    value is a builtin (``config_class = object``) adds ``builtins`` and a broken link. Forget those,
    and point each page's backlinks at the module that defines the code, before viewcode writes its pages
    (html-collect-pages, run before viewcode's handler).
    """
    modules = getattr(app.builder.env, "_viewcode_modules", None)
    if modules:
        for name in [name for name, entry in modules.items() if not entry]:
            del modules[name]
        # viewcode's "[docs]" backlinks are "#<refname>.<object>", where refname is the module of the first
        # signature that made it read this source, e.g. ``ppo_grpo_lab.llm.grpo`` for
        # ``GRPOTrainer.config_class = GRPOConfig``: the anchor of GRPOConfig itself, documented in the
        # module that defines it (documented_members), is ``ppo_grpo_lab.llm.grpo_config.GRPOConfig``.
        for name, (code, tags, used, _refname) in list(modules.items()):
            modules[name] = (code, tags, used, name)
    return []


def setup(app):
    _patch_codeautolink()
    app.add_directive("ppo-api", PpoApiDirective)
    app.connect("autodoc-process-docstring", _process_docstring, priority=900)  # after napoleon
    app.connect("missing-reference", _resolve_alias)
    app.connect("build-finished", _report)
    app.connect("html-collect-pages", _drop_sourceless_modules, priority=100)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
