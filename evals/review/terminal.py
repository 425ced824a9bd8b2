"""``tracesieve review`` in the terminal: the review page's walk, as panels and prompts.

It walks the batch's unlabelled cases in order, starting at the first (so a walk that stopped
resumes where it stopped), and saves each label as soon as it is given, as the page does
(:func:`~.labels.save_label`: one ``labels`` row, and the regression set for ``bad``). For each
case it asks:

- verdict: ``b`` bad, ``f`` fine, ``s`` skip (no label), ``q`` quit;
- for bad: categories (numbers from the list, or names; a new name adds a category; default
  the category the case was drawn for), the expected answer, the criteria, severity (default
  medium) and notes; for fine: notes (the case's category is kept as the false alarm's).

A lone ``q`` at any prompt, or the end of input, quits without saving the case in progress.
Store content is printed as plain text, never as rich markup.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from pydantic import ValidationError
from rich.console import Console, Group
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from tracesieve.collector.errors import PermanentError
from tracesieve.evals.store import EvalStore

from .batches import list_batches, load_batch
from .labels import save_label
from .model import SEVERITIES, BatchView, CaseView, LabelIn, normalise_category

__all__ = ["review_in_terminal"]

_CLIP = 1200


class _Quit(Exception):
    """The reviewer typed ``q`` or input ended."""


class _Prompter:
    def __init__(self, console: Console) -> None:
        self._console = console

    def ask(self, prompt: str, *, default: str = "", choices: Sequence[str] = ()) -> str:
        hint = f" [{'/'.join(choices)}]" if choices else ""
        hint += f" ({default})" if default else ""
        while True:
            try:
                answer = self._console.input(Text(f"{prompt}{hint}: ", style="bold")).strip()
            except EOFError:
                raise _Quit from None
            if answer == "q":
                raise _Quit
            answer = answer or default
            if not choices or answer in choices:
                return answer
            self._console.print(f"answer one of {', '.join(choices)} (q quits)", style="yellow")


async def review_in_terminal(
    store: EvalStore,
    console: Console,
    *,
    batch_id: str | None = None,
    reviewer: str | None = None,
    promote_bad: bool = True,
) -> int:
    """Walks the batch (default: the newest with unlabelled cases); returns the exit code."""
    batch = await load_batch(store, batch_id or await _default_batch(store))
    prompter = _Prompter(console)
    console.print(
        Text(f"Batch {batch.batch_id} · {batch.week} · {batch.labelled}/{batch.total} labelled", style="bold")
    )
    todo = [i for i, case in enumerate(batch.cases) if case.label is None]
    if not todo:
        console.print("Every case of this batch is labelled.")
        return 0
    try:
        name = reviewer or prompter.ask("Your name (goes with every label)")
        while not name.strip():
            name = prompter.ask("Your name (goes with every label)")
        categories = list(batch.categories)
        for index in todo:
            case = batch.cases[index]
            _show(console, batch, index, case)
            given = _ask_label(prompter, console, batch, case, categories, name.strip())
            if given is None:
                continue
            saved = await save_label(store, given, promote_bad=promote_bad)
            line = f"saved: {given.verdict} {', '.join(given.categories)} ({saved.labelled}/{saved.total})"
            console.print(Text(line, style="green"))
            if saved.promotion is not None and not saved.promotion.ok:
                console.print(Text(f"not yet in the regression set: {saved.promotion.error}", style="yellow"))
            categories += [c for c in given.categories if c not in categories]
    except _Quit:
        console.print("stopped; `tracesieve review` resumes at the first unlabelled case")
    [progress] = await list_batches(store, batch.batch_id)
    console.print(Text(f"{progress.labelled}/{progress.total} labelled, {progress.bad} bad", style="bold"))
    return 0


async def _default_batch(store: EvalStore) -> str:
    batches = await list_batches(store)
    if not batches:
        raise PermanentError("no review batches yet: `tracesieve sample` draws one")
    open_batches = [b for b in batches if b.labelled < b.total]
    return (open_batches or batches)[0].batch_id


def _ask_label(
    prompter: _Prompter,
    console: Console,
    batch: BatchView,
    case: CaseView,
    categories: list[str],
    reviewer: str,
) -> LabelIn | None:
    verdict = prompter.ask("Verdict: b bad, f fine, s skip, q quit", choices=("b", "f", "s"))
    if verdict == "s":
        return None
    fields: dict[str, object] = {}
    if verdict == "b":
        numbered = "  ".join(f"{i}:{name}" for i, name in enumerate(categories, 1))
        console.print(Text(numbered, style="dim"))
        while True:
            answer = prompter.ask("Categories (numbers or names, comma-separated)", default=case.category)
            try:
                fields["categories"] = _parse_categories(answer, categories)
                break
            except ValueError as exc:
                console.print(Text(str(exc), style="yellow"))
        fields["expected"] = prompter.ask("Expected answer (empty: none)")
        fields["criteria"] = prompter.ask("Criteria a correct answer must meet (empty: none)")
        fields["severity"] = prompter.ask("Severity", default="medium", choices=SEVERITIES)
    else:
        fields["categories"] = [case.category] if case.category else []
    fields["notes"] = prompter.ask("Notes (empty: none)")
    try:
        return LabelIn.model_validate(
            {
                "case_id": case.case_id,
                "batch_id": batch.batch_id,
                "verdict": "bad" if verdict == "b" else "fine",
                "reviewer": reviewer,
                **fields,
            }
        )
    except ValidationError as exc:
        console.print(Text(f"not saved: {exc.errors()[0]['msg']}", style="red"))
        return None


def _parse_categories(answer: str, categories: list[str]) -> list[str]:
    out: list[str] = []
    for part in (p.strip() for p in answer.split(",")):
        if not part:
            continue
        if part.isdigit():
            number = int(part)
            if not 1 <= number <= len(categories):
                raise ValueError(f"no category number {number} (1-{len(categories)})")
            name = categories[number - 1]
        else:
            name = normalise_category(part)
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError("a bad verdict needs at least one category")
    return out


def _clip(text: str, limit: int = _CLIP) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(console: Console, batch: BatchView, index: int, case: CaseView) -> None:
    console.print(
        Rule(
            Text(
                f"Case {index + 1}/{batch.total} · flagged as {case.category or '?'} · "
                f"score {case.flag_score:.2f} · {case.service_name} {case.model}".rstrip()
            )
        )
    )
    turns: list[Text] = []
    for turn in case.session_context:
        if isinstance(turn, dict):
            turns.append(Text(f"user: {_clip(str(turn.get('user', '')), 400)}", style="dim"))
            turns.append(Text(f"assistant: {_clip(str(turn.get('assistant', '')), 400)}", style="dim"))
    turns.append(Text.assemble(("user: ", "bold"), _clip(case.user_message)))
    console.print(Panel(Group(*turns), title="Conversation", title_align="left"))
    console.print(Panel(Text(_clip(case.output_text, 4000)), title="Answer (flagged)", border_style="red"))
    signals = Table("signal", "category", "score", "evidence", title="Signals", title_justify="left")
    for s in case.signals:
        evidence = s.evidence if isinstance(s.evidence, str) else orjson.dumps(s.evidence).decode()
        shown = "—" if s.score is None else f"{s.score:.2f}"
        signals.add_row(Text(s.signal), Text(s.category), shown, Text(_clip(evidence, 400)))
    console.print(signals)
    if case.retrieved_documents:
        docs = []
        for doc in case.retrieved_documents[:5]:
            if isinstance(doc, dict):
                doc_score = doc.get("score")
                head = f"[{doc.get('id', '')}]"
                if isinstance(doc_score, int | float):
                    head += f" score {doc_score:.3f}"
                docs.append(Text.assemble((head + " ", "bold"), _clip(str(doc.get("content", "")), 500)))
            else:
                docs.append(Text(_clip(str(doc), 500)))
        more = len(case.retrieved_documents) - 5
        if more > 0:
            docs.append(Text(f"… and {more} more", style="dim"))
        console.print(Panel(Group(*docs), title="Retrieved documents", title_align="left"))
    if case.cluster_size > 1:
        console.print(Text(f"This case stands for {case.cluster_size} similar questions.", style="dim"))
