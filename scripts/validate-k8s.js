#!/usr/bin/env node
/*
 * Offline checks of the rendered Kubernetes manifests (kustomize output), run by
 * scripts/validate-deploy.sh. No cluster and no JSON schemas are needed: it checks the fields this
 * project relies on and that every environment variable the manifests set is one the README's
 * configuration table documents.
 *
 *   node scripts/validate-k8s.js --name base rendered.yaml
 *   node scripts/validate-k8s.js --name production rendered.yaml
 *
 * Also exports the README parser used by the other checks in validate-deploy.sh.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const ROOT = path.resolve(__dirname, '..');
const SECRET_TEMPLATE = path.join(ROOT, 'deploy/k8s/base/secret.template.yaml');

/** Every variable name in the README's "## Configuration" table. */
function readmeVariables() {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = text.indexOf('\n## Configuration');
  if (start < 0) throw new Error('README.md has no "## Configuration" section');
  const end = text.indexOf('\n## ', start + 5);
  const names = new Set();
  for (const line of text.slice(start, end < 0 ? undefined : end).split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1];
    for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1]);
  }
  if (names.size < 10) throw new Error(`README.md configuration table parsed to only ${names.size} names`);
  return names;
}

/** Kubernetes quantity to a number (cores or bytes). */
function quantity(q) {
  const s = String(q);
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(s);
  if (!m) return NaN;
  const f = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * (m[2] ? f[m[2]] : 1);
}

function matches(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels && labels[k] === v);
}

