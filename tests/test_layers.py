"""Imports go down the layers only (docs/architecture.md): every ``fastinit`` import in the
package, at module level or inside a function, names a module of its own layer or of a lower
one.  A new module must be placed in LAYERS."""
import ast
import importlib.util
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fastinit"

# Lowest first.  Modules of one layer may import each other.
LAYERS = [
    # utilities and the compiled engine
    {"_core", "_core.kernels_baseline", "_core.kernels_avx2", "_core.kernels_avx512",
     "_core.bit_generator", "_core.simd", "_core.threads",
     "_validate", "_progress", "_names", "_version", "_keras", "_fans", "_truncnorm",
     "_bit_generator", "io._summary", "_device", "_device.triton_kernels"},
    # the Generator, and torch tensors as fill targets
    {"_numpy_methods", "_generator", "_tensors"},
    # the schemes and the one init vocabulary
    {"init"}, {"_recipe"}, {"initializers"}, {"_tensor_init"},
    # the integrations, each above the ones it uses
    {"dask", "dask.init"},
    {"io", "io._files", "io.writer", "io._stats", "io.npy", "io.safetensors", "io.zarr", "io.spec"},
    {"torch.random_calls"},
    {"torch", "torch.hooks", "torch.hf", "torch.materialize", "torch.recipes", "torch.checkpoint",
     "torch.diagnose"},
    # the face and the programs: nothing in the library imports them
    {"", "__main__", "cli", "bench", "bench.fills", "bench.model", "bench.checkpoint",
     "bench.cluster", "bench.harness"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.with_suffix("").relative_to(PACKAGE).parts
        yield ".".join(p for p in parts if p != "__init__"), path


def _is_module(name):
    return importlib.util.find_spec(f"fastinit.{name}" if name else "fastinit") is not None


def _imports(path):
    """The fastinit modules a file imports (``from fastinit import Generator`` is the face)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module == "fastinit" or node.module.startswith("fastinit.")):
            base = node.module[len("fastinit."):] if node.module != "fastinit" else ""
            for alias in node.names:
                child = f"{base}.{alias.name}" if base else alias.name
                yield child if child in LAYER or (not base and _is_module(child)) else base
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "fastinit" or alias.name.startswith("fastinit."):
                    yield alias.name[len("fastinit."):] if alias.name != "fastinit" else ""


def test_every_module_has_a_layer():
    assert sorted(name for name, _ in _modules() if name not in LAYER) == []


@pytest.mark.parametrize("name, path", list(_modules()), ids=lambda x: str(x) or "fastinit")
def test_imports_only_go_down(name, path):
    if name not in LAYER:
        pytest.fail(f"{name} has no layer")
    upward = sorted({dep for dep in _imports(path)
                     if dep != name and LAYER.get(dep, -1) > LAYER[name]})
    assert upward == [], f"fastinit.{name} imports a higher layer: {upward}"


def _declared(path):
    """The modules a file's docstring says it may import ("May import: a, b, fastinit.c.")."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    if "May import:" not in doc:
        return None
    text = " ".join(doc.split("May import:", 1)[1].split())
    text = text.split(".", 1)[0] if text.startswith("nothing") else text.rstrip(".")
    if text.startswith("nothing"):
        return set()
    return {name.strip() for name in text.split(",")}


def _external(path):
    tree = ast.parse(path.read_text())
    std = set(sys.stdlib_module_names) | {"__future__"}
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                 and node.module else [])
        for name in names:
            top = name.split(".")[0]
            if top != "fastinit" and top not in std:
                yield top


@pytest.mark.parametrize("name, path", list(_modules()), ids=lambda x: str(x) or "fastinit")
def test_each_docstring_says_what_its_module_may_import(name, path):
    """Every module's docstring ends with "May import: ...": the third-party packages and the
    fastinit modules it imports, none left out, so a new dependency is a visible decision."""
    declared = _declared(path)
    assert declared is not None, f"fastinit.{name} has no 'May import:' line"
    used = {f"fastinit.{dep}" if dep else "fastinit" for dep in _imports(path) if dep != name}
    used |= set(_external(path))
    assert sorted(used - declared) == []
