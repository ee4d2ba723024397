"""The simulated world behind the simulated arena: models, the judge, answers and verdicts.

Pure functions of a seed and the request content (no I/O); :mod:`wizardarena.sim.app`
serves them over HTTP.

Each :class:`SimModel` has a latent ``skill`` on the Elo scale (P(i beats j) =
1 / (1 + 10^(-(s_i - s_j)/400))). An answer's quality is ``skill + consistency * z`` with
``z ~ N(0, 1)`` drawn from a hash of (seed, model, conversation), so answers are
deterministic. The answer text ends with a visible marker ``⟦sim q=<quality> n=<chars>⟧``
that the sim judge reads back. Style traits: ``verbosity`` (length doubles per unit) and
``markdown`` (probability of headers, lists and bold).

The judge (model name ``SimJudge.name``) finds the two answers' markers in the prompt (the
first half belongs to assistant A, the second to B; the last of each is judged), detects the
template from the format it asks for (``[[A>>B]]`` Arena-Hard, ``[[C]]`` MT-Bench, ``[[X/Y]]``
WizardArena 1-10 scores; anything else is answered MT-Bench style), and draws the verdict from
a Davidson Bradley-Terry model of ``d = q_A - q_B + position_bias + length_bias *
log2(n_A / n_B) + noise * z``, deterministic given the seed and the request content, so a
retried request gets the same verdict.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MARKER_RE",
    "SimJudge",
    "SimModel",
    "answer_text",
    "request_key",
    "uniforms",
    "verdict_text",
]

MARKER_RE = re.compile(r"⟦sim q=(-?[0-9.]+) n=([0-9]+)⟧")

_WORDS = (
    "the answer considers data model system method result value approach detail example "
    "step process function input output case error user code test format context source "
    "number point structure design option change problem solution reason quality clear "
    "simple careful useful first second final general specific important common"
).split()


@dataclass(frozen=True)
class SimModel:
    """A simulated answering model.

    Parameters
    ----------
    skill : float
        Latent strength on the Elo scale (e.g. 1000-1300).
    verbosity : float, default 0.0
        Answer length doubles per unit (0 = about four sentences; may be negative).
    markdown : float, default 0.0
        Probability in [0, 1] that an answer uses markdown (header, bullet list, bold).
    consistency : float, default 60.0
        Standard deviation (Elo points) of per-answer quality around ``skill``.
    """

    skill: float
    verbosity: float = 0.0
    markdown: float = 0.0
    consistency: float = 60.0


@dataclass(frozen=True)
class SimJudge:
    """The simulated judge.

    Parameters
    ----------
    name : str, default "sim-judge"
        Model name under which the server serves the judge.
    position_bias : float, default 0.0
        Elo points added to the answer shown first (100 = the first slot wins about 64% of
        decisive games between equal answers).
    tie_strength : float, default 0.3
        Davidson tie parameter nu (0 = no ties).
    noise : float, default 0.0
        Standard deviation (Elo points) of extra Gaussian noise on the quality difference.
    length_bias : float, default 0.0
        Elo points added per doubling of the first answer's length relative to the second
        (positive = the judge rewards longer answers).
    strong_margin : float, default 150.0
        Difference (Elo points) around which wins become "strong" (``A>>B``, score gap >= 3).
    """

    name: str = "sim-judge"
    position_bias: float = 0.0
    tie_strength: float = 0.3
    noise: float = 0.0
    length_bias: float = 0.0
    strong_margin: float = 150.0


# -- deterministic randomness ---------------------------------------------------------------
def uniforms(*parts: object) -> tuple[float, ...]:
    """Eight uniforms in [0, 1) from a hash of ``parts`` (stable across processes)."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=64).digest()
    return tuple((x >> 11) * (1.0 / 9007199254740992.0) for x in struct.unpack("<8Q", h))


