"""Offline checks of the deployment artefacts (docker/, deploy/), run by
tests/it/deploy_manifests.rs as `target/deploy-venv/bin/python tests/data/deploy_check.py CHECK`.

Exit 0 when the check passes; 1 with one line per problem; 3 when a tool is
missing (run scripts/install-test-deps.sh). The `env` check prints JSON: the
sidecar settings of every manifest, for the Rust test to load through the
sidecar's own config loader.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S = os.path.join(ROOT, "deploy", "kubernetes")
COMPOSE = os.path.join(ROOT, "docker", "docker-compose.yml")
ENVOY = os.path.join(K8S, "envoy-ext-authz.yaml")
# Where docker/Dockerfile installs the binary (tests/it/deploy_manifests.rs checks it there).
IMAGE_BINARY = "/usr/local/bin/cognito-sidecar"
SIDECAR_SERVICE = "cognito-sidecar.auth.svc.cluster.local:4180"
IDENTITY_HEADERS = {
    "x-user-email", "x-user-name", "x-user-groups", "x-user-sub", "x-user-username",
    "x-user-provider", "x-auth-request-email", "x-auth-request-user", "x-auth-request-groups",
    "x-amzn-oidc-identity", "x-amzn-oidc-accesstoken", "x-amzn-oidc-data",
}
# Custom resources with no schema in kubernetes-validate: checked field by field.
KNOWN_CRDS = {("traefik.io/v1alpha1", "Middleware")}
MISSING = 3


class Missing(Exception):
    pass


def need(module):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:
        raise Missing(f"python module {module} is missing ({e}): run scripts/install-test-deps.sh")


def tool(name):
    # The virtualenv's own copy first (scripts/install-test-deps.sh), then PATH.
    path = os.path.join(sysconfig.get_path("scripts"), name)
    if not os.access(path, os.X_OK):
        path = shutil.which(name) or path
    if not os.access(path, os.X_OK):
        raise Missing(f"{name} is not installed: run scripts/install-test-deps.sh")
    return path


def docs(path):
    yaml = need("yaml")
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def k8s_files():
    return sorted(p for p in glob.glob(os.path.join(K8S, "*.yaml")) if p != ENVOY)


def by_kind(objs, kind, name=None):
    found = [o for o in objs if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]
    if not found:
        raise AssertionError(f"no {kind} {name or ''}".strip())
    return found[0] if name else found


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def sidecar_container(deployment):
    cs = [c for c in deployment["spec"]["template"]["spec"]["containers"] if "cognito-sidecar" in c["image"]]
    assert len(cs) == 1, f"{deployment['metadata']['name']}: expected one cognito-sidecar container, got {len(cs)}"
    return cs[0]


# --- checks ------------------------------------------------------------------

def check_kubernetes_schemas(problems):
    kv = need("kubernetes_validate")
    utils = need("kubernetes_validate.utils")
    version = kv.utils.latest_version()
    seen = 0
    for path in k8s_files():
        for obj in docs(path):
            where = f"{os.path.basename(path)}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            if (obj.get("apiVersion"), obj.get("kind")) in KNOWN_CRDS:
                continue
            try:
                kv.validate(obj, version, strict=True)
                seen += 1
            except utils.SchemaNotFoundError:
                problems.append(f"{where}: no schema and not a known custom resource")
            except utils.ValidationError as e:
                problems.append(f"{where}: {'.'.join(str(p) for p in e.path)}: {e.message}")
    if seen < 10:
        problems.append(f"only {seen} standard objects validated; expected the manifests to hold at least 10")


def check_hardened(where, container, problems):
    sc = container.get("securityContext", {})
    for key, want in [("runAsNonRoot", True), ("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False)]:
        if sc.get(key) is not want:
            problems.append(f"{where}: securityContext.{key} should be {want}")
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        problems.append(f"{where}: capabilities.drop should be [ALL]")
    res = container.get("resources", {})
    if not res.get("requests") or not res.get("limits", {}).get("memory"):
        problems.append(f"{where}: resources.requests and a memory limit are required")


def check_probes(where, container, problems):
    port = container["ports"][0]
    for probe, path in [("livenessProbe", "/ping"), ("readinessProbe", "/ready")]:
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") not in (port["name"], port["containerPort"]):
            problems.append(f"{where}: {probe} should GET {path} on the sidecar port")
    if port["containerPort"] != 4180:
        problems.append(f"{where}: the sidecar listens on 4180, not {port['containerPort']}")


def check_secret_files(where, deployment, container, secret, problems):
    env = env_of(container)
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    for var in ["SIDECAR_CLIENT_SECRET_FILE", "SIDECAR_COOKIE_SECRET_FILE"]:
        path = env.get(var) or ""
        hits = [
            (n, path[len(m) + 1:]) for n, m in mounts.items()
            if path.startswith(m + "/") and volumes.get(n, {}).get("secret", {}).get("secretName") == secret["metadata"]["name"]
        ]
        if not hits or hits[0][1] not in keys:
            problems.append(f"{where}: {var}={path!r} is not a key of Secret {secret['metadata']['name']} mounted there")
    for var in ["SIDECAR_CLIENT_SECRET", "SIDECAR_COOKIE_SECRET"]:
        if var in env:
            problems.append(f"{where}: {var} inline; secrets must come from the *_FILE form")
    if secret["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "placeholder-secret":
        problems.append(f"{where}: the placeholder Secret must be labelled so that apply skips it")
    for value in secret.get("stringData", {}).values():
        if not value.startswith("REPLACE"):
            problems.append(f"{where}: Secret values must be obvious placeholders (REPLACE...)")


def check_sidecar_in_pod(problems):
    objs = docs(os.path.join(K8S, "sidecar-in-pod.yaml"))
    dep, svc, secret = by_kind(objs, "Deployment")[0], by_kind(objs, "Service")[0], by_kind(objs, "Secret")[0]
    pod = dep["spec"]["template"]
    side = sidecar_container(dep)
    apps = [c for c in pod["spec"]["containers"] if c is not side]
    if pod["spec"].get("securityContext", {}).get("runAsNonRoot") is not True:
        problems.append("pod securityContext.runAsNonRoot should be true")
    for c in pod["spec"]["containers"]:
        check_hardened(f"container {c['name']}", c, problems)
    check_probes("sidecar", side, problems)
    check_secret_files("sidecar", dep, side, secret, problems)
    upstream = env_of(side).get("SIDECAR_UPSTREAM", "")
    if not re.fullmatch(r"http://(127\.0\.0\.1|localhost|\[::1\]):\d+", upstream):
        problems.append(f"SIDECAR_UPSTREAM {upstream!r} should be the app on loopback")
    port = upstream.rsplit(":", 1)[-1]
    for app in apps:
        words = " ".join(app.get("command", []) + app.get("args", []))
        if f"127.0.0.1:{port}" not in words:
            problems.append(f"container {app['name']}: should bind 127.0.0.1:{port}, got {words!r}")
        if app.get("ports"):
            problems.append(f"container {app['name']}: declares ports; the app must not be reachable but through the sidecar")
    if svc["spec"]["selector"].items() - pod["metadata"]["labels"].items():
        problems.append("Service selector does not match the pod labels")
    side_port = side["ports"][0]
    for p in svc["spec"]["ports"]:
        if p["targetPort"] not in (side_port["name"], side_port["containerPort"]):
            problems.append(f"Service port {p.get('name')} targets {p['targetPort']}, not the sidecar")


def check_ingress_nginx(problems):
    objs = docs(os.path.join(K8S, "ingress-nginx.yaml"))
    svc = by_kind(objs, "Service", "cognito-sidecar")
    dep = by_kind(objs, "Deployment", "cognito-sidecar")
    secret = by_kind(objs, "Secret", "cognito-sidecar")
    ingresses = by_kind(objs, "Ingress")
    side = sidecar_container(dep)
    check_hardened("cognito-sidecar", side, problems)
    check_probes("cognito-sidecar", side, problems)
    check_secret_files("cognito-sidecar", dep, side, secret, problems)
    host = f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local:{svc['spec']['ports'][0]['port']}"
    if host != SIDECAR_SERVICE:
        problems.append(f"the sidecar Service is {host}, the manifests point at {SIDECAR_SERVICE}")
    protected = [i for i in ingresses if "nginx.ingress.kubernetes.io/auth-url" in i["metadata"].get("annotations", {})]
    own = [i for i in ingresses if i not in protected]
    if len(protected) != 1 or len(own) != 1:
        return problems.append("expected one protected app Ingress and one Ingress for the sidecar")
    ann = protected[0]["metadata"]["annotations"]
    want = {
        "nginx.ingress.kubernetes.io/auth-url": f"http://{SIDECAR_SERVICE}/oauth2/auth",
        "nginx.ingress.kubernetes.io/auth-signin": "https://auth.example.com/oauth2/start?rd=https://$host$escaped_request_uri",
    }
    for k, v in want.items():
        if ann.get(k) != v:
            problems.append(f"annotation {k} is {ann.get(k)!r}, want {v!r}")
    headers = [h.strip() for h in ann.get("nginx.ingress.kubernetes.io/auth-response-headers", "").split(",")]
    check_header_list("auth-response-headers", headers, problems)
    rule = own[0]["spec"]["rules"][0]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    if rule["host"] != "auth.example.com" or backend["name"] != "cognito-sidecar" or own[0]["metadata"]["namespace"] != "auth":
        problems.append("the sidecar's Ingress should route auth.example.com to Service auth/cognito-sidecar")
    env = env_of(side)
    app_host = protected[0]["spec"]["rules"][0]["host"]
    domain = env.get("SIDECAR_COOKIE_DOMAIN", "")
    if not domain or not (app_host.endswith("." + domain.lstrip(".")) and "auth.example.com".endswith("." + domain.lstrip("."))):
        problems.append(f"cookie-domain {domain!r} must cover both auth.example.com and {app_host}")
    allowed = [d.strip() for d in env.get("SIDECAR_ALLOWED_REDIRECT_DOMAINS", "").split(",")]
    if not any(app_host == d or (d.startswith(".") and app_host.endswith(d)) for d in allowed):
        problems.append(f"allowed-redirect-domains {allowed} must allow the app host {app_host} (auth-signin rd=)")
    if env.get("SIDECAR_REDIRECT_URL") != "https://auth.example.com/oauth2/callback":
        problems.append("redirect-url should be https://auth.example.com/oauth2/callback")


def check_header_list(where, headers, problems):
    got = {h.lower() for h in headers}
    unknown = got - IDENTITY_HEADERS
    if unknown:
        problems.append(f"{where}: {sorted(unknown)} are not headers the sidecar sets")
    for h in ["x-user-email", "x-user-name", "x-user-groups", "x-user-sub", "x-user-provider",
              "x-auth-request-email", "x-amzn-oidc-identity", "x-amzn-oidc-accesstoken", "x-amzn-oidc-data"]:
        if h not in got:
            problems.append(f"{where}: {h} is missing")


def check_traefik(problems):
    objs = docs(os.path.join(K8S, "traefik-forwardauth.yaml"))
    mw = by_kind(objs, "Middleware")[0]
    if mw.get("apiVersion") != "traefik.io/v1alpha1":
        problems.append(f"Middleware apiVersion {mw.get('apiVersion')} should be traefik.io/v1alpha1")
    spec = mw.get("spec", {})
    if set(spec) != {"forwardAuth"}:
        problems.append(f"Middleware spec should hold forwardAuth only, got {sorted(spec)}")
    fa = spec.get("forwardAuth", {})
    allowed = {"address", "trustForwardHeader", "authResponseHeaders", "authRequestHeaders", "tls",
               "authResponseHeadersRegex", "addAuthCookiesToResponse", "forwardBody", "maxBodySize"}
    if set(fa) - allowed:
        problems.append(f"forwardAuth: unknown fields {sorted(set(fa) - allowed)}")
    if fa.get("address") != f"http://{SIDECAR_SERVICE}/oauth2/auth":
        problems.append(f"forwardAuth.address is {fa.get('address')!r}")
    if fa.get("trustForwardHeader") is not False:
        problems.append("forwardAuth.trustForwardHeader should be false: Traefik sets X-Forwarded-* itself")
    check_header_list("authResponseHeaders", fa.get("authResponseHeaders", []), problems)
    ref = f"{mw['metadata']['namespace']}-{mw['metadata']['name']}@kubernetescrd"
    users = [i for i in by_kind(objs, "Ingress")
             if i["metadata"].get("annotations", {}).get("traefik.ingress.kubernetes.io/router.middlewares") == ref]
    if len(users) != 1 or users[0]["metadata"]["namespace"] != mw["metadata"]["namespace"]:
        problems.append(f"expected one app Ingress in the Middleware's namespace using {ref}")


def check_envoy(problems):
    need("envoy_data_plane")
    for m in ["network.http_connection_manager", "http.ext_authz", "http.header_mutation", "http.router"]:
        need(f"envoy_data_plane.envoy.extensions.filters.{m}.v3")
    bootstrap = need("envoy_data_plane.envoy.config.bootstrap.v3")
    raw = docs(ENVOY)
    if len(raw) != 1:
        return problems.append("envoy config should be one YAML document")
    try:
        boot = bootstrap.Bootstrap().from_dict(raw[0])
    except Exception as e:  # the proto schema's verdict, as it is
        return problems.append(f"envoy config does not match Envoy's v3 API: {type(e).__name__}: {e}")
    hcm = boot.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.unpack()
    names = [f.name for f in hcm.http_filters]
    if names != ["envoy.filters.http.header_mutation", "envoy.filters.http.ext_authz", "envoy.filters.http.router"]:
        problems.append(f"http_filters should strip identity headers, then ext_authz, then route: {names}")
    removed = {m.remove for m in hcm.http_filters[0].typed_config.unpack().mutations.request_mutations}
    if removed != IDENTITY_HEADERS:
        problems.append(f"header_mutation removes {sorted(removed)}, want every identity header")
    authz = hcm.http_filters[1].typed_config.unpack()
    svc = authz.http_service
    if authz.failure_mode_allow:
        problems.append("ext_authz failure_mode_allow must be false")
    if svc.server_uri.uri != f"http://{SIDECAR_SERVICE}" or svc.path_prefix != "/oauth2/auth":
        problems.append(f"ext_authz should call http://{SIDECAR_SERVICE}/oauth2/auth, got {svc.server_uri.uri}{svc.path_prefix}")
    upstream = {p.exact for p in svc.authorization_response.allowed_upstream_headers.patterns}
    if upstream != IDENTITY_HEADERS:
        problems.append(f"allowed_upstream_headers {sorted(upstream)} should be the identity headers")
    if "cookie" not in {p.exact for p in svc.authorization_request.allowed_headers.patterns}:
        problems.append("the check request must carry the cookie")
    clusters = {c.name: c for c in boot.static_resources.clusters}
    cluster = clusters.get(svc.server_uri.cluster)
    if cluster is None:
        return problems.append(f"no cluster {svc.server_uri.cluster}")
    sa = cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    if f"{sa.address}:{sa.port_value}" != SIDECAR_SERVICE:
        problems.append(f"cluster {cluster.name} points at {sa.address}:{sa.port_value}")
    if hcm.common_http_protocol_options.headers_with_underscores_action.name != "DROP_HEADER":
        problems.append("headers with underscores must be dropped (X_User_Email reaches WSGI as X-User-Email)")
    routes = hcm.route_config.virtual_hosts[0].routes
    own = [r for r in routes if r.match.prefix == "/oauth2/"]
    per = own[0].typed_per_filter_config.get("envoy.filters.http.ext_authz") if own else None
    if not own or own[0].route.cluster != cluster.name or per is None or not per.unpack().disabled:
        problems.append("/oauth2/ should route to the sidecar with ext_authz disabled")


def check_compose(problems):
    out = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", COMPOSE],
        capture_output=True, text=True, timeout=120,
    )
    if "No module named check_jsonschema" in out.stderr:
        raise Missing("check-jsonschema is not installed: run scripts/install-test-deps.sh")
    if out.returncode != 0:
        problems.append(f"compose-spec validation failed:\n{out.stdout}{out.stderr}")
    spec = docs(COMPOSE)[0]
    svcs, nets = spec["services"], spec.get("networks", {})
    app, side = svcs["app"], svcs["sidecar"]
    if app.get("ports"):
        problems.append("the app publishes ports; only the sidecar may")
    if any(not (nets.get(n) or {}).get("internal") for n in app.get("networks", [])):
        problems.append("the app must sit only on internal networks")
    if side.get("ports", [None])[0] != "4180:4180":
        problems.append("the sidecar should publish 4180:4180")
    if side.get("environment", {}).get("SIDECAR_UPSTREAM") != "http://app:8000":
        problems.append("SIDECAR_UPSTREAM should be http://app:8000")
    if sorted(side.get("secrets", [])) != ["client_secret", "cookie_secret"]:
        problems.append("the sidecar should get client_secret and cookie_secret as compose secrets")
    for name in ["client_secret", "cookie_secret"]:
        if not os.path.isfile(os.path.join(ROOT, "docker", interpolate(spec["secrets"][name]["file"]))):
            problems.append(f"secret {name}: default file is missing")
    demo = [n for n, s in svcs.items() if "demo" in s.get("profiles", [])]
    mock = [svcs[n] for n in demo if svcs[n].get("command", [None])[0] == "mock-cognito"]
    if not mock or mock[0].get("image") != side.get("image"):
        problems.append("the demo profile should run `cognito-sidecar mock-cognito` from the sidecar image")
    for name in ["app", "sidecar"] + demo:
        s = svcs[name]
        if s.get("read_only") is not True or s.get("cap_drop") != ["ALL"]:
            problems.append(f"service {name}: read_only and cap_drop [ALL] expected")
    check_compose_healthchecks(svcs, side, problems)


def check_compose_healthchecks(svcs, side, problems):
    """The sidecar keeps the image's HEALTHCHECK; a service of the same image
    that overrides it runs the binary's own `healthcheck` (no shell in there)."""
    if "healthcheck" in side:
        problems.append("the sidecar should keep the image's HEALTHCHECK (cognito-sidecar healthcheck)")
    for name, s in svcs.items():
        hc = s.get("healthcheck")
        if s.get("image") != side.get("image") or hc is None:
            continue
        test = hc.get("test", [])
        if hc.get("disable") or test[:3] != ["CMD", IMAGE_BINARY, "healthcheck"]:
            problems.append(f"service {name}: healthcheck should be [CMD, {IMAGE_BINARY}, healthcheck, ...], got {test}")


