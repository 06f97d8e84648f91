#!/usr/bin/env bash
# make validate-deploy (and make test): offline checks of the deployment artifacts. Needs no
# container engine and no cluster.
#   1. docker-compose.temporal.yml: `docker compose config -q` when the compose plugin is there, and
#      always a structural check with node + yaml (services, depends_on, healthchecks, volumes,
#      profiles, interpolation against .env.example, Prometheus/Grafana files).
#   2. deploy/k8s: kustomize renders base and both overlays; scripts/validate-k8s.js checks every
#      object. kustomize comes from `kubectl kustomize` (kubectl with kustomize v5), a `kustomize`
#      binary, or is built once with `go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION`.
#   3. deploy/ecs task definition + autoscaling, deploy/railway/railway.json.
#   4. deploy/Dockerfile: hadolint when installed, otherwise a node lint; .dockerignore.
# Prints what it validated; exits non-zero naming every failure.
set -euo pipefail
cd "$(dirname "$0")/.."

KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.7.1}"
say() { printf '[validate-deploy] %s\n' "$*" >&2; }
started=$(date +%s%N)
failed=0
run_check() { # label command...
  local label=$1
  shift
  if "$@"; then return 0; fi
  say "FAILED: $label"
  failed=1
}

source scripts/lib.sh
ensure_node
ensure_node_modules # the node checks use the `yaml` package (a dev dependency)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- 1. docker compose -----------------------------------------------------------------------------
compose_engine_check() {
  if docker compose version >/dev/null 2>&1; then
    GENESIS_ENV_FILE=.env.example docker compose -f docker-compose.temporal.yml --env-file .env.example \
      --profile monitoring config -q || return 1
    echo "  ok   docker compose config ($(docker compose version --short))"
  else
    echo "  --   docker compose plugin not installed: structural check only"
  fi
}
compose_node_check() {
  node - <<'JS'
'use strict';
const fs = require('fs');
const YAML = require('yaml');
const { readmeVariables } = require('./scripts/validate-k8s.js');
const errors = [];
const err = (m) => errors.push(m);

// .env.example: KEY=value lines (commented ones are optional variables).
const envText = fs.readFileSync('.env.example', 'utf8');
const envVars = {};
const envNames = new Set();
for (const line of envText.split('\n')) {
  const m = /^\s*(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
  if (!m) continue;
  envNames.add(m[2]);
  if (!m[1]) envVars[m[2]] = m[3];
}
const vars = { ...envVars, GENESIS_ENV_FILE: '.env.example' };

// Compose-style interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}.
const raw = fs.readFileSync('docker-compose.temporal.yml', 'utf8');
const interpolated = new Set();
const text = raw.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (all, name, op, arg) => {
  if (all === '$$') return '$';
  interpolated.add(name);
  const v = vars[name];
  const unset = v === undefined || (op && op.startsWith(':') && v === '');
  if (op && op.endsWith('?') && unset) err(`compose: required variable ${name} is not set by .env.example (${arg})`);
  if (op && op.endsWith('-') && unset) return arg;
  return v ?? '';
});
const readme = readmeVariables();
for (const n of envNames)
  if (!readme.has(n) && !interpolated.has(n))
    err(`.env.example: ${n} is neither in the README configuration table nor used by the compose file`);
for (const n of ['DIGITALOCEAN_API_TOKEN', 'SIDECAR_JWT_PRIVATE_KEY', 'SIDECAR_HANDSHAKE_SECRET', 'PAYLOAD_CODEC_KEYS', 'CODEC_SERVER_TOKEN'])
  if (!(n in envVars)) err(`.env.example: ${n} must be listed (the control plane needs it in production)`);

const doc = YAML.parseDocument(text, { merge: true });
if (doc.errors.length) err(`compose: YAML error: ${doc.errors[0].message}`);
const c = doc.toJS({ maxAliasCount: 100 }) || {};
const services = c.services || {};
const declaredVolumes = new Set(Object.keys(c.volumes || {}));
const conditions = ['service_started', 'service_healthy', 'service_completed_successfully'];
for (const [name, s] of Object.entries(services)) {
  const w = `compose service ${name}`;
  if (!s.image && !s.build) err(`${w}: needs image or build`);
  if (s.build) {
    const b = typeof s.build === 'string' ? { context: s.build } : s.build;
    const df = `${b.context || '.'}/${b.dockerfile || 'Dockerfile'}`;
    if (!fs.existsSync(df)) err(`${w}: build dockerfile ${df} does not exist`);
  }
  const deps = Array.isArray(s.depends_on)
    ? Object.fromEntries(s.depends_on.map((d) => [d, { condition: 'service_started' }]))
    : s.depends_on || {};
  for (const [d, spec] of Object.entries(deps)) {
    if (!services[d]) err(`${w}: depends_on unknown service ${d}`);
    else if (!conditions.includes(spec.condition)) err(`${w}: depends_on ${d} has condition ${spec.condition}`);
    else if (spec.condition === 'service_healthy' && !services[d].healthcheck)
      err(`${w}: waits for ${d} to be healthy, but ${d} has no healthcheck`);
    else if ((services[d].profiles || []).length && !(s.profiles || []).length)
      err(`${w}: depends on ${d}, which only runs under a profile`);
  }
  for (const v of s.volumes || []) {
    const src = typeof v === 'string' ? v.split(':')[0] : v.source;
    if (src.startsWith('.') || src.startsWith('/')) {
      if (!fs.existsSync(src)) err(`${w}: bind mount source ${src} does not exist`);
    } else if (!declaredVolumes.has(src)) err(`${w}: volume ${src} is not declared under volumes`);
  }
  for (const e of [].concat(s.env_file || [])) {
    const p = typeof e === 'string' ? e : e.path;
    if ((typeof e === 'string' || e.required !== false) && !fs.existsSync(p)) err(`${w}: env_file ${p} does not exist`);
  }
}
const cp = services['control-plane'];
if (!cp) err('compose: no control-plane service');
else {
  if (JSON.stringify(cp.command) !== JSON.stringify(['node', 'dist/src/cli.js', 'all']))
    err('compose control-plane: command must be node dist/src/cli.js all');
  if (cp.build?.dockerfile !== 'deploy/Dockerfile') err('compose control-plane: must build deploy/Dockerfile');
  if (!cp.env_file) err('compose control-plane: needs env_file');
  if (!cp.healthcheck) err('compose control-plane: needs a healthcheck');
  for (const d of ['postgres', 'redis', 'temporal'])
    if (cp.depends_on?.[d]?.condition !== 'service_healthy') err(`compose control-plane: must wait for ${d} healthy`);
}
const redisCmd = (services.redis?.command || []).join(' ');
if (!/--appendonly yes/.test(redisCmd)) err('compose redis: AOF (--appendonly yes) must be on');
for (const m of ['prometheus', 'grafana'])
  if (!(services[m]?.profiles || []).includes('monitoring')) err(`compose ${m}: must be under the monitoring profile`);

// Prometheus scrapes both metrics endpoints; Grafana provisions the Prometheus datasource.
const prom = YAML.parse(fs.readFileSync('deploy/prometheus/prometheus.yml', 'utf8'));
const targets = (prom.scrape_configs || []).flatMap((j) => (j.static_configs || []).flatMap((s) => s.targets || []));
for (const t of ['control-plane:8080', 'control-plane:9464'])
  if (!targets.includes(t)) err(`prometheus.yml: does not scrape ${t}`);
const ds = YAML.parse(fs.readFileSync('deploy/grafana/provisioning/datasources/prometheus.yml', 'utf8'));
if (!(ds.datasources || []).some((d) => d.type === 'prometheus' && /prometheus:9090/.test(d.url)))
  err('grafana provisioning: no prometheus datasource at prometheus:9090');

if (errors.length) {
  for (const e of errors) console.error(`  FAIL ${e}`);
  process.exit(1);
}
console.log(`  ok   compose structure: ${Object.keys(services).length} services, .env.example, prometheus.yml, grafana datasource`);
JS
}

