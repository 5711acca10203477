"""The subset of kustomize deploy/k8s uses, in Python (kustomize itself is not on PyPI):
`resources` (YAML files, or directories holding a kustomization.yaml), `namespace`,
`images` (name → newName/newTag) and `patches` by path (strategic merge: maps merge,
a null value deletes its key, lists of maps merge by their merge key — `mountPath` for
volumeMounts, `name` for the rest — and an item `$patch: delete` removes its match, a
patch document `$patch: delete` removes its resource; anything else is replaced).
Anything else in a kustomization is refused, so a manifest using more fails the test
instead of rendering differently from `kubectl kustomize`."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

KNOWN = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass"}


class KustomizeError(ValueError):
    pass


def _key(doc: dict) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


# Strategic merge keys of the lists deploy/k8s patches that are not keyed by `name`.
MERGE_KEYS = {"volumeMounts": "mountPath"}
DELETE = {"$patch": "delete"}


def merge(base, patch, field: str = ""):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    key = MERGE_KEYS.get(field, "name")
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(x, dict) and key in x for x in base + patch):
        out = [copy.deepcopy(x) for x in base]
        for item in patch:
            at = next((i for i, x in enumerate(out) if x[key] == item[key]), None)
            if item.items() >= DELETE.items():
                if at is not None:
                    del out[at]
            elif at is None:
                out.append(copy.deepcopy(item))
            else:
                out[at] = merge(out[at], item)
        return out
    return copy.deepcopy(patch)


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", []) + spec.get("initContainers", [])


def _set_image(image: str, rules: list[dict]) -> str:
    name, _, tag = image.partition(":")
    for rule in rules:
        if rule["name"] == name:
            return f"{rule.get('newName', name)}:{rule.get('newTag', tag or 'latest')}"
    return image


def render(directory: Path) -> list[dict]:
    directory = Path(directory)
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN
    if unknown:
        raise KustomizeError(f"{directory}: kustomize_lite does not implement {sorted(unknown)}")
    docs: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        if path.is_dir():
            docs += render(path)
        elif path.is_file():
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
        else:
            raise KustomizeError(f"{directory}: no resource {resource}")
    seen = set()
    for doc in docs:
        if _key(doc) in seen:
            raise KustomizeError(f"{directory}: {_key(doc)} defined twice")
        seen.add(_key(doc))
    for entry in kustomization.get("patches", []):
        if set(entry) != {"path"}:
            raise KustomizeError(f"{directory}: only patches by path are implemented: {entry}")
        for patch in yaml.safe_load_all((directory / entry["path"]).read_text()):
            at = next((i for i, d in enumerate(docs) if _key(d) == _key(patch)), None)
            if at is None:
                raise KustomizeError(f"{directory}: patch {entry['path']} matches no resource {_key(patch)}")
            if patch.get("$patch") == "delete":
                del docs[at]
            else:
                docs[at] = merge(docs[at], patch)
    for doc in docs:
        for container in _containers(doc):
            container["image"] = _set_image(container["image"], kustomization.get("images", []))
        if "namespace" in kustomization and doc["kind"] not in CLUSTER_SCOPED:
            doc["metadata"]["namespace"] = kustomization["namespace"]
    return docs