function validate(name, docs) {
  const errors = [];
  const err = (where, msg) => errors.push(`${name}: ${where}: ${msg}`);
  const vars = readmeVariables();
  const byKind = (kind) => docs.filter((d) => d && d.kind === kind);
  const isBase = name === 'base';

  for (const [i, d] of docs.entries()) {
    if (!d || typeof d !== 'object') {
      err(`document ${i}`, 'not an object');
      continue;
    }
    for (const f of ['apiVersion', 'kind']) if (!d[f]) err(`document ${i}`, `missing ${f}`);
    if (!d.metadata || !d.metadata.name) err(`document ${i} (${d.kind})`, 'missing metadata.name');
    if (!isBase && !(d.metadata && d.metadata.namespace))
      err(`${d.kind}/${d.metadata?.name}`, 'no namespace');
    if (d.kind === 'Secret')
      err(`Secret/${d.metadata?.name}`, 'a Secret must not be rendered (template only)');
  }
  const expectOne = (kind) => {
    const list = byKind(kind);
    if (list.length !== 1) err(kind, `expected exactly one, found ${list.length}`);
    return list[0];
  };

  // Secret keys from the template (the Secret itself is applied out of band).
  const template = YAML.parse(fs.readFileSync(SECRET_TEMPLATE, 'utf8'));
  const secretName = template?.metadata?.name;
  if (template?.kind !== 'Secret' || !secretName) err('secret.template.yaml', 'not a named Secret');
  const secretKeys = Object.keys({ ...(template?.stringData || {}), ...(template?.data || {}) });
  for (const k of secretKeys)
    if (!vars.has(k)) err('secret.template.yaml', `${k} is not in the README table`);
  for (const k of [
    'DATABASE_URL',
    'REDIS_URL',
    'DIGITALOCEAN_API_TOKEN',
    'SIDECAR_JWT_PRIVATE_KEY',
    'SIDECAR_HANDSHAKE_SECRET',
    'PAYLOAD_CODEC_KEYS',
    'CODEC_SERVER_TOKEN',
  ])
    if (!secretKeys.includes(k)) err('secret.template.yaml', `missing key ${k}`);
  for (const [k, v] of Object.entries(template?.stringData || {}))
    if (!String(v).includes('REPLACE_ME'))
      err('secret.template.yaml', `${k} does not hold a REPLACE_ME placeholder`);

  const cm = expectOne('ConfigMap');
  const cmData = (cm && cm.data) || {};
  for (const k of Object.keys(cmData))
    if (!vars.has(k)) err(`ConfigMap/${cm.metadata.name}`, `${k} is not in the README table`);
  for (const k of Object.keys(cmData))
    if (secretKeys.includes(k))
      err(`ConfigMap/${cm.metadata.name}`, `${k} is a secret; keep it in the Secret`);

  const dep = expectOne('Deployment');
  let podLabels = {};
  let containerPorts = {};
  if (dep) {
    const where = `Deployment/${dep.metadata.name}`;
    const spec = dep.spec || {};
    const pod = spec.template?.spec || {};
    podLabels = spec.template?.metadata?.labels || {};
    if (dep.apiVersion !== 'apps/v1') err(where, `apiVersion ${dep.apiVersion}, expected apps/v1`);
    if (!Number.isInteger(spec.replicas) || spec.replicas < 1)
      err(where, 'replicas must be a positive integer');
    if (isBase && spec.replicas !== 3) err(where, `replicas ${spec.replicas}, expected 3`);
    if (!spec.selector?.matchLabels || !matches(spec.selector.matchLabels, podLabels))
      err(where, 'selector.matchLabels does not match the pod template labels');
    const grace = Number(cmData.WORKER_SHUTDOWN_GRACE_MS || 30000) / 1000;
    const tgps = pod.terminationGracePeriodSeconds;
    if (!Number.isInteger(tgps) || tgps < grace + 10)
      err(where, `terminationGracePeriodSeconds ${tgps} must be >= worker grace ${grace} s + 10 s`);
    if (isBase && tgps !== 45) err(where, `terminationGracePeriodSeconds ${tgps}, expected 45`);
    if (pod.securityContext?.runAsNonRoot !== true) err(where, 'securityContext.runAsNonRoot must be true');
    if (!(pod.securityContext?.runAsUser > 0)) err(where, 'securityContext.runAsUser must be a non-zero uid');
    const volumes = Object.fromEntries((pod.volumes || []).map((v) => [v.name, v]));
    const containers = pod.containers || [];
    if (containers.length !== 1) err(where, `expected one container, found ${containers.length}`);
    for (const c of containers) {
      const cw = `${where} container ${c.name}`;
      if (!c.name || !c.image) err(cw, 'needs name and image');
      if (c.image && !isBase && !/:[^/]+$/.test(c.image)) err(cw, `image ${c.image} has no tag`);
      if (c.image && !isBase && /:latest$/.test(c.image)) err(cw, `image ${c.image}: pin a tag, not latest`);
      const args = c.args || [];
      if (!['all', 'worker', 'api'].includes(args[0]))
        err(cw, `args ${JSON.stringify(args)}: expected all|worker|api`);
      if (JSON.stringify(c.command) !== JSON.stringify(['node', 'dist/src/cli.js']))
        err(cw, 'command must be ["node","dist/src/cli.js"] (args alone would replace the image CMD)');
      containerPorts = Object.fromEntries((c.ports || []).map((p) => [p.name, p.containerPort]));
      if (containerPorts.http !== 8080) err(cw, 'needs port http 8080');
      if (containerPorts.metrics !== 9464) err(cw, 'needs port metrics 9464');
      const probe = (p, pathWanted, label) => {
        if (!p?.httpGet) return err(cw, `${label} must be an httpGet probe`);
        if (p.httpGet.path !== pathWanted) err(cw, `${label} path ${p.httpGet.path}, expected ${pathWanted}`);
        if (!(p.httpGet.port in containerPorts) && !Object.values(containerPorts).includes(p.httpGet.port))
          err(cw, `${label} port ${p.httpGet.port} is not a container port`);
      };
      probe(c.livenessProbe, '/health', 'livenessProbe');
      probe(c.readinessProbe, '/ready', 'readinessProbe');
      const r = c.resources || {};
      for (const kind of ['requests', 'limits'])
        for (const res of ['cpu', 'memory'])
          if (!r[kind] || r[kind][res] === undefined || Number.isNaN(quantity(r[kind][res])))
            err(cw, `resources.${kind}.${res} missing or not a quantity`);
      for (const res of ['cpu', 'memory'])
        if (r.requests && r.limits && quantity(r.requests[res]) > quantity(r.limits[res]))
          err(cw, `resources.requests.${res} exceeds the limit`);
      if (isBase) {
        const want = { requests: { cpu: '256m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } };
        for (const kind of ['requests', 'limits'])
          for (const res of ['cpu', 'memory'])
            if (quantity(r[kind]?.[res]) !== quantity(want[kind][res]))
              err(cw, `resources.${kind}.${res} ${r[kind]?.[res]}, expected ${want[kind][res]}`);
      }
      const preStop = c.lifecycle?.preStop?.exec?.command || [];
      const sleep = /setTimeout\([^,]+,\s*(\d+)\)/.exec(preStop.join(' '));
      if (preStop[0] !== 'node' || !sleep) err(cw, 'lifecycle.preStop must exec node -e setTimeout(..., ms)');
      else if (Number(sleep[1]) / 1000 + grace > tgps)
        err(cw, 'preStop sleep + worker grace exceed terminationGracePeriodSeconds');
      const sc = c.securityContext || {};
      if (sc.readOnlyRootFilesystem !== true) err(cw, 'securityContext.readOnlyRootFilesystem must be true');
      if (sc.allowPrivilegeEscalation !== false)
        err(cw, 'securityContext.allowPrivilegeEscalation must be false');
      const tmp = (c.volumeMounts || []).find((m) => m.mountPath === '/tmp');
      if (!tmp || !volumes[tmp.name] || !volumes[tmp.name].emptyDir)
        err(cw, 'needs an emptyDir mounted at /tmp');
      const envFrom = c.envFrom || [];
      const cmRef = envFrom.find((e) => e.configMapRef)?.configMapRef?.name;
      const secRef = envFrom.find((e) => e.secretRef)?.secretRef?.name;
      if (!cm || cmRef !== cm.metadata.name)
        err(cw, `envFrom configMapRef ${cmRef} is not the rendered ConfigMap`);
      if (secRef !== secretName)
        err(cw, `envFrom secretRef ${secRef} is not the template's Secret ${secretName}`);
      for (const e of c.env || []) if (!vars.has(e.name)) err(cw, `env ${e.name} is not in the README table`);
    }
  }

  const svc = expectOne('Service');
  let svcPorts = [];
  if (svc) {
    const where = `Service/${svc.metadata.name}`;
    svcPorts = svc.spec?.ports || [];
    if (!svc.spec?.selector || !matches(svc.spec.selector, podLabels))
      err(where, 'selector does not match the Deployment pod labels');
    for (const p of svcPorts) {
      if (!p.name || !p.port) err(where, 'every port needs name and port');
      if (typeof p.targetPort === 'string' && !(p.targetPort in containerPorts))
        err(where, `targetPort ${p.targetPort} is not a container port`);
    }
    for (const n of ['http', 'metrics'])
      if (!svcPorts.some((p) => p.name === n)) err(where, `needs a port named ${n}`);
  }

  const hpa = expectOne('HorizontalPodAutoscaler');
  if (hpa) {
    const where = `HorizontalPodAutoscaler/${hpa.metadata.name}`;
    const s = hpa.spec || {};
    if (hpa.apiVersion !== 'autoscaling/v2') err(where, 'apiVersion must be autoscaling/v2');
    if (s.scaleTargetRef?.kind !== 'Deployment' || s.scaleTargetRef?.name !== dep?.metadata?.name)
      err(where, 'scaleTargetRef is not the Deployment');
    if (!(s.minReplicas >= 1 && s.maxReplicas >= s.minReplicas))
      err(where, 'needs 1 <= minReplicas <= maxReplicas');
    const metrics = s.metrics || [];
    const cpu = metrics.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
    if (cpu?.resource?.target?.type !== 'Utilization' || cpu.resource.target.averageUtilization !== 60)
      err(where, 'needs a cpu Utilization target of 60');
    const ext = metrics.find((m) => m.type === 'External');
    if (ext?.external?.metric?.name !== 'temporal_task_queue_backlog')
      err(where, 'needs the External metric temporal_task_queue_backlog');
    else if (
      ext.external.target?.type !== 'AverageValue' ||
      quantity(ext.external.target.averageValue) !== 100
    )
      err(where, 'temporal_task_queue_backlog target must be AverageValue 100');
  }

  const pdb = expectOne('PodDisruptionBudget');
  if (pdb) {
    const where = `PodDisruptionBudget/${pdb.metadata.name}`;
    if (pdb.apiVersion !== 'policy/v1') err(where, 'apiVersion must be policy/v1');
    const min = pdb.spec?.minAvailable;
    if (!Number.isInteger(min)) err(where, 'minAvailable must be an integer');
    if (isBase && min !== 2) err(where, `minAvailable ${min}, expected 2`);
    const floor = Math.min(dep?.spec?.replicas ?? 0, hpa?.spec?.minReplicas ?? Infinity);
    if (Number.isInteger(min) && min >= floor)
      err(where, `minAvailable ${min} >= replicas ${floor}: no pod could ever be evicted (node drains hang)`);
    if (!matches(pdb.spec?.selector?.matchLabels, podLabels)) err(where, 'selector does not match the pods');
  }

  const sm = expectOne('ServiceMonitor');
  if (sm) {
    const where = `ServiceMonitor/${sm.metadata.name}`;
    if (sm.apiVersion !== 'monitoring.coreos.com/v1')
      err(where, 'apiVersion must be monitoring.coreos.com/v1');
    if (!svc || !matches(sm.spec?.selector?.matchLabels, svc.metadata.labels))
      err(where, 'selector does not match the Service labels');
    const eps = sm.spec?.endpoints || [];
    for (const e of eps)
      if (!svcPorts.some((p) => p.name === e.port))
        err(where, `endpoint port ${e.port} is not a Service port`);
    if (!eps.some((e) => e.port === 'metrics')) err(where, 'must scrape the metrics port');
  }

  if (name === 'production') {
    if (!/\.tmprl\.cloud:7233$/.test(cmData.TEMPORAL_ADDRESS || ''))
      err(
        'ConfigMap',
        `production TEMPORAL_ADDRESS ${cmData.TEMPORAL_ADDRESS} is not a Temporal Cloud endpoint`,
      );
    if (!cmData.TEMPORAL_NAMESPACE || cmData.TEMPORAL_NAMESPACE === 'default')
      err('ConfigMap', 'production needs its Temporal Cloud namespace');
  }
  return errors;
}

function main(argv) {
  let name = 'rendered';
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--name') name = argv[++i];
    else files.push(argv[i]);
  }
  if (files.length === 0) {
    console.error('usage: validate-k8s.js [--name base|staging|production] rendered.yaml...');
    return 2;
  }
  const docs = [];
  for (const f of files) {
    for (const d of YAML.parseAllDocuments(fs.readFileSync(f, 'utf8'))) {
      if (d.errors.length) {
        console.error(`${name}: ${f}: YAML error: ${d.errors[0].message}`);
        return 1;
      }
      const js = d.toJS();
      if (js !== null) docs.push(js);
    }
  }
  const errors = validate(name, docs);
  if (errors.length) {
    for (const e of errors) console.error(`  FAIL ${e}`);
    return 1;
  }
  const kinds = docs.map((d) => d.kind).join(', ');
  console.log(`  ok   k8s ${name}: ${docs.length} objects (${kinds})`);
  return 0;
}

module.exports = { readmeVariables, validate, quantity };

if (require.main === module) process.exitCode = main(process.argv.slice(2));
