"""Progress bars for every trainer.

``tqdm.auto`` draws a widget in Jupyter, but only when ``ipywidgets`` is installed; without
it, it warns ("IProgress not found") and falls back to a text bar. We pick the text bar
ourselves in that case, so a notebook shows a bar and no warning either way.
"""
try:
    import ipywidgets  # noqa: F401  (only probed: the notebook bar needs it)
    from tqdm.auto import tqdm
except ImportError:
    from tqdm import tqdm

__all__ = ["tqdm"]