# --- 2. Kubernetes -----------------------------------------------------------------------------------
# Prints a command that renders a kustomization (the directory is appended).
kustomize_cmd() {
  if [ -n "${KUSTOMIZE_BIN:-}" ] && [ -x "$KUSTOMIZE_BIN" ]; then echo "$KUSTOMIZE_BIN build"; return; fi
  if command -v kubectl >/dev/null 2>&1 &&
    kubectl version --client 2>/dev/null | grep -Eq '^Kustomize Version: v[5-9]'; then
    echo "kubectl kustomize"; return
  fi
  if command -v kustomize >/dev/null 2>&1; then echo "kustomize build"; return; fi
  local gobin
  command -v go >/dev/null 2>&1 || { say "no kubectl (kustomize v5), no kustomize and no go to build it"; return 1; }
  gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
  if [ ! -x "$gobin/kustomize" ]; then
    say "building kustomize $KUSTOMIZE_VERSION with go install (about 30 s, once)"
    go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2 || { say "go install of kustomize failed"; return 1; }
  fi
  echo "$gobin/kustomize build"
}
k8s_check() {
  local kz dir name version
  kz="$(kustomize_cmd)" || return 1
  case "$kz" in
    kubectl*) version="kubectl $(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p' | head -n 1)" ;;
    *) version="$(${kz% build} version 2>/dev/null | head -n 1)" ;;
  esac
  echo "  --   kustomize: $kz ($version)"
  local ok=0
  for dir in deploy/k8s/base deploy/k8s/overlays/staging deploy/k8s/overlays/production; do
    name="$(basename "$dir")"
    if ! $kz "$dir" >"$work/$name.yaml" 2>"$work/$name.err"; then
      echo "  FAIL kustomize $dir:" >&2; cat "$work/$name.err" >&2; ok=1; continue
    fi
    node scripts/validate-k8s.js --name "$name" "$work/$name.yaml" || ok=1
  done
  return $ok
}

