#!/usr/bin/env bash
# Checks that the deployment files agree with the simfleet binary: every SIMFLEET_*/ONENCE_*
# variable they set is one the binary reads, every command line they run parses, every
# configuration they give passes `simfleet config check`, ports agree, and the health and
# metrics paths they probe answer on a real server. Plus lint-like checks of the Dockerfile,
# YAML/JSON syntax, and `systemd-analyze verify` / `docker compose config` where available.
#
#   bash deploy/check.sh                       # uses target/{release,debug}/simfleet
#   SIMFLEET_BIN=/path/to/simfleet bash deploy/check.sh
set -euo pipefail
cd "$(dirname "$0")"
DEPLOY=$PWD

BIN=${SIMFLEET_BIN:-}
if [[ -z $BIN ]]; then
  for b in "${CARGO_TARGET_DIR:-../target}"/release/simfleet "${CARGO_TARGET_DIR:-../target}"/debug/simfleet; do
    [[ -x $b ]] && { BIN=$b; break; }
  done
fi
[[ -n $BIN && -x $BIN ]] || { echo "build simfleet first (cargo build -p simfleet) or set SIMFLEET_BIN" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

failures=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; failures=$((failures + 1)); }
WORK=$(mktemp -d)
export WORK
SERVER_PID=
cleanup() { [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

FILES=(Dockerfile docker-compose.yml .env.example caddy/Caddyfile systemd/simfleet.service systemd/simfleet.toml
       systemd/simfleet.env kubernetes/simfleet.yaml)

# 1. Variables: those the binary documents in --help (clap's [env: …] and the list after it).
known=$("$BIN" --help | grep -oE '\b(SIMFLEET|ONENCE)_[A-Z0-9_]+' | sort -u)
for var in $(grep -ohE '\b(SIMFLEET|ONENCE)_[A-Z0-9_]+' "${FILES[@]}" | sort -u); do
  if grep -qx "$var" <<<"$known"; then ok "variable $var is read by simfleet"; else fail "variable $var is not read by simfleet"; fi
done

# 2. Syntax of the YAML and JSON files.
python3 - "$DEPLOY" <<'PY' || fail "YAML/JSON syntax"
import json, sys, yaml, pathlib
d = pathlib.Path(sys.argv[1])
for f in ["docker-compose.yml", "kubernetes/simfleet.yaml", "prometheus/alerts.yml"]:
    list(yaml.safe_load_all((d / f).read_text()))
    print(f"ok   {f} parses")
json.loads((d / "grafana/simfleet.json").read_text())
print("ok   grafana/simfleet.json parses")
PY

# 3. The configurations each deployment gives simfleet pass `config check` (secrets filled with
#    placeholders), and the ports they publish match the port simfleet listens on.
python3 - "$DEPLOY" "$BIN" <<'PY' || fail "configurations and ports"
import os, re, subprocess, sys, yaml, pathlib
d, binary = pathlib.Path(sys.argv[1]), sys.argv[2]
bad = 0
def check(name, env, args=("config", "check")):
    global bad
    full = {"PATH": os.environ["PATH"], **{k: str(v) for k, v in env.items()}}
    r = subprocess.run([binary, *args], env=full, capture_output=True, text=True, cwd=os.environ.get("WORK", "/tmp"))
    if r.returncode != 0:
        print(f"FAIL {name}: simfleet {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}", file=sys.stderr); bad += 1
    else:
        print(f"ok   {name}: simfleet {' '.join(args)} accepts it")
def same(name, a, b):
    global bad
    if str(a) != str(b):
        print(f"FAIL {name}: {a} != {b}", file=sys.stderr); bad += 1
    else:
        print(f"ok   {name}: {a}")
def port(listen): return int(listen.rsplit(":", 1)[1])
def subst(v):  # docker compose ${VAR:?msg} / ${VAR:-default}
    return re.sub(r"\$\{([A-Z_]+)(:[?-]([^}]*))?\}", lambda m: m.group(3) if m.group(2) and m.group(2)[1] == "-" else "placeholder-value-for-the-check-0123456789", v)

# Dockerfile: ENV, EXPOSE, ENTRYPOINT + CMD.
text = (d / "Dockerfile").read_text().replace("\\\n", " ")
env = dict(re.findall(r"\b((?:SIMFLEET|ONENCE)_[A-Z_]+)=(\S+)", text))
env["SIMFLEET_DATABASE_URL"] = "sqlite://" + os.environ.get("WORK", "/tmp") + "/docker.db"
env["SIMFLEET_DATA_DIR"] = os.environ.get("WORK", "/tmp")
check("Dockerfile ENV", env)
same("Dockerfile EXPOSE = listen port", re.search(r"^EXPOSE (\d+)", text, re.M).group(1), port(env["SIMFLEET_LISTEN"]))
cmd = re.search(r'^CMD \[(.*)\]', text, re.M).group(1).replace('"', "").split(", ")
check("Dockerfile CMD", {}, [*cmd, "--help"])
froms = re.findall(r"^FROM (\S+)", text, re.M)
same("Dockerfile is multi-stage", len(froms) >= 2, True)
same("Dockerfile pins base images (no :latest)", any(f.endswith(":latest") or ":" not in f for f in froms), False)
user = re.findall(r"^USER (\S+)", text, re.M)
same("Dockerfile runs as a non-root user", bool(user) and user[-1].split(":")[0] not in ("root", "0"), True)
same("Dockerfile builds with --locked", "--locked" in text, True)

# docker-compose: each simfleet service's environment; ports it exposes; Caddy upstreams.
compose = yaml.safe_load((d / "docker-compose.yml").read_text())
caddy = (d / "caddy/Caddyfile").read_text()
for name, svc in compose["services"].items():
    if svc.get("image", "").startswith("simfleet"):
        env = {k: subst(str(v)) for k, v in svc["environment"].items()}
        env["SIMFLEET_DATABASE_URL"] = env["SIMFLEET_DATABASE_URL"]  # postgres://… is only parsed by config check
        check(f"compose {name}", env)
        p = port(env["SIMFLEET_LISTEN"])
        same(f"compose {name} exposes the listen port", [str(x) for x in svc["expose"]], [str(p)])
        same(f"Caddyfile proxies to {name}:{p}", f"{name}:{p}" in caddy, True)
        same(f"compose {name} stop_grace_period > shutdown timeout",
             int(svc["stop_grace_period"].rstrip("s")) > int(env.get("SIMFLEET_SHUTDOWN_TIMEOUT", 30)), True)

# Kubernetes: ConfigMap + a placeholder secret; container port and probes.
docs = list(yaml.safe_load_all((d / "kubernetes/simfleet.yaml").read_text()))
cm = next(x for x in docs if x["kind"] == "ConfigMap")["data"]
env = {**cm, "SIMFLEET_DATABASE_URL": "postgres://simfleet:pw@postgres:5432/simfleet",
       "SIMFLEET_SECRET_KEY": "placeholder-value-for-the-check-0123456789",
       "ONENCE_CLIENT_ID": "id", "ONENCE_CLIENT_SECRET": "secret"}
check("kubernetes ConfigMap + Secret", env)
deploy = next(x for x in docs if x["kind"] == "Deployment")
c = deploy["spec"]["template"]["spec"]["containers"][0]
check("kubernetes container args", {}, [*c["args"], "--help"])
same("kubernetes containerPort = listen port", c["ports"][0]["containerPort"], port(cm["SIMFLEET_LISTEN"]))
same("kubernetes liveness probe", c["livenessProbe"]["httpGet"]["path"], "/health/live")
same("kubernetes readiness probe", c["readinessProbe"]["httpGet"]["path"], "/health/ready")
same("kubernetes grace period > shutdown timeout",
     deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > int(cm["SIMFLEET_SHUTDOWN_TIMEOUT"]), True)
ann = deploy["spec"]["template"]["metadata"]["annotations"]
same("kubernetes scrape port", ann["prometheus.io/port"], str(port(cm["SIMFLEET_LISTEN"])))

# systemd: the exact command lines, with the example config and env file.
unit = (d / "systemd/simfleet.service").read_text()
envfile = dict(l.split("=", 1) for l in (d / "systemd/simfleet.env").read_text().splitlines() if l and not l.startswith("#"))
envfile.update(dict(re.findall(r"^Environment=(\w+)=(\S+)", unit, re.M)))
for key in ("ExecStartPre", "ExecStart"):
    args = re.search(rf"^{key}=(\S+) (.*)$", unit, re.M).group(2).split()
    args = [str(d / "systemd/simfleet.toml") if a == "/etc/simfleet/simfleet.toml" else a for a in args]
    if args[-1] == "serve":
        args = [*args, "--help"]
    check(f"systemd {key}", envfile, args)
sys.exit(1 if bad else 0)
PY

# 4. Paths the files probe or scrape answer on a real server.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SIMFLEET_DATABASE_URL="sqlite://$WORK/check.db" SIMFLEET_LISTEN="127.0.0.1:$port" SIMFLEET_LOG=warn \
  "$BIN" serve >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health/live" >/dev/null 2>&1 && break; sleep 0.1; done
for path in $(grep -ohE '/(health/[a-z]+|metrics)\b' "${FILES[@]}" | sort -u); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path")
  if [[ $code == 200 ]]; then ok "GET $path answers 200"; else fail "GET $path answers $code"; fi
done
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=

# 5. Tools, where installed.
if command -v systemd-analyze >/dev/null; then
  sed "s#/usr/local/bin/simfleet#$BIN#; s#^User=.*#User=root#; s#^Group=.*#Group=root#" systemd/simfleet.service >"$WORK/simfleet.service"
  if out=$(systemd-analyze verify "$WORK/simfleet.service" 2>&1) && [[ -z $out ]]; then ok "systemd-analyze verify"; else
    # Only the unit's own problems count, not those of the machine's other units.
    if grep -q "simfleet.service" <<<"$out"; then fail "systemd-analyze verify: $out"; else ok "systemd-analyze verify"; fi
  fi
else echo "skip systemd-analyze (not installed)"; fi
if docker compose version >/dev/null 2>&1; then
  if POSTGRES_PASSWORD=x SIMFLEET_SECRET_KEY=y docker compose -f docker-compose.yml config -q; then ok "docker compose config"; else fail "docker compose config"; fi
else echo "skip docker compose config (no compose plugin)"; fi

if ((failures)); then echo "$failures check(s) failed" >&2; exit 1; fi
echo "all deployment checks passed"
