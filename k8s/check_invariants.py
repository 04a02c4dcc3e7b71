#!/usr/bin/env python3
"""The invariants of ragway's Kubernetes manifests, checked on what `kubectl kustomize` renders.

    check_invariants.py manifests --shape base|single-node|scaled RENDERED.yaml [--emit-config DIR]
    check_invariants.py observability

`manifests` checks one rendered overlay (scripts/check-k8s renders them): probes, resources and the security
context of every container; one image tag, the Dockerfile's; Secret references only, and no secret-looking
value; the pod/ConfigMap/Service wiring of ragway.toml (ports, data_dir, prompts_dir; every variable a `*_env`
setting names filled from a required secretKeyRef, since ragway refuses to start when one is unset); the shape's
own rules (single-node: one StatefulSet owning a PVC; scaled: 3+ stateless replicas, a 3-node Qdrant cluster
with an API key both sides take from the same Secret key, replication_factor 2, the widget's shared session
secret, Redis limits, a sync CronJob mirroring the gateway, an SSE-friendly Ingress). With --emit-config DIR it
writes the ConfigMap's ragway.toml to DIR/<shape>/ragway.toml and the variables its `*_env` settings name to
DIR/<shape>/secret-env (one a line), for `ragway config check` (scripts/check-k8s --ragway).

`observability` checks k8s/observability: the alert rules and the Grafana dashboard reference only metrics
that gateway/src/metrics.rs registers (or the few kube-state-metrics series named below), and every alert the
runbook needs is there. promtool checks the PromQL syntax (scripts/check-k8s).

Exits 1 with one line per problem; prints a one-line summary per run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
IMAGE_REPO = "ghcr.io/ragway/ragway"
SECRET_NAME = "ragway-secrets"
RAGWAY_UID = 10001
QDRANT_IMAGE = "qdrant/qdrant:v1.16.3"  # the version ragway's tests run against
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
# Egress the gateway may have: DNS, HTTPS (LLM, Slack, Teams, web), Qdrant, PostgreSQL, Redis.
ALLOWED_EGRESS_PORTS = {53, 443, 5432, 6333, 6334, 6379}
# Variables the binary reads that are not `RAGWAY_<SECTION>__<KEY>` overrides.
RAGWAY_PLAIN_VARS = {"RAGWAY_CONFIG", "RAGWAY_LOG", "RAGWAY_ADDR", "RAGWAY_DATA_DIR"}
# Metrics the alerts and the dashboard may use besides ragway's own (kube-state-metrics).
EXTERNAL_METRICS = {"kube_cronjob_status_last_successful_time"}
REQUIRED_ALERTS = {
    "RagwayHigh5xxRate": "5xx rate",
    "RagwayHighLatencyP99": "p99 latency",
    "RagwayLimiterBackendErrors": "limiter backend errors",
    "RagwaySyncFailing": "sync failures",
    "RagwayLlmCircuitOpen": "LLM circuit open",
    "RagwayLlmUnavailable": "LLM answers failing",
    "RagwayAtCapacity": "answers refused at capacity",
}

SECRET_ENV_NAME = re.compile(
    r"SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|_KEY$|^DATABASE_URL$|REDIS_URL$", re.I
)
SECRET_VALUE = [
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), "an OpenAI-style API key"),
    (re.compile(r"\bxox[abpers]-[A-Za-z0-9-]{8,}"), "a Slack token"),
    (re.compile(r"\brgw(adm)?_[A-Za-z0-9_]{8,}"), "a ragway API or admin key"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"), "a URL with a password"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"), "a JWT"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), "a GitHub token"),
    (re.compile(r"^[A-Za-z0-9+/=_-]{40,}$"), "a long random-looking string"),
]


class Checker:
    def __init__(self, label: str):
        self.label = label
        self.errors: list[str] = []
        self.passed = 0

    def check(self, ok: bool, message: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.errors.append(f"FAIL [{self.label}] {message}")
        return ok


# ---------------------------------------------------------------------------------------------- repository facts


def dockerfile_tag(c: Checker) -> str:
    """The image tag the Dockerfile documents; it must be the one tag it names and the workspace version."""
    text = (ROOT / "Dockerfile").read_text()
    tags = set(re.findall(re.escape(IMAGE_REPO) + r":([A-Za-z0-9._-]+)", text))
    c.check(len(tags) == 1, f"the Dockerfile must name exactly one {IMAGE_REPO} tag, found {sorted(tags)}")
    tag = sorted(tags)[0] if tags else ""
    label = re.search(r'org\.opencontainers\.image\.version="([^"]+)"', text)
    c.check(bool(label) and label.group(1) == tag, f"the Dockerfile's version label must be {tag!r}")
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    version = cargo.get("workspace", {}).get("package", {}).get("version")
    c.check(tag == version, f"the image tag {tag!r} must be the workspace version {version!r} (Cargo.toml)")
    return tag


def config_sections() -> set[str]:
    """Top-level keys of ragway.toml: the fields of `pub struct Config` in gateway/src/config/mod.rs."""
    text = (ROOT / "gateway/src/config/mod.rs").read_text()
    body = re.search(r"pub struct Config \{(.*?)\n\}", text, re.S)
    return set(re.findall(r"^\s*pub (\w+):", body.group(1), re.M)) if body else set()


def prompt_files() -> dict[str, bytes]:
    """The repository's prompt templates by ConfigMap key (`es/system.jinja` → `es.system.jinja`)."""
    base = ROOT / "prompts"
    return {
        str(p.relative_to(base)).replace("/", "."): p.read_bytes() for p in sorted(base.rglob("*.jinja"))
    }