# --- 3. ECS and Railway ---------------------------------------------------------------------------------
aws_railway_check() {
  node - <<'JS'
'use strict';
const fs = require('fs');
const { readmeVariables } = require('./scripts/validate-k8s.js');
const errors = [];
const err = (m) => errors.push(m);
const readJson = (p) => {
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch (e) {
    err(`${p}: ${e.message}`);
    return {};
  }
};
const vars = readmeVariables();

const td = readJson('deploy/ecs/task-definition.json');
const w = 'ecs task-definition';
if (td.family !== 'genesis-control-plane') err(`${w}: family must be genesis-control-plane`);
if (!(td.requiresCompatibilities || []).includes('FARGATE')) err(`${w}: requiresCompatibilities must include FARGATE`);
if (td.networkMode !== 'awsvpc') err(`${w}: Fargate needs networkMode awsvpc`);
const fargateMemory = { 256: [512, 1024, 2048], 512: [1024, 2048, 3072, 4096], 1024: [2048, 3072, 4096, 5120, 6144, 7168, 8192] };
if (!(fargateMemory[td.cpu] || []).includes(Number(td.memory))) err(`${w}: cpu ${td.cpu} / memory ${td.memory} is not a Fargate size`);
if (td.cpu !== '512' || td.memory !== '1024') err(`${w}: expected cpu 512 and memory 1024`);
if (!td.executionRoleArn) err(`${w}: executionRoleArn is needed to read secrets and write logs`);
const required = ['DATABASE_URL', 'REDIS_URL', 'DIGITALOCEAN_API_TOKEN', 'SIDECAR_JWT_PRIVATE_KEY', 'SIDECAR_HANDSHAKE_SECRET', 'PAYLOAD_CODEC_KEYS', 'CODEC_SERVER_TOKEN', 'TEMPORAL_API_KEY'];
const defs = td.containerDefinitions || [];
if (!defs.length) err(`${w}: no containerDefinitions`);
for (const c of defs) {
  const cw = `${w} container ${c.name}`;
  for (const f of ['name', 'image', 'portMappings', 'healthCheck', 'secrets', 'logConfiguration'])
    if (c[f] === undefined) err(`${cw}: missing ${f}`);
  const ports = (c.portMappings || []).map((p) => p.containerPort);
  for (const p of [8080, 9464]) if (!ports.includes(p)) err(`${cw}: portMappings must include ${p}`);
  const hc = c.healthCheck || {};
  if (!['CMD', 'CMD-SHELL'].includes((hc.command || [])[0]) || !/\/health/.test((hc.command || []).join(' ')))
    err(`${cw}: healthCheck must call /health`);
  const secretNames = (c.secrets || []).map((s) => s.name);
  for (const s of c.secrets || [])
    if (!/^arn:aws:(secretsmanager|ssm):/.test(s.valueFrom || '')) err(`${cw}: secret ${s.name} valueFrom is not a Secrets Manager/SSM ARN`);
  for (const n of required) if (!secretNames.includes(n)) err(`${cw}: secrets must include ${n}`);
  const envNames = (c.environment || []).map((e) => e.name);
  for (const n of [...secretNames, ...envNames]) if (!vars.has(n)) err(`${cw}: ${n} is not in the README table`);
  for (const n of envNames) if (secretNames.includes(n)) err(`${cw}: ${n} is both a secret and plain environment`);
  const lc = c.logConfiguration || {};
  if (lc.logDriver !== 'awslogs') err(`${cw}: logDriver must be awslogs`);
  for (const o of ['awslogs-group', 'awslogs-region', 'awslogs-stream-prefix'])
    if (!lc.options?.[o]) err(`${cw}: logConfiguration.options.${o} missing`);
  const env = Object.fromEntries((c.environment || []).map((e) => [e.name, e.value]));
  const grace = Number(env.WORKER_SHUTDOWN_GRACE_MS || 30000) / 1000;
  if (!(c.stopTimeout >= grace + 10 && c.stopTimeout <= 120))
    err(`${cw}: stopTimeout ${c.stopTimeout} must be between worker grace ${grace} s + 10 and 120 (Fargate maximum)`);
  if (JSON.stringify(c.command || ['node', 'dist/src/cli.js', 'all']).indexOf('dist/src/cli.js') < 0)
    err(`${cw}: command must run node dist/src/cli.js`);
}

const as = readJson('deploy/ecs/service-autoscaling.json');
const aw = 'ecs service-autoscaling';
const t = as.scalableTarget || {};
if (t.ServiceNamespace !== 'ecs' || t.ScalableDimension !== 'ecs:service:DesiredCount' || !t.ResourceId)
  err(`${aw}: scalableTarget needs ServiceNamespace ecs, ScalableDimension ecs:service:DesiredCount, ResourceId`);
if (!(t.MinCapacity >= 1 && t.MaxCapacity >= t.MinCapacity)) err(`${aw}: needs 1 <= MinCapacity <= MaxCapacity`);
for (const key of ['cpuPolicy', 'backlogPolicy']) {
  const p = as[key] || {};
  if (p.ResourceId !== t.ResourceId || p.ScalableDimension !== t.ScalableDimension || !p.PolicyName || !p.PolicyType)
    err(`${aw}: ${key} must name the scalable target and have PolicyName/PolicyType`);
}
const cpu = as.cpuPolicy?.TargetTrackingScalingPolicyConfiguration || {};
if (cpu.PredefinedMetricSpecification?.PredefinedMetricType !== 'ECSServiceAverageCPUUtilization' || cpu.TargetValue !== 60)
  err(`${aw}: cpuPolicy must track ECSServiceAverageCPUUtilization at 60`);
const bl = JSON.stringify(as.backlogPolicy || {});
if (!/"Namespace":"Genesis"/.test(bl) || !/"MetricName":"TaskQueueBacklog"/.test(bl))
  err(`${aw}: backlogPolicy must use the CloudWatch metric Genesis/TaskQueueBacklog`);

const rw = readJson('deploy/railway/railway.json');
if (rw.build?.builder !== 'DOCKERFILE' || !fs.existsSync(rw.build?.dockerfilePath || '-'))
  err('railway.json: build.builder DOCKERFILE with an existing dockerfilePath');
if (rw.deploy?.startCommand !== 'node dist/src/cli.js all') err('railway.json: startCommand must be node dist/src/cli.js all');
if (rw.deploy?.healthcheckPath !== '/health') err('railway.json: healthcheckPath must be /health');
if (rw.deploy?.restartPolicyType !== 'ON_FAILURE' || !(rw.deploy?.restartPolicyMaxRetries > 0))
  err('railway.json: restartPolicyType ON_FAILURE with restartPolicyMaxRetries');

if (errors.length) {
  for (const e of errors) console.error(`  FAIL ${e}`);
  process.exit(1);
}
console.log('  ok   ecs task-definition.json, service-autoscaling.json, railway.json');
JS
}

