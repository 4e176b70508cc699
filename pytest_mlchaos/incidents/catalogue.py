"""The incident catalogue as text: what ``pytest --mlchaos-incidents`` prints (like ``pytest --markers``)."""

from __future__ import annotations

from .registry import IncidentRegistry, Injector
from .spec import Param

__all__ = ["describe", "describe_param"]


def describe(registry: IncidentRegistry) -> str:
    """Every kind and mode with its one-line doc and parameters (type, range or choices, default)."""
    lines: list[str] = []
    for kind in registry.kinds():
        modes = registry.modes(kind)
        lines.append(f"{kind}  (modes: {', '.join(modes)}; default: {modes[0]})")
        for mode in modes:
            injector = registry.get(kind, mode)
            lines.append(
                f"  @pytest.mark.incident({kind!r}, mode={mode!r}{_call_args(injector)}): {injector.summary()}"
            )
            if injector.formats:
                lines.append(f"      files: {injector.formats}")
            for param in injector.params:
                lines.append(f"      {describe_param(param)}")
        lines.append("")
    lines.append(
        "Every incident also takes target= (a path under the environment root, or a role: data, models, a "
        "stage name) and seed= (fixes every random choice)."
    )
    return "\n".join(lines)


def describe_param(param: Param) -> str:
    """``fraction: float = 0.1, in (0.0, 1.0] [severity]: share of rows hit``."""
    text = f"{param.name}: {param.type_name()}"
    if param.required:
        text += " (required)"
    elif param.default is None:
        text += " (optional)"
    else:
        text += f" = {param.default!r}"
    rng = param.describe_range()
    if rng:
        text += f", {rng}" if rng.startswith("one of") else f", in {rng}"
    if param.severity:
        text += " [severity]"
    if param.doc:
        text += f": {param.doc}"
    return text


def _call_args(injector: Injector) -> str:
    shown = [f"{p.name}={p.default!r}" for p in injector.params if p.default is not None and not p.required]
    return "".join(f", {s}" for s in shown)
