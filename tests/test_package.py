"""Package-level contracts: the public API is locked, the core stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import wizardarena as wa

PKG = Path(wa.__file__).resolve().parent


def test_all_is_sorted_and_importable() -> None:
    names = list(wa.__all__)

    def isort_key(name: str) -> tuple[int, str]:  # constants, classes, then the rest (ruff RUF022)
        kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return kind, name

    assert names == sorted(names, key=isort_key)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(wa, name), name


def test_public_api_is_locked() -> None:
    expected = {
        "WINNER_LABELS", "ArenaError", "BattleLog", "ClientError", "ConvergenceError",
        "ConvergenceWarning", "DataWarning", "FitInfo", "HTTPStatusError", "JudgeParseError",
        "Leaderboard", "MissingExtraError", "Outcome", "ReferenceMatchError", "RidgeWarning",
        "StoreError", "ValidationError", "Vocabulary", "WizardArenaError",
        "WizardArenaWarning", "__version__", "rank", "ranks_from_intervals", "read_battles",
        "simulate_battles", "simulate_style_battles",
        # agreement (issue 5)
        "AgreementReport", "Reference", "agreement", "agreement_by_category",
        "fetch_reference", "load_reference", "match_models",
        # arena and simulated arena (issue 3)
        "ArenaResult", "AsyncClient", "Client", "Judge", "JudgmentStore", "Template",
        "generate_answers", "load_answers", "load_prompts", "run_arena", "SimArena",
        "SimJudge", "SimModel",
        # test sets (issue 4)
        "APIEmbedder", "BattleDifficulty", "CriteriaDifficulty", "DecontaminationResult",
        "LLMDifficulty", "Precomputed", "SentenceTransformerEmbedder", "TestSet",
        "TfidfEmbedder", "build_testset", "decontaminate", "normalize_prompts", "read_prompts",
        # flywheel and style control (issue 6)
        "Comparison", "Flywheel", "FlywheelStats", "TrainingData", "compare",
        "STYLE_FEATURES", "answer_style",
        # real model names and reference boards (issue 11)
        "ReferenceFetchError", "load_aliases",
        # comparisons for CI (issue 15)
        "RatingDifference",
        # one progress protocol (issue 14)
        "Progress",
        # one house (issue 20): the whole exception tree, the options objects
        "EndpointError", "EndpointUnreachableError", "IncompleteAnswersError",
        "RequestRejectedError", "RatingOptions", "ArenaOptions",
    }
    assert set(wa.__all__) == expected


def test_validation_error_is_a_value_error() -> None:
    assert issubclass(wa.ValidationError, ValueError)
    assert issubclass(wa.ValidationError, wa.WizardArenaError)


FORBIDDEN = {"httpx", "socket", "urllib", "requests", "asyncio", "sqlite3", "http", "tenacity",
             "subprocess"}
PURE = ["ratings", "leaderboard.py", "sim/battles.py", "api.py", "agreement/metrics.py",
        "agreement/matching.py"]


def test_core_modules_do_no_network_io() -> None:
    files: list[Path] = []
    for entry in PURE:
        path = PKG / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    assert files
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods: list[str] = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            for mod in mods:
                assert mod.split(".")[0] not in FORBIDDEN, f"{f.name} imports {mod}"


def test_no_global_seeding_anywhere() -> None:
    for f in [*PKG.rglob("*.py"), *(PKG.parent / "tests").rglob("*.py")]:
        if f.resolve() == Path(__file__).resolve():
            continue
        text = f.read_text(encoding="utf-8")
        assert "np.random.seed(" not in text, f
        assert "random.seed(" not in text.replace("np.random.seed(", ""), f


# ---- every import, function level too: no circle, and arrows point down the layers ----

#: the layers of docs/index.md, top to bottom (a module belongs to the first prefix it has)
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("face", ("wizardarena", "wizardarena.__main__", "wizardarena.api", "wizardarena.cli")),
    ("consumers", ("wizardarena.testing", "wizardarena.flywheel", "wizardarena.agreement")),
    ("presentation", ("wizardarena.leaderboard", "wizardarena.plots")),
    ("stages", ("wizardarena.testset", "wizardarena.arena")),
    ("endpoints", ("wizardarena.endpoints",)),
    ("data and numerics", ("wizardarena.battles", "wizardarena.ratings")),
    ("engines", ("wizardarena.ray",)),
    ("base", ("wizardarena.exceptions", "wizardarena.progress", "wizardarena._io",
              "wizardarena._blas", "wizardarena._markdown")),
]
#: the test double: imported by the face and the consumers only; imports the base only
TEST_DOUBLE = "wizardarena.sim"


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for f in PKG.rglob("*.py"):
        parts = ("wizardarena", *f.relative_to(PKG).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return mods


def _every_import(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its file (function level,
    ``TYPE_CHECKING`` blocks and ``try`` bodies included)."""
    graph: dict[str, set[str]] = {}
    for name, f in mods.items():
        pkg = name if f.name == "__init__.py" else name.rpartition(".")[0]
        out: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = (".".join([*base, node.module] if node.module else base)
                       if node.level else str(node.module))
                subs = {f"{mod}.{a.name}" for a in node.names} & set(mods)
                if len(subs) < len(node.names):
                    out.add(mod)
                out.update(subs)
        # importing a.b.c runs a/__init__ and a/b/__init__ first: those count too, but a
        # package's own __init__ is not an import of its modules
        graph[name] = {m for m in out if m in mods and m != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _folder(module: str, mods: dict[str, Path]) -> str:
    """The folder (package) of a module; a module at the top of the package is its own."""
    if module == "wizardarena" or module.count(".") == 1:
        return module
    return module if mods[module].name == "__init__.py" else module.rpartition(".")[0]


def _layer(module: str) -> int:
    best = -1, -1
    for k, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best[1]:
                best = k, len(p)
    return best[0]


def test_no_import_circles_counting_every_import() -> None:
    """No circle between modules or between folders, function-level imports included."""
    mods = _modules()
    graph = _every_import(mods)
    assert not _circles(graph), f"module circles: {_circles(graph)}"
    folders: dict[str, set[str]] = {}
    for v, ws in graph.items():
        for w in ws:
            a, b = _folder(v, mods), _folder(w, mods)
            if a != b and a != "wizardarena":  # the package's __init__ is the face
                folders.setdefault(a, set()).add(b)
    assert not _circles(folders), f"folder circles: {_circles(folders)}"


def test_imports_point_down_the_layers() -> None:
    """Every import points down the layers of docs/index.md (or sideways within one); the
    simulator imports only the base and is imported only by the face and the consumers."""
    mods = _modules()
    graph = _every_import(mods)
    base = next(k for k, (name, _) in enumerate(LAYERS) if name == "base")
    consumers = next(k for k, (name, _) in enumerate(LAYERS) if name == "consumers")
    up: list[str] = []
    for v, ws in sorted(graph.items()):
        v_sim = v == TEST_DOUBLE or v.startswith(TEST_DOUBLE + ".")
        for w in sorted(ws):
            w_sim = w == TEST_DOUBLE or w.startswith(TEST_DOUBLE + ".")
            if v_sim and w_sim:
                continue
            if v_sim:
                if _layer(w) != base:
                    up.append(f"{v} -> {w} (the simulator imports the base only)")
                continue
            if w_sim:
                if _layer(v) > consumers:
                    up.append(f"{v} -> {w} (only the face and the consumers use the simulator)")
                continue
            lv, lw = _layer(v), _layer(w)
            assert lv >= 0 and lw >= 0, f"no layer for {v if lv < 0 else w}: add it to LAYERS"
            if lw < lv:
                up.append(f"{v} ({LAYERS[lv][0]}) -> {w} ({LAYERS[lw][0]})")
    assert not up, "imports that point up:\n" + "\n".join(up)


def test_no_private_name_crosses_a_module() -> None:
    """What another module needs is public inside the package: no module imports a name
    with a leading underscore from another module of the package (function level too)."""
    crossing = []
    for name, f in _modules().items():
        pkg = name if f.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
            mod = (".".join([*base, node.module] if node.module else base)
                   if node.level else str(node.module))
            if mod.split(".")[0] != "wizardarena" or mod == name:
                continue
            crossing += [f"{name} <- {mod}.{a.name}" for a in node.names
                         if a.name.startswith("_") and not a.name.startswith("__")]
    assert not crossing, "private names imported across modules:\n" + "\n".join(crossing)


def test_the_local_path_never_imports_ray(tmp_path: Path) -> None:
    # engine="local" (the default) works without the ray extra: ranking a log, a partitioned
    # log, building a test set and running a small arena leave ray unimported
    import subprocess
    import sys

    code = f"""
import sys
import wizardarena as wa
log = wa.simulate_battles({{"a": 1100, "b": 1000, "c": 900}}, 600, prompts=30, rng=0)
wa.rank(log, rounds=20, rng=0, progress=False)
log.to_parquet({str(tmp_path / "part-0.parquet")!r}, index=False)
wa.rank({str(tmp_path)!r}, rounds=20, rng=0, progress=False)
prompts = [f"Question {{i}}: how do I sort a list of {{i}} numbers in language {{i % 7}}?"
           for i in range(60)]
wa.build_testset(prompts, n_clusters=5, rng=0, progress=False)
qs = [{{"question_id": f"q{{i}}", "prompt": p}} for i, p in enumerate(prompts[:3])]
answers = {{m: {{q["question_id"]: f"Answer of {{m}}." for q in qs}} for m in ("m1", "m2")}}
with wa.SimArena({{"m1": 1100.0, "m2": 1000.0}}, rng=0) as sim:
    r = wa.run_arena(answers, qs, wa.Judge(sim.base_url, sim.judge_model, api_key_env=None),
                     store={str(tmp_path / "s.sqlite")!r}, progress=False)
assert r.n_ok == 6, r
assert "ray" not in sys.modules, "the local path imported ray"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