# --- 4. Dockerfile -----------------------------------------------------------------------------------
dockerfile_check() {
  if command -v hadolint >/dev/null 2>&1; then
    hadolint deploy/Dockerfile || return 1
    echo "  ok   hadolint $(hadolint --version | head -n 1)"
  else
    echo "  --   hadolint not installed: node lint"
  fi
  node - <<'JS'
'use strict';
const fs = require('fs');
const errors = [];
const err = (m) => errors.push(`Dockerfile: ${m}`);
const lines = fs.readFileSync('deploy/Dockerfile', 'utf8').replace(/\\\n/g, ' ').split('\n');
const ins = lines.map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => {
  const m = /^([A-Za-z]+)\s+(.*)$/.exec(l);
  return m ? { op: m[1].toUpperCase(), arg: m[2] } : { op: '?', arg: l };
});
const froms = ins.filter((i) => i.op === 'FROM');
if (froms.length < 2) err('must be multi-stage (two or more FROM)');
const stages = froms.map((f) => (/\sAS\s+(\S+)/i.exec(f.arg) || [])[1]).filter(Boolean);
const args = Object.fromEntries(ins.filter((i) => i.op === 'ARG').map((i) => i.arg.split('=')));
for (const f of froms) {
  const image = f.arg.split(/\s+/)[0].replace(/\$\{(\w+)\}/g, (_, n) => args[n] || '');
  if (!stages.includes(image) && (!image.includes(':') || image.endsWith(':latest'))) err(`FROM ${image}: pin a tag`);
  const node = /^node:(\d+)/.exec(image);
  const minNode = Number((/(\d+)/.exec(JSON.parse(fs.readFileSync('package.json', 'utf8')).engines?.node || '') || [])[1]);
  if (node && !(Number(node[1]) >= minNode)) err(`FROM ${image}: older than package.json engines (node >=${minNode})`);
}
const lastFrom = ins.lastIndexOf(froms[froms.length - 1]);
const final = ins.slice(lastFrom);
const runs = ins.filter((i) => i.op === 'RUN').map((i) => i.arg).join('\n');
if (!/npm ci\b/.test(runs)) err('must install with npm ci (lockfile)');
if (!/npm run build\b/.test(runs)) err('must run npm run build');
if (!/npm prune --omit=dev|npm ci[^\n]*--omit=dev/.test(runs)) err('must drop dev dependencies (npm prune --omit=dev)');
const user = final.filter((i) => i.op === 'USER').pop();
if (!user || /^(root|0)(:|$)/.test(user.arg)) err('final stage must switch to a non-root USER');
const hc = final.find((i) => i.op === 'HEALTHCHECK');
if (!hc || !/\/health/.test(hc.arg)) err('final stage needs a HEALTHCHECK on /health');
const cmd = final.filter((i) => i.op === 'CMD').pop();
if (!cmd || JSON.stringify(JSON.parse(cmd.arg)) !== JSON.stringify(['node', 'dist/src/cli.js', 'all']))
  err('CMD must be ["node","dist/src/cli.js","all"]');
