"""deploy/k8s: each overlay rendered by kustomize (kubectl, no cluster), validated against the
Kubernetes API schemas (kubernetes-validate, offline), and compared with the code's contract."""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
from kubernetes_validate.utils import latest_version

from kliniki.settings import ServiceSettings
from tests.deployment.support import (
    DEFAULTED,
    EXTERNAL_SECRETS,
    IMAGE_ENV,
    K8S,
    OVERLAYS,
    Doc,
    by_kind,
    container_env,
    containers,
    contract_ports,
    find,
    k8s_problems,
    own_setting_env_names,
    reference_files,
    render,
    setting_env_names,
)

PORTS = contract_ports()
SERVICES = sorted(PORTS)
NAMESPACES = {"dev": "kliniki-dev", "prod": "kliniki"}
# The oldest Kubernetes the manifests promise to work on (README), and the newest known.
K8S_VERSIONS = ("1.30", latest_version())
# Operators' resources: no schema in kubernetes-validate; checked by test_custom_resources.
CUSTOM_KINDS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "Database"),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"),
    ("barmancloud.cnpg.io/v1", "ObjectStore"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
}
POSTGRES_PODS = {"cnpg.io/cluster": "kliniki-postgres"}
RABBITMQ_PODS = {"app.kubernetes.io/name": "kliniki-rabbitmq"}
CNPG_PLUGIN = "barman-cloud.cloudnative-pg.io"
# Spec fields of the operators' resources this project may use (a subset of their CRDs): a
# misspelt one would otherwise be dropped or refused only when applied to a cluster.
RABBITMQ_SPEC_KEYS = {
    "replicas",
    "image",
    "persistence",
    "resources",
    "rabbitmq",
    "affinity",
    "service",
    "override",
    "tls",
    "tolerations",
    "terminationGracePeriodSeconds",
    "secretBackend",
}
CNPG_CLUSTER_SPEC_KEYS = {
    "description",
    "instances",
    "imageName",
    "primaryUpdateStrategy",
    "enableSuperuserAccess",
    "storage",
    "walStorage",
    "resources",
    "postgresql",
    "bootstrap",
    "managed",
    "affinity",
    "plugins",
    "monitoring",
    "backup",
}


# kubernetes-validate reads its 1.8 MB definitions file again for every resource; reading each
# schema file once keeps the whole validation well under a second.
_cached_schema_contents = functools.cache(kubernetes_validate.utils.schema_contents)


@pytest.fixture
def cached_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents", _cached_schema_contents)


def deployment(overlay: str, service: str) -> Doc:
    return by_kind(render(overlay), "Deployment")[service]


def main_container(overlay: str, service: str) -> Doc:
    return deployment(overlay, service)["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.usefixtures("cached_schemas")
def test_overlay_validates_against_the_kubernetes_schemas(overlay: str, version: str) -> None:
    """Strict schemas: a misspelt field is an error, not silently dropped by the API server."""
    errors, custom = [], set()
    for doc in render(overlay):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            custom.add((doc["apiVersion"], doc["kind"]))
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.absolute_path)
            errors.append(f"{doc['kind']}/{doc['metadata']['name']} {path}: {exc.message}")
    assert not errors, "\n".join(errors)
    assert custom <= CUSTOM_KINDS, f"unknown kinds, unchecked: {custom - CUSTOM_KINDS}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_port_and_setting_of_the_code_is_deployed(overlay: str) -> None:
    assert k8s_problems(render(overlay), PORTS, setting_env_names()) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_unknown_kliniki_variable_is_set(overlay: str) -> None:
    """A misspelt KLINIKI_ name would be silently ignored by the service (extra="ignore")."""
    known = setting_env_names() | IMAGE_ENV
    docs = render(overlay)
    for service in SERVICES:
        for container in containers(deployment(overlay, service)):
            env = container_env(container, docs)
            unknown = {n for n in env if n.startswith(("KLINIKI_", "UVICORN_"))}
            unknown -= known | own_setting_env_names(service)
            assert not unknown, f"{service}/{container['name']}: {unknown}"


