#!/usr/bin/env bash
# tests/docker/test_image.sh SOURCE_DIR - the container image of docker/Dockerfile and the
# compose file docker/compose.yml, checked as far as this machine allows (see README,
# "Container"):
#
#  1. the base image: no registry can be reached here, so Debian bookworm is made from
#     Debian's packages (mmdebstrap) and imported as $TQ_DOCKER_BASE, once per machine;
#  2. the image builds (buildah, --isolation chroot: no OCI runtime, the host's network);
#  3. its configuration: user, ports, environment, HEALTHCHECK, entrypoint and command;
#  4. inside it (buildah run --isolation chroot): the binary runs and finds every shared
#     library, pg_dump runs, the user can write the exports directory;
#  5. as a container (podman run with runc; see README for why those flags): against a
#     PostgreSQL cluster this test starts, compose's demo-tenants job (its own command,
#     read from compose.yml) twice, then `serve`: /healthz, the image's HEALTHCHECK
#     (podman healthcheck run), /readyz, a GraphQL query with a token the container
#     issues, and a clean exit on SIGTERM;
#  6. compose.yml: docker-compose's own validation, and the services, dependencies,
#     healthchecks, secrets and ports the README promises.
#
# Prints the time of each step. Needs root (buildah's and podman's rootful storage).
set -euo pipefail

src=$(cd "${1:?usage: test_image.sh SOURCE_DIR}" && pwd)
base=${TQ_DOCKER_BASE:-localhost/debian:bookworm-slim}
image=${TQ_DOCKER_IMAGE:-localhost/tenantql:test}
# Debian's python3, whatever python3 comes first in PATH: python3-yaml is Debian's package
py=/usr/bin/python3

