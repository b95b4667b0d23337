"""``rotaflow rules``: the rules of the engine, their parameters, and whether each may be hard or soft."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python
from rich.markup import escape
from rich.table import Table

from rotaflow.cli import app, examples, json_help, out, print_json

BOUNDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
"""The bounds a parameter's ``Field`` may set (``Field(ge=0)``), by name, and their signs."""


def type_text(annotation: Any) -> str:
    """A parameter's type as a constraints.yaml author reads it: ``int | None``, ``'block' | 'rolling_28d'``."""
    if annotation is type(None):
        return "None"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        return " | ".join(type_text(arg) for arg in args)
    if origin is Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_text(arg) for arg in args)}]"
    return str(getattr(annotation, "__name__", annotation))


def parameter(name: str, field: FieldInfo) -> dict[str, Any]:
    """One parameter of a rule's ``Params`` model: its type, default, bounds and description."""
    required = field.is_required()
    bounds = {key: getattr(item, key) for item in field.metadata for key in BOUNDS if hasattr(item, key)}
    return {
        "name": name,
        "type": type_text(field.annotation),
        "required": required,
        "default": None if required else to_jsonable_python(field.get_default(call_default_factory=True)),
        "bounds": bounds,
        "description": field.description,
    }


def rule_catalogue() -> list[dict[str, Any]]:
    """Every registered rule, by name: its summary, the kinds it may take (hard, soft), its parameters.

    A rule set's entry may give a rule any kind of ``kinds`` (``default_kind`` when it gives none);
    a soft rule's ``weight`` is a whole number from 0.
    """
    import rotaflow.constraints.rules  # noqa: F401  (registers every rule)
    from rotaflow.constraints.registry import RULES

    return [
        {
            "name": name,
            "summary": rule.summary,
            "default_kind": rule.default_kind,
            "kinds": sorted(rule.kinds),
            "params": [parameter(field, info) for field, info in rule.Params.model_fields.items()],
        }
        for name, rule in sorted(RULES.items())
    ]


def _parameter_text(item: dict[str, Any]) -> str:
    text = f"[bold]{escape(item['name'])}[/bold]: {escape(item['type'])}"
    if not item["required"]:
        text += f" = {escape(repr(item['default']))}"
    text += "".join(f", {BOUNDS[key]} {value}" for key, value in item["bounds"].items())
    if item["description"]:
        text += f" [dim]({escape(item['description'])})[/dim]"
    return text


@app.command(epilog=examples("rotaflow rules", "rotaflow rules --json"))
def rules(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                "{rules: list of {name, summary, default_kind, kinds: the kinds it may take (hard, soft), params: "
                "list of {name, type, required, default, bounds: {ge, gt, le, lt}, description}}}"
            ),
        ),
    ] = False,
) -> None:
    """List the rules of the engine: what each checks, hard or soft, its parameters with types and defaults."""
    catalogue = rule_catalogue()
    if as_json:
        print_json({"rules": catalogue})
        return
    table = Table()
    table.add_column("rule", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("parameters")
    table.add_column("summary")
    for rule in catalogue:
        others = [kind for kind in rule["kinds"] if kind != rule["default_kind"]]
        kinds = rule["default_kind"] + (f" (or {' or '.join(others)})" if others else " only")
        params = "\n".join(_parameter_text(item) for item in rule["params"]) or "-"
        table.add_row(rule["name"], kinds, params, escape(rule["summary"]))
    out.print(table)
    out.print("kind: the rule's default, and in parentheses the other kind a rule set's entry may give it (kind:)")
