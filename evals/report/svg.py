"""Building inline SVG that is safe by construction.

Every chart in the reports is made with :func:`tag`: attribute values and text children are
escaped unless they are already :class:`markupsafe.Markup` (another tag). Report content comes
from production traffic and reviewers (category names, answers), so no chart code ever joins raw
strings into markup. No ``xmlns``: inline SVG in HTML5 needs none, and the reports reference no
URL at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from markupsafe import Markup, escape

__all__ = ["fmt", "svg", "tag", "text"]

Child = Markup | str | int | float


def fmt(value: float) -> str:
    """A coordinate with at most two decimals (keeps the markup short and stable)."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def _attrs(attrs: Mapping[str, object]) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        shown = fmt(value) if isinstance(value, float) else str(value)
        parts.append(f' {name}="{escape(shown)}"')
    return "".join(parts)


def tag(name: str, attrs: Mapping[str, object] | None = None, *children: Child) -> Markup:
    """``<name attrs>children</name>``; text is escaped, Markup children are kept as they are.
    Attribute names may end in ``_`` (``class_``) and use ``_`` for ``-`` (``stroke_width``)."""
    inner = "".join(str(escape(c)) if not isinstance(c, float) else fmt(c) for c in children)
    return Markup(f"<{name}{_attrs(attrs or {})}>{inner}</{name}>")


def text(x: float, y: float, content: str, **attrs: object) -> Markup:
    """A ``<text>`` element at (x, y)."""
    return tag("text", {"x": float(x), "y": float(y), **attrs}, content)


def svg(width: float, height: float, children: Iterable[Markup], *, label: str, **attrs: object) -> Markup:
    """An ``<svg>`` of the given size with a ``<title>`` (read by screen readers and as a tooltip)."""
    body = Markup("").join([tag("title", None, label), *children])
    return tag(
        "svg",
        {
            "width": float(width),
            "height": float(height),
            "viewBox": f"0 0 {fmt(float(width))} {fmt(float(height))}",
            "role": "img",
            "aria-label": label,
            **attrs,
        },
        body,
    )