# ------------------------------------------------------------------------------------------------ pod helpers


def pod_spec(obj: dict) -> dict | None:
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec")
    if kind in WORKLOADS:
        return (spec.get("template") or {}).get("spec")
    return None


def pod_labels(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def containers(spec: dict) -> list[tuple[str, dict]]:
    return [("initContainer", c) for c in spec.get("initContainers") or []] + [
        ("container", c) for c in spec.get("containers") or []
    ]


def is_ragway(container: dict) -> bool:
    return str(container.get("image", "")).split(":")[0].split("@")[0] == IMAGE_REPO


def env_map(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env") or []}


def secret_ref(entry: dict | None) -> dict | None:
    return ((entry or {}).get("valueFrom") or {}).get("secretKeyRef")


def required_secret_ref(entry: dict | None) -> dict | None:
    """The entry's secretKeyRef to ragway-secrets when it is required (`optional` unset or false)."""
    ref = secret_ref(entry)
    if ref is None or ref.get("name") != SECRET_NAME or ref.get("optional", False) is not False:
        return None
    return ref


def port_number(container: dict, port) -> int | None:
    if isinstance(port, int):
        return port
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return p.get("containerPort")
    return None


def prestop_seconds(container: dict) -> int:
    pre = ((container.get("lifecycle") or {}).get("preStop")) or {}
    if "sleep" in pre:
        return int(pre["sleep"].get("seconds", 0))
    cmd = (pre.get("exec") or {}).get("command") or []
    if len(cmd) == 2 and cmd[0].endswith("sleep") and str(cmd[1]).isdigit():
        return int(cmd[1])
    return 0


def selector_matches(selector: dict, labels: dict) -> bool:
    wanted = (selector or {}).get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def name_of(obj: dict) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


# --------------------------------------------------------------------------------------------- manifest checks


class Render:
    def __init__(self, path: Path):
        self.objects = [o for o in yaml.safe_load_all(path.read_text()) if o]
        self.by_kind: dict[str, list[dict]] = {}
        for o in self.objects:
            self.by_kind.setdefault(o.get("kind"), []).append(o)

    def get(self, kind: str, name: str) -> dict | None:
        for o in self.by_kind.get(kind, []):
            if o["metadata"]["name"] == name:
                return o
        return None

    def workloads(self) -> list[dict]:
        return [o for o in self.objects if pod_spec(o) is not None]


def check_container_basics(c: Checker, obj: dict, spec: dict, tag: str) -> None:
    long_running = obj["kind"] not in {"Job", "CronJob"}
    pod_sc = spec.get("securityContext") or {}
    c.check(
        (pod_sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
        f"{name_of(obj)}: the pod's seccompProfile must be RuntimeDefault",
    )
    c.check(pod_sc.get("runAsNonRoot") is True, f"{name_of(obj)}: the pod must set runAsNonRoot: true")
    c.check(spec.get("enableServiceLinks") is False, f"{name_of(obj)}: enableServiceLinks must be false")
    c.check(
        spec.get("automountServiceAccountToken") is False,
        f"{name_of(obj)}: automountServiceAccountToken must be false (no Kubernetes API access)",
    )
    for role, ctr in containers(spec):
        where = f"{name_of(obj)} {role} {ctr.get('name')}"
        res = ctr.get("resources") or {}
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                c.check(r in (res.get(part) or {}), f"{where}: resources.{part}.{r} is missing")
        sc = ctr.get("securityContext") or {}
        c.check(sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation must be false")
        c.check(sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem must be true")
        c.check("ALL" in ((sc.get("capabilities") or {}).get("drop") or []), f"{where}: capabilities must drop ALL")
        c.check(sc.get("privileged") in (None, False), f"{where}: must not be privileged")
        c.check(
            (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))) is True,
            f"{where}: runAsNonRoot must be true",
        )
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        c.check(isinstance(uid, int) and uid > 0, f"{where}: runAsUser must be a non-zero uid")
        c.check(
            (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
            f"{where}: seccompProfile must be RuntimeDefault",
        )
        if long_running and role == "container":
            c.check("readinessProbe" in ctr, f"{where}: readinessProbe is missing")
            c.check("livenessProbe" in ctr, f"{where}: livenessProbe is missing")
        image = str(ctr.get("image", ""))
        if is_ragway(ctr):
            c.check(image == f"{IMAGE_REPO}:{tag}", f"{where}: image {image} is not {IMAGE_REPO}:{tag} (Dockerfile)")
            c.check(uid == RAGWAY_UID, f"{where}: ragway runs as uid {RAGWAY_UID} (the image's user), not {uid}")
        else:
            c.check(
                "@sha256:" in image or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")),
                f"{where}: image {image} must be pinned to a version",
            )
        for e in ctr.get("env") or []:
            if "value" in e:
                value = str(e["value"])
                c.check(
                    not SECRET_ENV_NAME.search(e["name"]),
                    f"{where}: env {e['name']} holds a literal value; secrets come from a secretKeyRef",
                )
                for pattern, what in SECRET_VALUE:
                    c.check(not pattern.search(value), f"{where}: env {e['name']} looks like {what}")
            ref = secret_ref(e)
            if ref is not None and is_ragway(ctr):
                c.check(ref.get("name") == SECRET_NAME, f"{where}: env {e['name']} must come from {SECRET_NAME}")
        for e in ctr.get("envFrom") or []:
            c.check("secretRef" not in e, f"{where}: envFrom a Secret hides which keys are used; use secretKeyRef")


def check_ragway_pod(c: Checker, r: Render, obj: dict, spec: dict, sections: set[str]) -> dict | None:
    """The wiring between a ragway pod and its ConfigMap; returns the pod's parsed ragway.toml."""
    ctr = next((x for _, x in containers(spec) if is_ragway(x)), None)
    where = f"{name_of(obj)} container {ctr.get('name')}"
    env = env_map(ctr)
    serving = obj["kind"] not in {"Job", "CronJob"}
    for name in env:
        if name.startswith("RAGWAY_") and name not in RAGWAY_PLAIN_VARS:
            parts = name[len("RAGWAY_"):].split("__")
            c.check(
                len(parts) >= 2 and parts[0].lower() in sections and all(re.fullmatch(r"[A-Z0-9_]+", p) for p in parts),
                f"{where}: env {name} is no configuration override (RAGWAY_<SECTION>__<KEY> with a section of "
                f"gateway/src/config/mod.rs); the binary would stop on it",
            )
    # The configuration file: RAGWAY_CONFIG → a mount → a projected/configMap volume → the ConfigMap's key.
    config_path = (env.get("RAGWAY_CONFIG") or {}).get("value")
    if not c.check(bool(config_path), f"{where}: RAGWAY_CONFIG must name the mounted ragway.toml"):
        return None
    mounts = {m["mountPath"]: m for m in ctr.get("volumeMounts") or []}
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    claims = {
        t["metadata"]["name"] for t in ((obj.get("spec") or {}).get("volumeClaimTemplates") or [])
    } if obj["kind"] == "StatefulSet" else set()
    mount = next((m for p, m in mounts.items() if config_path.startswith(p.rstrip("/") + "/")), None)
    if not c.check(mount is not None, f"{where}: nothing is mounted at {config_path}"):
        return None
    rel = config_path[len(mount["mountPath"].rstrip("/")) + 1:]
    volume = volumes.get(mount["name"]) or {}
    sources = (volume.get("projected") or {}).get("sources") or (
        [{"configMap": volume["configMap"]}] if "configMap" in volume else []
    )
    items: dict[str, tuple[str, str]] = {}  # path in the volume → (ConfigMap, key)
    for s in sources:
        cm_ref = s.get("configMap")
        if not cm_ref:
            continue
        cm = r.get("ConfigMap", cm_ref["name"])
        if not c.check(cm is not None, f"{where}: ConfigMap {cm_ref['name']} is not in the render"):
            continue
        for it in cm_ref.get("items") or [{"key": k, "path": k} for k in cm.get("data") or {}]:
            c.check(
                it["key"] in (cm.get("data") or {}),
                f"{where}: the volume maps key {it['key']}, which ConfigMap/{cm_ref['name']} does not have "
                f"(the pod would not start)",
            )
            items[it["path"]] = (cm_ref["name"], it["key"])
    if not c.check(rel in items, f"{where}: {config_path} is not one of the mounted ConfigMap keys"):
        return None
    cm_name, key = items[rel]
    cm = r.get("ConfigMap", cm_name)
    text = (cm.get("data") or {}).get(key, "")
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        c.check(False, f"ConfigMap/{cm_name} {key}: not valid TOML: {err}")
        return None
    c.check(cm_name.startswith("ragway-config"), f"{where}: ragway.toml comes from {cm_name}, not ragway-config")
    suspicious = [
        f"line {n} looks like {what}"
        for n, line in enumerate(text.splitlines(), 1)
        if not line.lstrip().startswith("#")
        for pattern, what in SECRET_VALUE
        if pattern.search(line)
    ]
    c.check(not suspicious, f"ConfigMap/{cm_name} {key}: {'; '.join(suspicious)}")

    # Addresses and ports.
    ports = {p.get("name"): p.get("containerPort") for p in ctr.get("ports") or []}
    server = config.get("server") or {}
    if serving:
        c.check(config.get("addr") == f"0.0.0.0:{ports.get('http')}", f"{where}: addr must be 0.0.0.0:<the http port>")
        c.check(
            server.get("metrics_addr") == f"0.0.0.0:{ports.get('metrics')}",
            f"{where}: [server] metrics_addr must be 0.0.0.0:<the metrics port>",
        )
        grace = int(server.get("shutdown_grace_secs", 20))
        pause = prestop_seconds(ctr)
        tgps = spec.get("terminationGracePeriodSeconds", 30)
        c.check(
            tgps > grace + pause,
            f"{name_of(obj)}: terminationGracePeriodSeconds {tgps} must exceed shutdown_grace_secs {grace} + the "
            f"preStop pause {pause}",
        )
        probes = {k: ctr.get(k) or {} for k in ("startupProbe", "readinessProbe", "livenessProbe")}
        c.check(bool(probes["startupProbe"]), f"{where}: startupProbe is missing")
        for kind, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")):
            get = probes[kind].get("httpGet") or {}
            c.check(
                get.get("path") == path and port_number(ctr, get.get("port")) == ports.get("http"),
                f"{where}: {kind} must be GET {path} on the http port",
            )
    # data_dir on a writable volume; prompts_dir mapped from the prompts ConfigMap.
    data_dir = str(config.get("data_dir", "data"))
    data_mount = mounts.get(data_dir) or mounts.get(data_dir.rstrip("/"))
    if c.check(data_mount is not None, f"{where}: data_dir {data_dir} must be a mounted volume"):
        vol = volumes.get(data_mount["name"], {})
        c.check(
            "emptyDir" in vol or "persistentVolumeClaim" in vol or data_mount["name"] in claims,
            f"{where}: data_dir {data_dir} must be an emptyDir or a PersistentVolumeClaim",
        )
        c.check(not data_mount.get("readOnly"), f"{where}: data_dir {data_dir} must be writable")
    c.check("/tmp" in mounts, f"{where}: the root filesystem is read-only, /tmp must be a volume")
    prompts_dir = config.get("prompts_dir")
    if c.check(bool(prompts_dir), f"{where}: prompts_dir must point at the mounted prompts"):
        prefix = prompts_dir[len(mount["mountPath"].rstrip("/")) + 1:].rstrip("/") + "/"
        repo = prompt_files()
        mapped = {
            k: p[len(prefix):] for p, (cm_n, k) in items.items() if p.startswith(prefix) and cm_n.startswith("ragway-prompts")
        }
        c.check(
            set(mapped) == set(repo),
            f"{where}: the prompts mounted at {prompts_dir} must be exactly prompts/'s templates "
            f"(missing {sorted(set(repo) - set(mapped))}, extra {sorted(set(mapped) - set(repo))})",
        )
        for k, path in mapped.items():
            c.check(path.replace("/", ".") == k, f"{where}: prompt key {k} must be mounted at {prefix}{k.replace('.', '/', k.count('.') - 1)}")
        pcm = next((r.get("ConfigMap", cm_n) for cm_n, _ in items.values() if cm_n.startswith("ragway-prompts")), None)
        if c.check(pcm is not None, f"{where}: the ragway-prompts ConfigMap is not mounted"):
            data = pcm.get("data") or {}
            for k, content in repo.items():
                c.check(k in data, f"ConfigMap/{pcm['metadata']['name']} lacks {k} (prompts/kustomization.yaml)")
                c.check(
                    k not in data or data[k].encode() == content,
                    f"ConfigMap/{pcm['metadata']['name']} {k} differs from prompts/{k.replace('.', '/', k.count('.') - 1)}",
                )
    # Every variable the configuration names (`*_env`) is filled from a required key of the Secret: ragway refuses to
    # start when one is unset or empty, so a missing key should stop the pod at creation (CreateContainerConfigError
    # naming the key), never start it without the secret.
    for var, setting in named_secret_vars(config):
        ref = secret_ref(env.get(var))
        c.check(
            required_secret_ref(env.get(var)) is not None,
            f"{where}: {setting} names {var}, which must come from a required secretKeyRef to {SECRET_NAME} "
            + ("(it is `optional: true`: ragway would refuse to start without it)" if ref else "(it has none)"),
        )
    # With a shared index every replica must verify every other's widget sessions: ragway refuses to start without
    # [widget] session_secret_env rather than sign with a random per-process secret. (QDRANT_URL alone, or
    # RAGWAY_INDEX__BACKEND, selects Qdrant too.)
    shared = (
        (config.get("index") or {}).get("backend") == "qdrant"
        or "QDRANT_URL" in env
        or str((env.get("RAGWAY_INDEX__BACKEND") or {}).get("value", "")).strip('"') == "qdrant"
    )
    if shared:
        c.check(
            bool((config.get("widget") or {}).get("session_secret_env")),
            f"{where}: [index] backend = \"qdrant\" requires [widget] session_secret_env (one secret for every replica)",
        )
    return config


def named_secret_vars(config: dict) -> list[tuple[str, str]]:
    """(variable, setting) for every secret ragway.toml names by environment variable, defaults included."""
    found: list[tuple[str, str]] = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                p = f"{path}.{k}" if path else k
                if k.endswith("_env") and isinstance(v, str) and v:
                    found.append((v, p))
                else:
                    walk(v, p)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(config, "")
    if "llm" in config and "api_key_env" not in config["llm"]:
        found.append(("OPENAI_API_KEY", "llm.api_key_env (default)"))
    if "slack" in config and "signing_secret_env" not in config["slack"]:
        found.append(("SLACK_SIGNING_SECRET", "slack.signing_secret_env (default)"))
    if "teams" in config and "app_password_env" not in config["teams"]:
        found.append(("MICROSOFT_APP_PASSWORD", "teams.app_password_env (default)"))
    return found


def check_manifests(shape: str, rendered: Path, emit: Path | None) -> Checker:
    c = Checker(shape)
    r = Render(rendered)
    tag = dockerfile_tag(c)
    sections = config_sections()
    c.check(bool(sections), "cannot read the fields of `pub struct Config` in gateway/src/config/mod.rs")

    for s in r.by_kind.get("Secret", []):
        c.check(
            not s.get("data") and not s.get("stringData"),
            f"{name_of(s)}: the render holds a Secret with values; only references to {SECRET_NAME} belong here",
        )

    readme = (ROOT / "k8s/README.md").read_text()
    keys = {
        ref["key"] for o in r.workloads() for _, x in containers(pod_spec(o)) for e in x.get("env") or []
        if (ref := secret_ref(e)) is not None
    }
    for key in sorted(keys):
        c.check(f"`{key}`" in readme, f"the Secret key `{key}` is referenced but not documented in k8s/README.md")

    ragway_pods: list[tuple[dict, dict, dict]] = []  # (object, pod spec, ragway.toml)
    for obj in r.workloads():
        spec = pod_spec(obj)
        check_container_basics(c, obj, spec, tag)
        if any(is_ragway(x) for _, x in containers(spec)):
            c.check(
                spec.get("securityContext", {}).get("runAsUser") == RAGWAY_UID,
                f"{name_of(obj)}: the pod runs as uid {RAGWAY_UID}",
            )
            config = check_ragway_pod(c, r, obj, spec, sections)
            if config is not None:
                ragway_pods.append((obj, spec, config))

    serving = [(o, s, cfg) for o, s, cfg in ragway_pods if o["kind"] not in {"Job", "CronJob"}]
    if not c.check(len(serving) == 1, f"exactly one ragway serving workload expected, found {len(serving)}"):
        return c
    gw, gw_spec, config = serving[0]
    gw_labels = pod_labels(gw)
    gw_ctr = next(x for _, x in containers(gw_spec) if is_ragway(x))
    replicas = (gw.get("spec") or {}).get("replicas", 1)

    # The Service: http and metrics ports onto the gateway pods.
    svc = r.get("Service", "ragway")
    if c.check(svc is not None, "Service/ragway is missing"):
        c.check(selector_matches({"matchLabels": svc["spec"].get("selector")}, gw_labels), "Service/ragway must select the gateway pods")
        ports = {p["name"]: p for p in svc["spec"].get("ports") or []}
        for name, number in (("http", 8080), ("metrics", 9090)):
            p = ports.get(name) or {}
            c.check(
                p.get("port") == number and port_number(gw_ctr, p.get("targetPort")) == number,
                f"Service/ragway must expose {name} on {number}",
            )
    sa = r.get("ServiceAccount", gw_spec.get("serviceAccountName", "default"))
    c.check(
        sa is not None and sa.get("automountServiceAccountToken") is False,
        f"ServiceAccount/{gw_spec.get('serviceAccountName')} must exist with automountServiceAccountToken: false",
    )

    # NetworkPolicy on the ragway pods: ingress from the ingress controller and Prometheus only; egress by port.
    policies = [
        p for p in r.by_kind.get("NetworkPolicy", []) if selector_matches(p["spec"].get("podSelector"), gw_labels)
    ]
    if c.check(len(policies) >= 1, "no NetworkPolicy selects the gateway pods"):
        for p in policies:
            spec = p["spec"]
            c.check(set(spec.get("policyTypes") or []) == {"Ingress", "Egress"}, f"{name_of(p)}: must restrict Ingress and Egress")
            for rule in spec.get("ingress") or []:
                c.check(bool(rule.get("from")), f"{name_of(p)}: an ingress rule admits every source")
                for peer in rule.get("from") or []:
                    c.check("ipBlock" not in peer, f"{name_of(p)}: ingress by ipBlock (only the ingress controller and Prometheus)")
                for port in rule.get("ports") or []:
                    c.check(port_number(gw_ctr, port.get("port")) in (8080, 9090), f"{name_of(p)}: ingress port {port.get('port')}")
            for rule in spec.get("egress") or []:
                for port in rule.get("ports") or [{}]:
                    c.check(
                        port.get("port") in ALLOWED_EGRESS_PORTS,
                        f"{name_of(p)}: egress to port {port.get('port', 'any')} (allowed: {sorted(ALLOWED_EGRESS_PORTS)})",
                    )

    hpas = [h for h in r.by_kind.get("HorizontalPodAutoscaler", []) if h["spec"]["scaleTargetRef"]["name"] == gw["metadata"]["name"]]
    pdbs = [p for p in r.by_kind.get("PodDisruptionBudget", []) if selector_matches(p["spec"].get("selector"), gw_labels)]
    for h in r.by_kind.get("HorizontalPodAutoscaler", []):
        ref = h["spec"]["scaleTargetRef"]
        c.check(r.get(ref["kind"], ref["name"]) is not None, f"{name_of(h)}: its target {ref['kind']}/{ref['name']} is not in the render")
    index = config.get("index") or {}
    limits = config.get("limits") or {}
    sources = config.get("sources") or {}
    env = env_map(gw_ctr)
    cronjobs = [o for o, _, _ in ragway_pods if o["kind"] == "CronJob"]

    if shape in ("base", "scaled"):
        c.check(gw["kind"] == "Deployment", f"the gateway is a Deployment in {shape}, not a {gw['kind']}")
        c.check(len(hpas) == 1, "one HorizontalPodAutoscaler must scale the gateway")
        c.check(len(pdbs) == 1, "one PodDisruptionBudget must cover the gateway")

    if shape == "single-node":
        c.check(gw["kind"] == "StatefulSet", f"the single-node gateway is a StatefulSet, not a {gw['kind']}")
        c.check(replicas == 1, f"single-node runs one replica, not {replicas}")
        claims = {t["metadata"]["name"] for t in gw["spec"].get("volumeClaimTemplates") or []}
        data_mount = {m["mountPath"]: m["name"] for m in gw_ctr.get("volumeMounts") or []}.get(str(config.get("data_dir")))
        c.check(data_mount in claims, f"data_dir must be on the StatefulSet's volumeClaimTemplate, not {data_mount}")
        c.check(not hpas, "single-node has no HorizontalPodAutoscaler (one owner of the data directory)")
        c.check(not pdbs, "single-node has no PodDisruptionBudget (it would block node drains)")
        c.check(index.get("backend", "edge") == "edge", "single-node uses the embedded index ([index] backend = \"edge\")")
        c.check("database_url" not in config and "DATABASE_URL" not in env, "single-node keeps the SQLite catalog")
        c.check(limits.get("backend", "local") == "local", "single-node limits are local")
        c.check(sources.get("sync_workers", 2) > 0, "single-node runs its syncs in the gateway (sync_workers > 0)")
        c.check(not cronjobs, "single-node has no sync CronJob (the index has one owner)")
        c.check(
            not any("qdrant" in str(x.get("image")) for o in r.workloads() for _, x in containers(pod_spec(o))),
            "single-node runs no external service",
        )

    if shape == "scaled":
        c.check(replicas >= 3, f"scaled runs at least 3 gateway replicas, not {replicas}")
        for h in hpas:
            c.check(h["spec"].get("minReplicas", 1) >= 3, f"{name_of(h)}: minReplicas must be at least 3")
        # Qdrant: a 3-node cluster with peer discovery and persistent storage.
        q = r.get("StatefulSet", "qdrant")
        if c.check(q is not None, "StatefulSet/qdrant is missing"):
            qs = q["spec"]
            qc = next((x for _, x in containers(pod_spec(q)) if x["name"] == "qdrant"), {})
            c.check(qs.get("replicas") == 3, f"StatefulSet/qdrant runs 3 nodes, not {qs.get('replicas')}")
            c.check(qc.get("image") == QDRANT_IMAGE, f"StatefulSet/qdrant image must be {QDRANT_IMAGE}")
            qenv = env_map(qc)
            c.check((qenv.get("QDRANT__CLUSTER__ENABLED") or {}).get("value") == "true", "Qdrant needs QDRANT__CLUSTER__ENABLED=true")
            script = " ".join(qc.get("command") or []) + " " + " ".join(qc.get("args") or [])
            c.check(
                "--bootstrap \"http://qdrant-0.qdrant-headless:6335\"" in script or "--bootstrap http://qdrant-0.qdrant-headless:6335" in script,
                "Qdrant nodes other than qdrant-0 must --bootstrap from http://qdrant-0.qdrant-headless:6335",
            )
            c.check("--uri" in script and ".qdrant-headless:6335" in script, "each Qdrant node must announce --uri http://<pod>.qdrant-headless:6335")
            headless = r.get("Service", qs.get("serviceName", ""))
            if c.check(headless is not None, f"StatefulSet/qdrant's serviceName {qs.get('serviceName')} is not in the render"):
                hs = headless["spec"]
                c.check(hs.get("clusterIP") == "None", f"{name_of(headless)} must be headless")
                c.check(hs.get("publishNotReadyAddresses") is True, f"{name_of(headless)} must publish not-ready peers")
                c.check(6335 in [p.get("port") for p in hs.get("ports") or []], f"{name_of(headless)} must expose the P2P port 6335")
            claims = {t["metadata"]["name"] for t in qs.get("volumeClaimTemplates") or []}
            storage = {m["mountPath"]: m["name"] for m in qc.get("volumeMounts") or []}.get("/qdrant/storage")
            c.check(storage in claims, "Qdrant's /qdrant/storage must be a volumeClaimTemplate")
            c.check(
                any(selector_matches(p["spec"].get("selector"), pod_labels(q)) for p in r.by_kind.get("PodDisruptionBudget", [])),
                "a PodDisruptionBudget must cover the Qdrant nodes",
            )
            c.check(
                index.get("replication_factor") == 2,
                f"[index] replication_factor must be 2, not {index.get('replication_factor')}",
            )
            c.check(
                isinstance(index.get("shard_number"), int) and index["shard_number"] >= 1,
                "[index] shard_number must be a positive integer",
            )
            c.check(
                index.get("replication_factor", 0) <= qs.get("replicas", 0),
                "[index] replication_factor cannot exceed the Qdrant nodes",
            )
        c.check(index.get("backend") == "qdrant", "scaled uses [index] backend = \"qdrant\"")
        url = re.fullmatch(r"https?://([a-z0-9-]+)(?:\.[a-z0-9.-]+)?:(\d+)/?", str(index.get("url", "")))
        if c.check(url is not None, f"[index] url {index.get('url')!r} must be http://<service>:<port>"):
            target = r.get("Service", url.group(1))
            c.check(
                target is not None and int(url.group(2)) in [p.get("port") for p in target["spec"].get("ports") or []],
                f"[index] url {index.get('url')} must point at a Service port in the render",
            )
        # Qdrant with an API key: ragway sends the one Qdrant requires, both from the same required Secret key.
        key_var = index.get("api_key_env")
        if c.check(bool(key_var), "scaled sets [index] api_key_env: Qdrant requires an API key"):
            ours = required_secret_ref(env.get(key_var))
            q = r.get("StatefulSet", "qdrant")
            qc = next((x for _, x in containers(pod_spec(q)) if x["name"] == "qdrant"), {}) if q else {}
            theirs = required_secret_ref(env_map(qc).get("QDRANT__SERVICE__API_KEY"))
            c.check(
                theirs is not None,
                f"StatefulSet/qdrant: QDRANT__SERVICE__API_KEY must come from a required secretKeyRef to {SECRET_NAME}",
            )
            c.check(
                ours is None or theirs is None or ours.get("key") == theirs.get("key"),
                f"[index] api_key_env {key_var} (key {(ours or {}).get('key')}) and Qdrant's QDRANT__SERVICE__API_KEY "
                f"(key {(theirs or {}).get('key')}) must come from the same key of {SECRET_NAME}",
            )
        # Stateless replicas: data_dir is scratch (uploads live in the catalog, a syncing pod checks out its copy).
        data_dir = str(config.get("data_dir", "data")).rstrip("/")
        for o, s_, _ in ragway_pods:
            x = next(x for _, x in containers(s_) if is_ragway(x))
            m = {m_["mountPath"].rstrip("/"): m_["name"] for m_ in x.get("volumeMounts") or []}.get(data_dir)
            v = {v_["name"]: v_ for v_ in s_.get("volumes") or []}.get(m, {})
            c.check(
                "emptyDir" in v,
                f"{name_of(o)}: data_dir {data_dir} must be an emptyDir in the scaled shape (replicas are stateless: "
                f"uploads live in PostgreSQL)",
            )
            c.check(
                not any(k.startswith(data_dir + "/") for k in (mm["mountPath"] for mm in x.get("volumeMounts") or [])),
                f"{name_of(o)}: nothing is mounted under data_dir {data_dir} (no shared volume: uploads live in PostgreSQL)",
            )
        c.check(limits.get("backend") == "redis", "scaled shares its limits through Redis ([limits] backend = \"redis\")")
        c.check("redis_url" not in limits, "[limits] redis_url may hold a password: set it from the Secret, not the file")
        c.check(
            required_secret_ref(env.get("RAGWAY_LIMITS__REDIS_URL")) is not None,
            "RAGWAY_LIMITS__REDIS_URL must come from a required key of the Secret",
        )
        c.check("database_url" not in config, "database_url may hold a password: set DATABASE_URL from the Secret")
        c.check(
            required_secret_ref(env.get("DATABASE_URL")) is not None,
            "DATABASE_URL must come from a required key of the Secret (unset, each replica would open its own SQLite)",
        )
        # Syncs: none in the gateway, a CronJob mirroring it instead.
        c.check(sources.get("sync_workers", 2) == 0, "[sources] sync_workers must be 0 (the CronJob syncs)")
        if c.check(len(cronjobs) == 1, f"one ragway CronJob expected, found {len(cronjobs)}"):
            cj = cronjobs[0]
            cj_spec = pod_spec(cj)
            cj_ctr = next(x for _, x in containers(cj_spec) if is_ragway(x))
            c.check(cj_ctr.get("args") == ["sync"], f"{name_of(cj)}: must run `ragway sync`, not {cj_ctr.get('args')}")
            c.check(cj["spec"].get("concurrencyPolicy") == "Forbid", f"{name_of(cj)}: concurrencyPolicy must be Forbid")
            canon = lambda ctr: sorted(json.dumps(e, sort_keys=True) for e in ctr.get("env") or [])  # noqa: E731
            c.check(canon(cj_ctr) == canon(gw_ctr), f"{name_of(cj)}: its env must be the gateway's (same config and secrets)")
            c.check(cj_ctr.get("image") == gw_ctr.get("image"), f"{name_of(cj)}: its image must be the gateway's")
            c.check(
                cj_ctr.get("securityContext") == gw_ctr.get("securityContext")
                and cj_spec.get("securityContext") == gw_spec.get("securityContext"),
                f"{name_of(cj)}: its security context must be the gateway's",
            )
            vols = lambda s: sorted(json.dumps(v, sort_keys=True) for v in s.get("volumes") or [])  # noqa: E731
            mnts = lambda x: sorted(json.dumps(m, sort_keys=True) for m in x.get("volumeMounts") or [])  # noqa: E731
            c.check(
                vols(cj_spec) == vols(gw_spec) and mnts(cj_ctr) == mnts(gw_ctr),
                f"{name_of(cj)}: its volumes and mounts (config, data, tmp) must be the gateway's",
            )
        ing = r.by_kind.get("Ingress", [])
        if c.check(len(ing) == 1, "scaled has one Ingress"):
            ann = ing[0]["metadata"].get("annotations") or {}
            timeout = int((config.get("server") or {}).get("request_timeout_secs", 300))
            c.check(ann.get("nginx.ingress.kubernetes.io/proxy-buffering") == "off", "the Ingress must turn proxy buffering off (SSE)")
            c.check(
                int(ann.get("nginx.ingress.kubernetes.io/proxy-read-timeout", "60")) > timeout,
                f"the Ingress' proxy-read-timeout must exceed request_timeout_secs ({timeout})",
            )
            backends = [
                p["backend"]["service"] for rule in ing[0]["spec"].get("rules") or [] for p in rule["http"]["paths"]
            ]
            c.check(
                all(b["name"] == "ragway" and b["port"].get("name") == "http" for b in backends) and backends,
                "the Ingress must route to Service ragway's http port (never metrics)",
            )

    if emit is not None:
        out = emit / shape / "ragway.toml"
        out.parent.mkdir(parents=True, exist_ok=True)
        cm_texts = [
            cm["data"]["ragway.toml"] for cm in r.by_kind.get("ConfigMap", [])
            if cm["metadata"]["name"].startswith("ragway-config") and "ragway.toml" in (cm.get("data") or {})
        ]
        if c.check(len(cm_texts) == 1, "exactly one ragway-config ConfigMap expected"):
            out.write_text(cm_texts[0])
            try:
                names = sorted({var for var, _ in named_secret_vars(tomllib.loads(cm_texts[0]))})
            except tomllib.TOMLDecodeError:
                names = []  # reported above
            (out.parent / "secret-env").write_text("".join(f"{n}\n" for n in names))
    return c


# ----------------------------------------------------------------------------------------- observability checks


def ragway_metrics() -> set[str]:
    """The series names gateway/src/metrics.rs exposes (prefix ragway_; counters _total; histograms _bucket…)."""
    text = (ROOT / "gateway/src/metrics.rs").read_text()
    prefix = re.search(r'Registry::with_prefix\("([a-z_]+)"\)', text)
    prefix = prefix.group(1) + "_" if prefix else ""
    aliases = dict(re.findall(r"type (\w+) = ([^;]+);", text))
    names: set[str] = set()
    for name, arg in re.findall(r'\.register\(\s*"([a-z0-9_]+)",\s*"[^"]*",\s*([\w.]+)', text, re.S):
        # `metrics.admitted.clone()` → the field `admitted`; a bare name is a parameter of `Metrics::new`.
        field = arg.split(".")[1] if arg.startswith("metrics.") else arg
        decl = re.search(rf"^(?!\s*//).*?\b{field}\s*:\s*([^\n]+)", text, re.M)
        kind = decl.group(1).strip().rstrip(",") if decl else ""
        kind = aliases.get(kind, kind)
        full = prefix + name
        if "Histogram" in kind:
            names |= {full + "_bucket", full + "_sum", full + "_count"}
        elif "Counter" in kind:
            names.add(full + "_total")
        elif "Gauge" in kind:
            names.add(full)
        else:
            raise SystemExit(f"check_invariants: cannot tell the type of metric {name} in gateway/src/metrics.rs")
    return names


PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "inf", "nan", "atan2",
}


def promql_metrics(expr: str) -> set[str]:
    """The metric names an expression reads (label matchers, strings, ranges and grouping lists removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w$.])[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        if not e[m.end():].lstrip().startswith("(") and m.group().lower() not in PROMQL_WORDS:  # not a function
            names.add(m.group())
    return names


def check_observability() -> Checker:
    c = Checker("observability")
    known = ragway_metrics()
    c.check(len(known) > 5, f"read only {len(known)} metric names from gateway/src/metrics.rs")
    used: set[str] = set()

    def check_expr(where: str, expr: str) -> None:
        names = promql_metrics(expr)
        used.update(names)
        c.check(bool(names), f"{where}: the expression reads no metric")
        for n in sorted(names):
            c.check(
                n in known or n in EXTERNAL_METRICS,
                f"{where}: {n} is not a metric of gateway/src/metrics.rs (nor an allowed kube-state-metrics series)",
            )

    rules = yaml.safe_load((ROOT / "k8s/observability/alerts.yml").read_text())
    alerts = {}
    for group in rules.get("groups") or []:
        for rule in group.get("rules") or []:
            if "alert" in rule:
                alerts[rule["alert"]] = rule
            check_expr(f"alerts.yml {rule.get('alert') or rule.get('record')}", str(rule.get("expr", "")))
    for name, what in REQUIRED_ALERTS.items():
        rule = alerts.get(name)
        if c.check(rule is not None, f"alerts.yml: the {what} alert ({name}) is missing"):
            c.check((rule.get("labels") or {}).get("severity") in {"warning", "critical"}, f"alerts.yml {name}: severity label")
            ann = rule.get("annotations") or {}
            c.check(bool(ann.get("summary")) and bool(ann.get("description")), f"alerts.yml {name}: summary and description")

    dash = json.loads((ROOT / "k8s/observability/grafana-dashboard.json").read_text())
    ids = []
    exprs = 0
    for panel in dash.get("panels") or []:
        ids.append(panel.get("id"))
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        c.check(bool(targets), f"dashboard panel {panel.get('title')!r} has no query")
        for t in targets:
            exprs += 1
            check_expr(f"dashboard {panel.get('title')!r}", t.get("expr", ""))
    c.check(len(ids) == len(set(ids)), "dashboard panel ids must be unique")
    for needed in (
        "ragway_http_request_duration_seconds_count", "ragway_http_request_duration_seconds_bucket",
        "ragway_cache_hits_total", "ragway_cache_misses_total", "ragway_limiter_backend_errors_total",
    ):
        c.check(needed in used, f"the dashboard and alerts never read {needed}")
    c.passed_detail = f"{len(alerts)} alerts, {exprs} dashboard queries, {len(known)} metric series known"  # type: ignore[attr-defined]
    return c


def dashboard_as_rules(out: Path) -> None:
    """The dashboard's queries as recording rules (Grafana variables filled in), for `promtool check rules`."""
    dash = json.loads((ROOT / "k8s/observability/grafana-dashboard.json").read_text())
    rules = []
    for panel in dash.get("panels") or []:
        for t in panel.get("targets") or []:
            expr = t["expr"].replace("$__rate_interval", "5m").replace("$namespace", ".*")
            rules.append({"record": f"dashboard:panel_{panel['id']}_{t['refId'].lower()}", "expr": expr})
    out.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("manifests")
    m.add_argument("--shape", required=True, choices=["base", "single-node", "scaled"])
    m.add_argument("rendered", type=Path)
    m.add_argument("--emit-config", type=Path, metavar="DIR")
    sub.add_parser("observability")
    d = sub.add_parser("dashboard-rules", help="write the dashboard's queries as a rules file for promtool")
    d.add_argument("out", type=Path)
    args = parser.parse_args()

    if args.mode == "dashboard-rules":
        dashboard_as_rules(args.out)
        return 0
    c = check_manifests(args.shape, args.rendered, args.emit_config) if args.mode == "manifests" else check_observability()
    for e in c.errors:
        print(e)
    detail = getattr(c, "passed_detail", "")
    status = "ok" if not c.errors else f"{len(c.errors)} FAILED"
    print(f"invariants [{c.label}]: {c.passed} checks passed, {status}" + (f" ({detail})" if detail else ""))
    return 0 if not c.errors else 1


if __name__ == "__main__":
    sys.exit(main())
