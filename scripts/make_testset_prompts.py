"""Generate the small synthetic prompt set shipped in ``wizardarena/data/testset_prompts.jsonl``.

30 topics x 10 prompts, each prompt built from topic-specific vocabulary and generic
request templates, so that topics are recoverable by clustering while no two prompts are
near duplicates. Deterministic: ``python scripts/make_testset_prompts.py`` rewrites the
same file byte for byte.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

TOPICS: dict[str, list[str]] = {
    "python_pandas": [
        "dataframe",
        "groupby",
        "merge",
        "pivot table",
        "index",
        "csv file",
        "null values",
        "dtype",
    ],
    "rust_ownership": [
        "borrow checker",
        "lifetime",
        "ownership",
        "mutable reference",
        "Box",
        "Rc pointer",
        "trait object",
        "clone",
    ],
    "sql_queries": [
        "left join",
        "window function",
        "subquery",
        "primary key",
        "index scan",
        "GROUP BY clause",
        "transaction",
        "foreign key",
    ],
    "baking_bread": [
        "sourdough starter",
        "yeast",
        "gluten",
        "proofing",
        "crust",
        "whole wheat flour",
        "hydration",
        "oven spring",
    ],
    "gardening": [
        "tomato plants",
        "compost",
        "mulch",
        "aphids",
        "raised bed",
        "seedlings",
        "pruning",
        "soil acidity",
    ],
    "personal_finance": [
        "index fund",
        "emergency savings",
        "credit score",
        "mortgage",
        "retirement account",
        "budget",
        "compound interest",
        "tax deduction",
    ],
    "astronomy": [
        "black hole",
        "exoplanet",
        "telescope",
        "red giant",
        "galaxy cluster",
        "light year",
        "nebula",
        "supernova",
    ],
    "chess": [
        "opening repertoire",
        "endgame",
        "knight fork",
        "pawn structure",
        "castling",
        "Sicilian defense",
        "checkmate pattern",
        "bishop pair",
    ],
    "guitar": [
        "chord progression",
        "fingerpicking",
        "capo",
        "barre chord",
        "pentatonic scale",
        "tuning",
        "strumming pattern",
        "fretboard",
    ],
    "machine_learning": [
        "gradient descent",
        "overfitting",
        "regularization",
        "validation set",
        "learning rate",
        "neural network",
        "feature scaling",
        "cross entropy loss",
    ],
    "kubernetes": [
        "pod",
        "deployment",
        "helm chart",
        "ingress controller",
        "persistent volume",
        "namespace",
        "liveness probe",
        "autoscaler",
    ],
    "poetry": [
        "sonnet",
        "haiku",
        "rhyme scheme",
        "metaphor",
        "free verse",
        "stanza",
        "iambic pentameter",
        "imagery",
    ],
    "running": [
        "marathon training",
        "interval workout",
        "running shoes",
        "shin splints",
        "tempo run",
        "cadence",
        "long run",
        "recovery day",
    ],
    "history_rome": [
        "Roman senate",
        "Julius Caesar",
        "legion",
        "aqueduct",
        "Punic wars",
        "emperor Augustus",
        "gladiator",
        "Roman republic",
    ],
    "javascript_react": [
        "React component",
        "useEffect hook",
        "props",
        "state management",
        "virtual DOM",
        "JSX",
        "context provider",
        "rerender",
    ],
    "linear_algebra": [
        "eigenvalue",
        "matrix inverse",
        "determinant",
        "vector space",
        "orthogonal basis",
        "rank",
        "singular value decomposition",
        "linear transformation",
    ],
    "coffee": [
        "espresso shot",
        "pour over",
        "grind size",
        "arabica beans",
        "milk frothing",
        "french press",
        "crema",
        "roast level",
    ],
    "dogs": [
        "puppy training",
        "leash pulling",
        "dog breed",
        "crate training",
        "vaccination",
        "dog food",
        "separation anxiety",
        "obedience command",
    ],
    "travel_japan": [
        "Kyoto temples",
        "rail pass",
        "ryokan",
        "Tokyo neighborhoods",
        "cherry blossom season",
        "sushi etiquette",
        "onsen",
        "Mount Fuji",
    ],
    "networking": [
        "TCP handshake",
        "subnet mask",
        "DNS resolver",
        "router",
        "firewall rule",
        "VLAN",
        "packet loss",
        "IP address",
    ],
    "photography": [
        "aperture",
        "shutter speed",
        "ISO setting",
        "prime lens",
        "golden hour",
        "composition",
        "depth of field",
        "white balance",
    ],
    "climate": [
        "carbon emissions",
        "greenhouse gases",
        "sea level rise",
        "renewable energy",
        "carbon tax",
        "heat wave",
        "permafrost",
        "climate model",
    ],
    "cooking_pasta": [
        "carbonara",
        "al dente",
        "tomato sauce",
        "fresh pasta dough",
        "parmesan",
        "olive oil",
        "garlic",
        "basil pesto",
    ],
    "resume_career": [
        "cover letter",
        "job interview",
        "resume summary",
        "salary negotiation",
        "career change",
        "LinkedIn profile",
        "reference letter",
        "promotion",
    ],
    "probability": [
        "conditional probability",
        "Bayes theorem",
        "random variable",
        "expected value",
        "binomial distribution",
        "variance",
        "coin flips",
        "dice rolls",
    ],
    "docker": [
        "Dockerfile",
        "container image",
        "docker compose",
        "volume mount",
        "multi-stage build",
        "registry",
        "entrypoint",
        "layer caching",
    ],
    "nutrition": [
        "protein intake",
        "calorie deficit",
        "vitamin D",
        "fiber",
        "meal prep",
        "carbohydrates",
        "hydration",
        "intermittent fasting",
    ],
    "philosophy": [
        "free will",
        "utilitarianism",
        "Kant",
        "epistemology",
        "existentialism",
        "moral realism",
        "Socratic method",
        "consciousness",
    ],
    "cycling": [
        "road bike",
        "gear ratio",
        "chain lube",
        "saddle height",
        "cadence sensor",
        "tubeless tires",
        "climbing",
        "bike fit",
    ],
    "excel": [
        "VLOOKUP",
        "pivot chart",
        "conditional formatting",
        "spreadsheet formula",
        "macro",
        "data validation",
        "INDEX MATCH",
        "cell reference",
    ],
}

TEMPLATES = [
    "Explain {a} and {b}.",
    "Compare {a} with {b}.",
    "Tips on {a} and {b}?",
    "Why {a} before {b}?",
    "Help: {a} breaks {b}.",
    "Teach me {a}, then {b}.",
    "Guide to {a} plus {b}.",
    "Is {a} better than {b}?",
    "Checklist: {a}, {b}.",
    "Examples of {a} with {b}?",
    "Mistakes with {a} or {b}?",
    "Summarize {a} and {b}.",
]


CONTEXTS = [
    "Also {c}, {d}, {e}.",
    "Related: {c}; {d}; {e}.",
    "({c}, {d}, {e})",
    "Keywords: {c} / {d} / {e}",
]


def generate(seed: int = 20240731, per_topic: int = 10) -> list[dict[str, str]]:
    """Build the prompt records (deterministic given ``seed``)."""
    rng = np.random.default_rng(seed)
    out: list[dict[str, str]] = []
    for t_idx, (topic, words) in enumerate(TOPICS.items()):
        used: set[frozenset[str]] = set()  # no two prompts of a topic share all 5 words
        made = 0
        while made < per_topic:
            picked = [str(w) for w in rng.choice(words, size=5, replace=False)]
            k = int(rng.integers(len(TEMPLATES)))
            ctx_k = int(rng.integers(len(CONTEXTS)))
            if frozenset(picked) in used:
                continue
            used.add(frozenset(picked))
            a, b, c, d, e = picked
            text = TEMPLATES[k].format(a=a, b=b) + " " + CONTEXTS[ctx_k].format(c=c, d=d, e=e)
            out.append({"prompt_id": f"syn{t_idx:02d}_{made:02d}", "topic": topic, "prompt": text})
            made += 1
    return out


def main() -> None:
    target = Path(__file__).resolve().parents[1] / "wizardarena" / "data" / "testset_prompts.jsonl"
    records = generate()
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, target)
    print(f"wrote {len(records)} prompts to {target}")


if __name__ == "__main__":
    main()