const env = final.filter((i) => i.op === 'ENV').map((i) => i.arg).join(' ');
if (!/NODE_ENV=production/.test(env)) err('ENV NODE_ENV=production');
if (!/TEMPORAL_WORKFLOW_BUNDLE=\/app\/dist\/workflow-bundle\.js/.test(env)) err('ENV TEMPORAL_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js');
for (const i of ins.filter((i) => i.op === 'ADD')) if (/https?:\/\//.test(i.arg)) err(`ADD from a URL: ${i.arg}`);
const ignore = fs.readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim());
for (const i of ins.filter((i) => i.op === 'COPY' && !/--from=/.test(i.arg))) {
  const parts = i.arg.split(/\s+/).filter((p) => !p.startsWith('--'));
  for (const src of parts.slice(0, -1)) {
    if (!fs.existsSync(src)) err(`COPY source ${src} does not exist`);
    if (ignore.includes(src)) err(`COPY source ${src} is excluded by .dockerignore`);
  }
}
for (const i of ins.filter((i) => i.op === 'COPY' && /--from=/.test(i.arg))) {
  const from = /--from=(\S+)/.exec(i.arg)[1];
  if (!stages.includes(from)) err(`COPY --from=${from}: no such stage`);
}
for (const d of ['node_modules', 'dist', '.data', '.git', 'coverage', 'dist-bench', 'test'])
  if (!ignore.includes(d)) errors.push(`.dockerignore: must exclude ${d}`);
if (errors.length) {
  for (const e of errors) console.error(`  FAIL ${e}`);
  process.exit(1);
}
console.log(`  ok   Dockerfile lint: ${froms.length} stages, non-root USER ${user.arg}, HEALTHCHECK, npm ci, CMD; .dockerignore`);
JS
}

say "docker compose"
run_check "docker compose config" compose_engine_check
run_check "compose structure" compose_node_check
say "kubernetes (kustomize + scripts/validate-k8s.js)"
run_check "kubernetes manifests" k8s_check
say "ecs + railway"
run_check "ecs/railway" aws_railway_check
say "Dockerfile"
run_check "Dockerfile" dockerfile_check

ms=$(( ($(date +%s%N) - started) / 1000000 ))
if [ "$failed" -ne 0 ]; then
  say "deployment artifacts: FAILED (${ms} ms)"
  exit 1
fi
say "deployment artifacts: all checks passed (${ms} ms)"