def check_dockerfile(problems):
    out = subprocess.run([tool("hadolint"), "--no-color", os.path.join(ROOT, "docker", "Dockerfile")],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        problems.append(f"hadolint:\n{out.stdout}{out.stderr}")


# --- settings, for the Rust test's config loader -----------------------------

def interpolate(text):
    """Compose's ${VAR:-default} with the variables unset: the defaults."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def env_file(path):
    pairs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, _, v = line.partition("=")
                pairs[k] = v
    return pairs


def dump_env():
    sets = []
    for path in k8s_files():
        for obj in docs(path):
            if obj.get("kind") == "Deployment":
                c = sidecar_container(obj)
                sets.append({"where": f"{os.path.basename(path)}: {obj['metadata']['name']}", "env": env_of(c)})
    spec = docs(COMPOSE)[0]
    side = spec["services"]["sidecar"]
    base = os.path.join(ROOT, "docker")
    for label, env_path in [("demo", interpolate(side["env_file"][0])), ("cognito", "compose/cognito.env.example")]:
        env = {**env_file(os.path.join(base, env_path)), **side["environment"]}
        sets.append({"where": f"docker-compose.yml with {env_path} ({label})", "env": env})
    print(json.dumps(sets))


CHECKS = {
    "kubernetes": check_kubernetes_schemas,
    "sidecar-in-pod": check_sidecar_in_pod,
    "ingress-nginx": check_ingress_nginx,
    "traefik": check_traefik,
    "envoy": check_envoy,
    "compose": check_compose,
    "dockerfile": check_dockerfile,
}


def main(argv):
    try:
        if argv[1:] == ["env"]:
            dump_env()
            return 0
        problems = []
        CHECKS[argv[1]](problems)
    except Missing as e:
        print(e)
        return MISSING
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