def resolve_env(container: Doc, docs: Iterable[Doc]) -> dict[str, str]:
    """The environment the kubelet would give the container; secrets not in the build (prod)
    get stand-in values."""
    docs = list(docs)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])  # type: ignore[index]
    for entry in container.get("env", []):
        if "value" in entry:
            # $(VAR) refers to a variable defined above; unknown ones stay as written.
            env[entry["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                lambda m: env.get(m[1], m[0]),
                entry["value"],
            )
            continue
        source = entry["valueFrom"]
        if ref := source.get("secretKeyRef"):
            secret = find(docs, "Secret", ref["name"])
            stand_in = f"{ref['key']}-of-{ref['name']}"
            env[entry["name"]] = (secret or {}).get("stringData", {}).get(ref["key"], stand_in)
        elif ref := source.get("configMapKeyRef"):
            data = (find(docs, "ConfigMap", ref["name"]) or {}).get("data") or {}
            if ref["key"] in data:
                env[entry["name"]] = data[ref["key"]]
            else:
                assert ref.get("optional"), f"{entry['name']}: {ref['name']} has no {ref['key']}"
    return env


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_a_service_would_read(
    overlay: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render(overlay)
    for container in containers(deployment(overlay, service)):
        env = resolve_env(container, docs)
        for name in [n for n in os.environ if n.startswith("KLINIKI_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = ServiceSettings()  # type: ignore[call-arg]
        assert settings.service_name == service
        assert settings.http_port == PORTS[service]
        assert settings.database == f"kliniki_{service}"
        user, password = env["DB_USER"], env["DB_PASSWORD"]
        assert settings.database_url == (
            f"postgresql+asyncpg://{user}:{password}@kliniki-postgres-rw:5432/kliniki_{service}"
        )
        assert settings.amqp_url.endswith("@kliniki-rabbitmq:5672/")
        assert "$(" not in settings.amqp_url + settings.postgres_url
        for name, file in reference_files().items():
            field = name.removeprefix("KLINIKI_").lower()
            assert str(getattr(settings, field)) == f"/etc/kliniki/{file}"
        # Tokens verified with identity's keys; no shared signing secret anywhere.
        assert settings.jwt_jwks_url == "http://identity:8008/.well-known/jwks.json"
        assert settings.jwt_issuer and settings.jwt_audience
        assert not settings.uses_shared_secret and "KLINIKI_JWT_SECRET" not in env
        assert settings.env == ("development" if overlay == "dev" else "production")
        if overlay == "dev":
            assert user == f"kliniki_{service}"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployment_probes_resources_security_and_migration(overlay: str, service: str) -> None:
    deploy = deployment(overlay, service)
    pod = deploy["spec"]["template"]["spec"]
    main = pod["containers"][0]
    port = PORTS[service]
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert deploy["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in containers(deploy):
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
        assert {"cpu", "memory"} <= set(resources["limits"]), container["name"]
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
    # The migration runs first, from the same image, with the same settings.
    [migrate] = pod["initContainers"]
    assert migrate["name"] == "migrate" and migrate["args"] == ["migrate"]
    assert migrate["image"] == main["image"] and main["args"] == ["serve"]
    assert migrate["env"] == main["env"] and migrate["envFrom"] == main["envFrom"]
    # Graceful shutdown fits in the grace period: preStop, then uvicorn's drain, then the app.
    pre_stop = int(main["lifecycle"]["preStop"]["exec"]["command"][-1])
    common = find(render(overlay), "ConfigMap", "kliniki-common")
    drain = int(common["data"]["UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN"])  # type: ignore[index]
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + drain + 10
    strategy = deploy["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0, "a rollout never drops below the desired count"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_disruption_budget(overlay: str) -> None:
    budgets = by_kind(render(overlay), "PodDisruptionBudget")
    for service in SERVICES:
        selector = budgets[service]["spec"]["selector"]["matchLabels"]
        assert selector == {"app.kubernetes.io/name": service}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_notifier_runs_several_replicas_behind_a_websocket_ingress(overlay: str) -> None:
    docs = render(overlay)
    hpa = by_kind(docs, "HorizontalPodAutoscaler")["notifier"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "notifier",
    }
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert "replicas" not in deployment(overlay, "notifier")["spec"], "the HPA owns the count"
    assert by_kind(docs, "PodDisruptionBudget")["notifier"]["spec"]["maxUnavailable"] == 1
    ingress = by_kind(docs, "Ingress")["notifier"]
    annotations = ingress["metadata"]["annotations"]
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600
    [rule] = ingress["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "notifier", "port": {"number": PORTS["notifier"]}}
    if overlay == "prod":
        assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_ingress_routes_each_department_to_its_port(overlay: str) -> None:
    ingress = by_kind(render(overlay), "Ingress")["kliniki-api"]
    routed = {}
    for rule in ingress["spec"]["rules"]:
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert rule["host"].startswith(f"{backend['name']}.")
        routed[backend["name"]] = backend["port"]["number"]
    assert routed == {s: p for s, p in PORTS.items() if s != "notifier"}


def rules_to(policy: Doc, direction: str) -> list[Doc]:
    return policy["spec"].get(direction, [])


def selects(policy: Doc, labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if selector.get("matchExpressions"):
        return False
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_each_service_reach_only_its_database(overlay: str) -> None:
    """One PostgreSQL cluster: the network limits who reaches its pods (the services, on 5432);
    which database each one may open is PostgreSQL's business (role, owner, pg_hba)."""
    docs = render(overlay)
    policies = by_kind(docs, "NetworkPolicy")
    default = policies["default-deny-ingress"]["spec"]
    assert default == {"podSelector": {}, "policyTypes": ["Ingress"]}
    for service in SERVICES:
        own = policies[service]
        assert own["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": service}}
        assert set(own["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        assert [p["port"] for r in rules_to(own, "ingress") for p in r["ports"]] == [PORTS[service]]
    pod_labels = {
        service: deployment(overlay, service)["spec"]["template"]["metadata"]["labels"]
        for service in SERVICES
    }
    for name, policy in policies.items():
        if "Egress" not in policy["spec"].get("policyTypes", []):
            continue
        for service, labels in pod_labels.items():
            if not selects(policy, labels):
                continue
            for rule in rules_to(policy, "egress"):
                ports = {p["port"] for p in rule.get("ports", [])}
                assert ports, f"{name}: an egress rule without ports opens everything"
                if 5432 in ports:
                    assert rule["to"] == [{"podSelector": {"matchLabels": POSTGRES_PODS}}], (
                        f"{name}: {service} may reach port 5432 beyond the PostgreSQL pods"
                    )
    for infra, labels in (("kliniki-postgres", POSTGRES_PODS), ("kliniki-rabbitmq", RABBITMQ_PODS)):
        policy = policies[infra]
        assert policy["spec"]["podSelector"] == {"matchLabels": labels}
        first = rules_to(policy, "ingress")[0]["from"][0]["podSelector"]["matchExpressions"]
        assert first == [
            {"key": "app.kubernetes.io/name", "operator": "In", "values": SERVICES_IN_ORDER}
        ], f"{infra}: exactly the seven services"


SERVICES_IN_ORDER = list(PORTS)


def spec_keys_within(doc: Doc, allowed: set[str]) -> None:
    unknown = set(doc["spec"]) - allowed
    assert not unknown, f"{doc['kind']}/{doc['metadata']['name']}: unexpected spec keys {unknown}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_are_well_formed(overlay: str) -> None:
    """The operators' resources, checked by structure (no CRD schemas offline)."""
    docs = render(overlay)
    [rabbit] = [d for d in docs if d["kind"] == "RabbitmqCluster"]
    assert rabbit["apiVersion"] == "rabbitmq.com/v1beta1"
    assert rabbit["metadata"]["name"] == "kliniki-rabbitmq"
    spec_keys_within(rabbit, RABBITMQ_SPEC_KEYS)
    assert rabbit["spec"]["replicas"] % 2 == 1, "quorum queues want an odd number of nodes"
    assert "default_queue_type = quorum" in rabbit["spec"]["rabbitmq"]["additionalConfig"]
    # Every consumer's partitions hang off a consistent-hash exchange (kliniki.consumer).
    assert "rabbitmq_consistent_hash_exchange" in rabbit["spec"]["rabbitmq"]["additionalPlugins"]
    assert re.fullmatch(r"\d+(Gi|Mi)", rabbit["spec"]["persistence"]["storage"])

    [cluster] = [d for d in docs if d["kind"] == "Cluster"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["metadata"]["name"] == "kliniki-postgres"
    spec = cluster["spec"]
    spec_keys_within(cluster, CNPG_CLUSTER_SPEC_KEYS)
    assert isinstance(spec["instances"], int) and spec["instances"] >= 1
    assert re.fullmatch(r"\d+(Gi|Mi)", spec["storage"]["size"])
    roles = {r["name"]: r for r in spec["managed"]["roles"]}
    assert set(roles) == {f"kliniki_{s}" for s in SERVICES}
    for service in SERVICES:
        role = roles[f"kliniki_{service}"]
        assert role["login"] is True and role["superuser"] is False and role["ensure"] == "present"
        assert role["passwordSecret"] == {"name": f"kliniki-{service}-db"}
    hba = spec["postgresql"]["pg_hba"]
    for service in SERVICES:
        assert f"host kliniki_{service},postgres kliniki_{service} all scram-sha-256" in hba
    assert hba[-1] == "host all all all reject", "nothing else gets in"
    databases = {d["spec"]["name"]: d["spec"] for d in docs if d["kind"] == "Database"}
    assert set(databases) == {f"kliniki_{s}" for s in SERVICES}
    for name, database in databases.items():
        assert database["owner"] == name and database["cluster"] == {"name": "kliniki-postgres"}
        assert database["databaseReclaimPolicy"] == "retain"

    backups = [d for d in docs if d["kind"] == "ScheduledBackup"]
    stores = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ObjectStore"}
    if overlay == "prod":
        assert spec["instances"] >= 3 and rabbit["spec"]["replicas"] >= 3
        [plugin] = spec["plugins"]
        assert plugin["name"] == CNPG_PLUGIN and plugin["isWALArchiver"] is True
        store = stores[plugin["parameters"]["barmanObjectName"]]
        assert store["spec"]["configuration"]["destinationPath"].startswith("s3://")
        [backup] = backups
        assert backup["spec"]["cluster"] == {"name": "kliniki-postgres"}
        assert backup["spec"]["method"] == "plugin"
        assert backup["spec"]["pluginConfiguration"] == {"name": CNPG_PLUGIN}
        assert len(backup["spec"]["schedule"].split()) == 6, "CloudNativePG: seconds first"


def secret_references(docs: Iterable[Doc]) -> set[str]:
    """Every Secret name the rendered resources rely on."""
    names: set[str] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            if key in ("secretKeyRef", "secretRef", "passwordSecret"):
                names.add(node["name"])
            if key in ("accessKeyId", "secretAccessKey") and "name" in node:
                names.add(node["name"])
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)

    for doc in docs:
        walk(doc)
    return names


def run_create_secrets(tmp_path: Path) -> list[str]:
    """create-secrets.sh against a stand-in kubectl that records what it is asked to do."""
    log = tmp_path / "kubectl.log"
    fake = tmp_path / "kubectl"
    fake.write_text(
        '#!/bin/sh\necho "$*" >> "$KUBECTL_LOG"\ncase " $* " in *" get "*) exit 1 ;; esac\nexit 0\n'
    )
    fake.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{tmp_path}:{os.environ['PATH']}",
        "KUBECTL_LOG": str(log),
        "BACKUP_S3_ACCESS_KEY_ID": "id",
        "BACKUP_S3_SECRET_ACCESS_KEY": "key",
    }
    subprocess.run(
        ["bash", str(K8S / "create-secrets.sh"), "kliniki"],
        env=env,
        check=True,
        capture_output=True,
        timeout=30,
    )
    return log.read_text().splitlines()


def test_prod_contains_no_secret_and_create_secrets_makes_every_one_it_needs(
    tmp_path: Path,
) -> None:
    docs = render("prod")
    assert not [d for d in docs if d["kind"] == "Secret"], "prod must never carry secrets"
    calls = run_create_secrets(tmp_path)
    created = {
        m[1]: line for line in calls if (m := re.search(r"create secret generic (\S+)", line))
    }
    needed = secret_references(docs) - set(EXTERNAL_SECRETS)
    assert needed <= set(created), f"not created by create-secrets.sh: {needed - set(created)}"
    for service in SERVICES:
        line = created[f"kliniki-{service}-db"]
        assert f"--from-literal=username=kliniki_{service}" in line
        assert "--type=kubernetes.io/basic-auth" in line
        assert f"label secret kliniki-{service}-db cnpg.io/reload=true" in " ".join(calls)
    secret = re.search(
        r"KLINIKI_BOOTSTRAP_ADMIN_PASSWORD=(\S+)", created["kliniki-identity-bootstrap"]
    )
    assert secret and re.fullmatch(r"[0-9a-f]{48}", secret[1]), "random and URL-safe"
    assert "kliniki-jwt" not in created, "no shared token secret: identity signs, others verify"


def test_dev_secrets_are_all_marked_placeholders_and_complete() -> None:
    docs = render("dev")
    secrets = by_kind(docs, "Secret")
    assert secrets, "dev brings its placeholder secrets"
    for name, secret in secrets.items():
        assert secret["metadata"]["annotations"]["kliniki.io/placeholder"] == "true", name
        assert all("PLACEHOLDER" in v for k, v in secret["stringData"].items() if k != "username")
    assert secret_references(docs) - set(EXTERNAL_SECRETS) <= set(secrets)
    for service in SERVICES:
        secret = secrets[f"kliniki-{service}-db"]
        assert secret["type"] == "kubernetes.io/basic-auth"
        assert secret["stringData"]["username"] == f"kliniki_{service}"
        assert secret["metadata"]["labels"]["cnpg.io/reload"] == "true"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_references_resolve_and_everything_is_in_the_namespace(overlay: str) -> None:
    docs = render(overlay)
    for service in SERVICES:
        for container in containers(deployment(overlay, service)):
            for source in container["envFrom"]:
                assert find(docs, "ConfigMap", source["configMapRef"]["name"]), source
    namespace = NAMESPACES[overlay]
    [ns] = [d for d in docs if d["kind"] == "Namespace"]
    assert ns["metadata"]["name"] == namespace
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, doc["metadata"]["name"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kliniki"


def test_prod_images_are_pinned_to_a_registry_and_a_version() -> None:
    for service in SERVICES:
        for container in containers(deployment("prod", service)):
            image = container["image"]
            registry, _, rest = image.partition("/")
            name, _, tag = rest.rpartition(":")
            assert "." in registry, f"{image}: from a registry"
            assert name.endswith(f"kliniki/{service}") and tag not in ("", "latest", "dev"), image


def test_defaulted_settings_are_few_and_explained() -> None:
    assert len(DEFAULTED) <= 3
    assert all(len(reason) > 20 for reason in DEFAULTED.values())
    assert set(DEFAULTED) <= setting_env_names(), "stale entries"


def test_prometheus_scrapes_every_service_in_production() -> None:
    """The monitoring component: a PodMonitor selecting every service's pods on their named
    http port, and a network policy that lets Prometheus in."""
    docs = render("prod")
    [monitor] = [d for d in docs if d["kind"] == "PodMonitor"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    deployments = by_kind(docs, "Deployment")
    for service in SERVICES:
        labels = deployments[service]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"{service}'s pods are not scraped"
        ports = [p["name"] for c in containers(deployments[service]) for p in c.get("ports", [])]
        assert "http" in ports
    policy = find(docs, "NetworkPolicy", "kliniki-metrics-from-prometheus")
    assert policy is not None
    assert policy["spec"]["podSelector"]["matchLabels"] == selector


def vite_proxy_services() -> dict[str, int]:
    """The services `make run` proxies at /api/<service> (web/vite.config.ts, SERVICE_PORTS)."""
    config = (K8S.parents[1] / "web" / "vite.config.ts").read_text()
    table = config[config.index("SERVICE_PORTS = {") : config.index("} as const")]
    return {name: int(port) for name, port in re.findall(r"(\w+): (\d+),", table)}


def ingress_rewrite(path_regex: str, rewrite: str, request_path: str) -> str | None:
    """What ingress-nginx sends upstream for ``request_path`` (use-regex + rewrite-target:
    the path is a case-insensitive regex anchored at the start, $n its groups)."""
    found = re.match(path_regex, request_path, re.IGNORECASE)
    if found is None:
        return None
    return re.sub(r"\$(\d)", lambda m: found.group(int(m[1])) or "", rewrite)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_console_ingress_routes_the_same_paths_as_make_run_and_compose(overlay: str) -> None:
    """One origin: / the console, /api/<service>/... each service with the prefix stripped,
    /ws the notifier's WebSocket with long timeouts, all on one host."""
    docs = render(overlay)
    ingresses = by_kind(docs, "Ingress")
    site, api, ws = ingresses["console"], ingresses["console-api"], ingresses["console-ws"]
    hosts = {rule["host"] for ing in (site, api, ws) for rule in ing["spec"]["rules"]}
    assert len(hosts) == 1, f"one origin, not {hosts}"
    [root] = site["spec"]["rules"][0]["http"]["paths"]
    assert (root["path"], root["pathType"]) == ("/", "Prefix")
    assert root["backend"]["service"] == {"name": "console", "port": {"number": 8080}}

    annotations = api["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/use-regex"] == "true"
    rewrite = annotations["nginx.ingress.kubernetes.io/rewrite-target"]
    routed: dict[str, int] = {}
    for path in api["spec"]["rules"][0]["http"]["paths"]:
        backend = path["backend"]["service"]
        service = backend["name"]
        routed[service] = backend["port"]["number"]
        assert path["pathType"] == "ImplementationSpecific"
        strip = functools.partial(ingress_rewrite, path["path"], rewrite)
        assert strip(f"/api/{service}/patients?q=Doe") == "/patients?q=Doe"
        assert strip(f"/api/{service}/openapi.json") == "/openapi.json"
        assert strip(f"/api/{service}") == "/"
        assert strip(f"/api/{service}x/patients") is None, "a prefix of another name"
    assert routed == PORTS == vite_proxy_services()

    [socket] = ws["spec"]["rules"][0]["http"]["paths"]
    assert (socket["path"], socket["pathType"]) == ("/ws", "Exact")
    assert socket["backend"]["service"] == {"name": "notifier", "port": {"number": 8007}}
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(ws["metadata"]["annotations"][f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600
    assert "nginx.ingress.kubernetes.io/rewrite-target" not in ws["metadata"]["annotations"]
    if overlay == "prod":
        for ing in (site, api, ws):
            assert ing["spec"]["tls"][0]["hosts"] == sorted(hosts)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_console_deployment_serves_only_its_files_unprivileged(overlay: str) -> None:
    docs = render(overlay)
    deploy = by_kind(docs, "Deployment")["console"]
    pod = deploy["spec"]["template"]["spec"]
    [main] = pod["containers"]
    assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert main["readinessProbe"]["httpGet"] == {"path": "/", "port": "http"}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"]
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"cpu", "memory"} <= set(main["resources"]["limits"])
    assert deploy["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    service = by_kind(docs, "Service")["console"]
    assert [p["port"] for p in service["spec"]["ports"]] == [8080]
    # nginx's config from the ConfigMap: the files only, no proxying (the Ingress routes).
    [config] = [v for v in pod["volumes"] if v["name"] == "config"]
    conf_map = find(docs, "ConfigMap", config["configMap"]["name"])
    assert conf_map is not None
    conf = conf_map["data"]["default.conf"]
    assert "listen 8080;" in conf and "try_files $uri /index.html;" in conf
    assert "proxy_pass" not in conf
    policy = by_kind(docs, "NetworkPolicy")["console"]
    assert [p["port"] for r in rules_to(policy, "ingress") for p in r["ports"]] == [8080]
    assert rules_to(policy, "egress") == [], "it serves files and calls nothing"
    image = main["image"]
    if overlay == "prod":
        assert image.startswith("registry.example-hospital.org/kliniki/console:")
        assert not image.endswith((":latest", ":dev"))
    else:
        assert image == "kliniki/console:dev"