start=$SECONDS step_start=$SECONDS
step() {  # step NAME: prints how long the previous step took, then NAME
  echo "docker: ($((SECONDS - step_start)) s) $*"
  step_start=$SECONDS
}
fail() { echo "docker: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (rootful buildah and podman storage)"
for tool in buildah mmdebstrap podman runc docker-compose; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/bootstrap --tests"
done
$py -c 'import yaml' || fail "python3-yaml is missing: run scripts/bootstrap --tests"

tmp=$(mktemp -d /tmp/tq-docker.XXXXXX)
chmod 755 "$tmp"  # the cluster below runs as postgres
containers=() pgdata=""
cleanup() {
  for c in "${containers[@]}"; do podman rm -f "$c" >/dev/null 2>&1 || true; done
  [ -z "$pgdata" ] || su postgres -s /bin/sh -c \
    "/usr/lib/postgresql/15/bin/pg_ctl -D '$pgdata' -m immediate stop" >/dev/null 2>&1 || true
  [ -z "${bctr:-}" ] || buildah rm "$bctr" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- 1. the base image --------------------------------------------------------------
step "base image $base"
if buildah inspect --type image "$base" >/dev/null 2>&1; then
  echo "docker: $base exists (buildah rmi $base makes it again)"
else
  # minbase: what Docker Hub's debian:bookworm-slim holds (essential packages and apt),
  # from the mirrors that image's sources name, and like it without documentation and
  # translations (the dpkg options stay in the image, for the packages installed later)
  mmdebstrap --quiet --variant=minbase --mode=root \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$tmp/rootfs.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$tmp/rootfs.tar" / >/dev/null  # a local tar is unpacked
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash "$ctr"
  buildah commit --quiet --rm "$ctr" "$base" >/dev/null
  rm -f "$tmp/rootfs.tar"
fi

# --- 2. the image -------------------------------------------------------------------
step "buildah build $image"
# The npm registry may be reached through a TLS-intercepting proxy whose CA only the
# host trusts (it is so here): the host's bundle is mounted into the build containers
# for npm alone, never copied into a layer.
ca=(-v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.crt)
[ -f /etc/ssl/certs/ca-certificates.crt ] || ca=()
# --format docker: OCI image configurations have no HEALTHCHECK; --force-rm: no container
# left behind by a failed step; --layers: the packages' layer is reused until
# scripts/bootstrap or web's lockfile changes
if ! buildah build --isolation chroot --format docker --layers --force-rm --build-arg "BASE=$base" "${ca[@]}" \
     -f "$src/docker/Dockerfile" -t "$image" "$src" >"$tmp/build.log" 2>&1; then
  tail -n 60 "$tmp/build.log" >&2
  fail "the image did not build (above: the end of buildah's output)"
fi
# the packages the final stage installed for the binary (a step cached by --layers prints
# nothing)
runtime=$(sed -n '/cat \/runtime-packages$/,/STEP/p' "$tmp/build.log" | grep -E '^lib' | tr '\n' ' ' || true)
echo "docker: runtime packages: ${runtime:-(cached)}"

# --- 3. its configuration -----------------------------------------------------------
step "image configuration"
buildah inspect --type image "$image" >"$tmp/inspect.json"
$py - "$tmp/inspect.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["Docker"]["config"]
env = dict(e.split("=", 1) for e in c.get("Env") or [])
problems = []
def want(ok, what):
    if not ok:
        problems.append(what)
want(c.get("User") == "tenantql", "User is %r, not tenantql" % c.get("User"))
want(sorted(c.get("ExposedPorts") or {}) == ["8080/tcp", "9090/tcp"], "EXPOSE is %r" % c.get("ExposedPorts"))
want(env.get("TENANTQL_LISTEN") == "0.0.0.0:8080", "TENANTQL_LISTEN is %r" % env.get("TENANTQL_LISTEN"))
want(env.get("TENANTQL_ADMIN_LISTEN") == "0.0.0.0:9090", "TENANTQL_ADMIN_LISTEN is %r" % env.get("TENANTQL_ADMIN_LISTEN"))
want(not any(k.startswith("NODE_EXTRA_CA") for k in env), "a build argument of the build stage leaked")
want(c.get("Entrypoint") == ["tenantql"], "ENTRYPOINT is %r" % c.get("Entrypoint"))
want(c.get("Cmd") == ["serve"], "CMD is %r" % c.get("Cmd"))
hc = c.get("Healthcheck") or {}
want("/healthz" in " ".join(hc.get("Test") or []), "HEALTHCHECK is %r" % hc)
if problems:
    sys.exit("docker: FAIL: " + "; ".join(problems))
print("docker: user tenantql, ports 8080 9090, listeners 0.0.0.0, healthcheck %r" % hc["Test"][-1])
EOF

# --- 4. inside it, without an OCI runtime -------------------------------------------
step "buildah run --isolation chroot"
bctr=$(buildah from --quiet "$image")
in_image() { buildah run --isolation chroot "$bctr" -- "$@"; }
# (outputs are read whole: grep -q would close the pipe on buildah's output early)
[[ $(in_image tenantql --help) == *"tenantql COMMAND"* ]] || fail "tenantql --help printed no usage"
[[ $(in_image tenantql serve --help) == *--admin-listen* ]] || fail "tenantql serve --help"
in_image sh -c '! ldd /usr/local/bin/tenantql | grep "not found"' || fail "a shared library is missing"
[[ $(in_image /usr/lib/postgresql/15/bin/pg_dump --version) == *"PostgreSQL) 15"* ]] || fail "no pg_dump 15"
[ "$(in_image id -un)" = tenantql ] || fail "commands in the image do not run as tenantql"
in_image sh -c 'touch /var/lib/tenantql/exports/x && rm /var/lib/tenantql/exports/x' \
  || fail "the exports directory is not writable by tenantql"
echo "docker: --help, libraries, pg_dump 15, user tenantql, exports writable"
buildah rm "$bctr" >/dev/null; bctr=""

# --- 5. as a container --------------------------------------------------------------
step "podman run (runc)"
# This machine's cgroups are a v1/v2 hybrid (crun refuses it) and its limits are below
# podman's default ulimits (which it then fails to set): runc with explicit limits runs.
# The host's network: the cluster below listens on its loopback.
run_opts=(--runtime runc --network host --ulimit nofile=1024:1024 --ulimit nproc=1000:1000)
if ! podman run --rm "${run_opts[@]}" "$image" --help >"$tmp/probe.log" 2>&1; then
  cat "$tmp/probe.log" >&2
  fail "podman run cannot start a container here (README, Container, says what can run where)"
fi

read -r pgport port admin_port < <($py -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')
password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
pg=$tmp/pg  # the cluster's directory, socket and logs: the postgres user's
mkdir "$pg" && chown postgres "$pg"
pgdata=$pg/data
echo "$password" >"$pg/pwfile" && chown postgres "$pg/pwfile" && chmod 600 "$pg/pwfile"
su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/initdb -D '$pgdata' -U tenantql \
  --pwfile='$pg/pwfile' --auth-local=trust --auth-host=scram-sha-256 >'$pg/initdb.log' 2>&1" \
  || { cat "$pg/initdb.log" >&2; fail "initdb"; }
su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D '$pgdata' -w -l '$pg/log' \
  -o '-p $pgport -k $pg -c listen_addresses=127.0.0.1' start >/dev/null" \
  || { cat "$pg/log" >&2; fail "PostgreSQL did not start"; }
su postgres -s /bin/sh -c "psql -h '$pg' -p $pgport -U tenantql -d postgres -qc 'CREATE DATABASE tenantql'"

# compose's job, as compose would run it: its entrypoint, command and environment, with
# registry-db and tenant-db both naming the cluster above (--add-host)
$py - "$src/docker/compose.yml" "$tmp/job" <<'EOF'
import re, sys, yaml
job = yaml.safe_load(open(sys.argv[1]))["services"]["demo-tenants"]
def unescape(s):  # compose's interpolation: $$ is $; ${...} is overridden below
    return re.sub(r"\$\$", "$", s)
with open(sys.argv[2] + ".argv", "w") as f:
    f.write("\0".join(unescape(a) for a in job["entrypoint"] + job["command"]))
with open(sys.argv[2] + ".env", "w") as f:
    for k, v in job["environment"].items():
        if "${" not in str(v):
            f.write("%s=%s\n" % (k, v))
EOF
job_env=(--env-file "$tmp/job.env" -e PGPASSWORD="$password" -e DEMO_DB_PASSWORD="$password"
         -e TENANTQL_REGISTRY="host=registry-db port=$pgport dbname=tenantql user=tenantql"
         -e DEMO_DB_PORT="$pgport")
hosts=(--add-host registry-db:127.0.0.1 --add-host tenant-db:127.0.0.1)
mapfile -d '' job_argv <"$tmp/job.argv"
for round in 1 2; do  # the second time, every tenant exists already
  podman run --rm "${run_opts[@]}" "${hosts[@]}" "${job_env[@]}" --entrypoint "${job_argv[0]}" \
    "$image" "${job_argv[@]:1}" >"$tmp/job$round.log" 2>&1 \
    || { cat "$tmp/job$round.log" >&2; fail "the demo-tenants job failed (round $round)"; }
done
grep -q 'acme exists' "$tmp/job2.log" && grep -q 'globex exists' "$tmp/job2.log" \
  || { cat "$tmp/job2.log" >&2; fail "the demo-tenants job is not idempotent"; }
echo "docker: demo-tenants job: migrate, acme and globex created; again: both exist"

step "serve in a container"
printf '{"keys": [{"alg": "HS256", "secret": "%s"}]}\n' \
  "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$tmp/jwt-keys.json"
chmod 644 "$tmp/jwt-keys.json"  # compose mounts a secret file as it is: uid 10001 reads it
name=tq-docker-test-$$
containers+=("$name")
# podman's stderr goes to a file: it cannot set the healthcheck's timer without systemd
# (not running here) and says so on every start and stop; `podman healthcheck run`
# below runs the check itself
podman run -d --name "$name" "${run_opts[@]}" "${hosts[@]}" \
  -e TENANTQL_REGISTRY="host=registry-db port=$pgport dbname=tenantql user=tenantql" \
  -e PGPASSWORD="$password" -e TENANTQL_JWT_KEYS=/run/secrets/jwt_keys \
  -v "$tmp/jwt-keys.json:/run/secrets/jwt_keys:ro" \
  -e TENANTQL_LISTEN="127.0.0.1:$port" -e TENANTQL_ADMIN_LISTEN="127.0.0.1:$admin_port" \
  "$image" >/dev/null 2>"$tmp/podman.log" || { cat "$tmp/podman.log" >&2; fail "podman run -d"; }
for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/healthz" 2>/dev/null && break
  [ "$(podman inspect --format '{{.State.Running}}' "$name")" = true ] \
    || { podman logs "$name" >&2; fail "the server exited"; }
  sleep 0.2
done
[ "$(curl -fsS "http://127.0.0.1:$admin_port/healthz")" = ok ] \
  || { podman logs "$name" >&2; fail "/healthz"; }
# the image's own HEALTHCHECK, run by podman inside the container
podman healthcheck run "$name" || { podman logs "$name" >&2; fail "podman healthcheck run"; }
[ "$(curl -fsS "http://127.0.0.1:$admin_port/readyz")" = ready ] || fail "/readyz"
token=$(podman exec "$name" tenantql token --tenant acme)
answer=$(curl -fsS "http://127.0.0.1:$port/graphql" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"query":"{ products(first: 1) { totalCount } }"}')
[ "$answer" = '{"data":{"products":{"totalCount":0}}}' ] || fail "GraphQL answered $answer"
podman stop -t 15 "$name" >/dev/null 2>>"$tmp/podman.log"
status=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[ "$status" = 0 ] || { podman logs "$name" >&2; fail "exit status $status after SIGTERM"; }
echo "docker: /healthz ok, HEALTHCHECK healthy, /readyz ready, acme's products answered, SIGTERM: exit 0"

# --- 6. the compose file ------------------------------------------------------------
step "docker/compose.yml"
# docker-compose checks the file against the compose schema; it needs the password
# variable set, and reads no image and no daemon for `config`
(cd "$src/docker" && TENANTQL_DB_PASSWORD=x docker-compose -f compose.yml config -q) \
  || fail "docker-compose config refused compose.yml"
$py - "$src/docker/compose.yml" "$src" <<'EOF'
import os, sys, yaml
root = sys.argv[2]
doc = yaml.safe_load(open(sys.argv[1]))
s = doc["services"]
problems = []
def want(ok, what):
    if not ok:
        problems.append(what)
want(set(s) == {"registry-db", "tenant-db", "demo-tenants", "tenantql"}, "services are %s" % sorted(s))
for db in ("registry-db", "tenant-db"):
    want("pg_isready" in str(s[db].get("healthcheck", {}).get("test")), db + " has no pg_isready healthcheck")
    want(str(s[db].get("image", "")).startswith("postgres:15"), db + " is not PostgreSQL 15")
for svc in ("demo-tenants", "tenantql"):
    b = s[svc].get("build", {})
    want(os.path.isfile(os.path.join(root, "docker", b.get("context", ""), b.get("dockerfile", ""))),
         svc + " does not build docker/Dockerfile")
    want(s[svc].get("image") == "tenantql:latest", svc + " is not tenantql:latest")
    deps = s[svc].get("depends_on", {})
    for db in ("registry-db", "tenant-db"):
        want(deps.get(db, {}).get("condition") == "service_healthy", svc + " does not wait for " + db)
t = s["tenantql"]
want(t["depends_on"].get("demo-tenants", {}).get("condition") == "service_completed_successfully",
     "tenantql does not wait for demo-tenants")
want("tenantql migrate" in s["demo-tenants"]["command"][0]
     and "tenantql tenant create" in s["demo-tenants"]["command"][0], "demo-tenants does not create tenants")
want("/healthz" in " ".join(t.get("healthcheck", {}).get("test", [])), "tenantql has no /healthz healthcheck")
want(sorted(t.get("ports", [])) == ["127.0.0.1:9090:9090", "8080:8080"], "tenantql's ports are %r" % t.get("ports"))
want(t["environment"].get("TENANTQL_JWT_KEYS") == "/run/secrets/jwt_keys" and t.get("secrets") == ["jwt_keys"],
     "the signing keys are not a secret file")
want("jwt_keys" in doc.get("secrets", {}), "no jwt_keys secret")
if problems:
    sys.exit("docker: FAIL: " + "; ".join(problems))
print("docker: compose.yml: 4 services, healthchecks, depends_on conditions, secret, ports")
EOF

step "done in $((SECONDS - start)) s"