def _normal(u1: float, u2: float) -> float:
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def request_key(model: str, messages: Any) -> str:
    """The key the server counts a chat request under: ``"<model>:<sha1 of messages>"``."""
    blob = json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()
    return f"{model}:{hashlib.sha1(blob).hexdigest()[:20]}"


# -- answers and verdicts -------------------------------------------------------------------
def answer_text(seed: int, name: str, model: SimModel, messages: list[dict[str, Any]]) -> str:
    conv = json.dumps(messages, sort_keys=True, ensure_ascii=False)
    u = uniforms(seed, "answer", name, conv)
    quality = model.skill + model.consistency * _normal(u[0], u[1])
    n_sent = max(1, round(4 * 2.0 ** model.verbosity * (0.75 + 0.5 * u[2])))
    last_user = next(
        (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    topic = " ".join(re.findall(r"\w+", last_user)[:6]) or "the question"
    words_seed = int(u[3] * 2**32)
    lines = [f"Here is my answer about {topic}."]
    use_md = u[4] < model.markdown
    if use_md:
        lines.insert(0, "## Answer")
    for i in range(n_sent):
        k = (words_seed + 7919 * i) % (2**32)
        ws = [_WORDS[(k >> (3 * j)) % len(_WORDS)] for j in range(8)]
        if use_md and i % 3 == 1:
            ws[2] = f"**{ws[2]}**"
        sentence = " ".join(ws).capitalize() + "."
        lines.append(f"- {sentence}" if use_md and i % 2 == 0 else sentence)
    body = "\n".join(lines)
    return f"{body}\n⟦sim q={quality:.3f} n={len(body)}⟧"


def _detect_format(text: str) -> str:
    if "[[A>>B]]" in text:
        return "arena-hard"
    if "[[X/Y]]" in text:
        return "wizardarena"
    return "mt-bench"


def verdict_text(seed: int, judge: SimJudge, key: str, prompt_text: str, fmt_text: str) -> str:
    fmt = _detect_format(fmt_text)
    marks = MARKER_RE.findall(prompt_text)
    qa = qb = 1000.0
    na = nb = 1
    if len(marks) >= 2:
        a, b = marks[len(marks) // 2 - 1], marks[-1]
        qa, na = float(a[0]), int(a[1])
        qb, nb = float(b[0]), int(b[1])
    u = uniforms(seed, "judge", key)
    d = qa - qb + judge.position_bias + judge.length_bias * math.log2((na + 1) / (nb + 1))
    if judge.noise:
        d += judge.noise * _normal(u[0], u[1])
    pa = 10.0 ** (max(-4000.0, min(4000.0, d)) / 400.0)  # strength of A relative to B (= 1)
    tie = judge.tie_strength * math.sqrt(pa)
    z = pa + 1.0 + tie
    x = u[2]
    outcome = "A" if x < pa / z else ("B" if x < (pa + 1.0) / z else "tie")
    strong = u[3] < 1.0 / (1.0 + math.exp(-(abs(d) - judge.strong_margin) / 50.0))
    reason = "Both assistants address the question; comparing accuracy and helpfulness."
    if fmt == "arena-hard":
        label = {"A": "A>>B" if strong else "A>B", "B": "B>>A" if strong else "B>A"}.get(
            outcome, "A=B"
        )
        return f"{reason}\n\nMy final verdict is: [[{label}]]"
    if fmt == "wizardarena":
        lo = 2 + int(u[4] * 5)  # 2..6
        gap = 3 if strong else 1 + int(u[5] * 2)
        if outcome == "tie":
            sa = sb = lo + 1
        elif outcome == "A":
            sa, sb = lo + gap, lo
        else:
            sa, sb = lo, lo + gap
        return f"{reason}\nAssistant A: {sa}/10. Assistant B: {sb}/10.\n\n[[{sa}/{sb}]]"
    label = {"A": "A", "B": "B"}.get(outcome, "C")
    return f"{reason}\n\n[[{label}]]"
