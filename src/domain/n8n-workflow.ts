/**
 * n8n workflows as the control plane pushes them through protocol v1: what the agent forwards to
 * n8n (name, nodes, connections, settings; `meta` and `tags` are dropped), credential ids
 * substituted before an UPDATE_WORKFLOW (the agent applies `credential_map` only on DEPLOY), and
 * the read-back comparison that verifies a deploy (the agent keeps no version: the version lives
 * in the control plane's record). Pure; shared by workflows and activities.
 */

/** The fields the agent forwards to n8n, and so the ones a read-back can be compared on. */
export const FORWARDED_WORKFLOW_FIELDS = ['name', 'nodes', 'connections', 'settings'] as const;

/**
 * n8n's public API refuses a workflow without name, nodes, connections and settings (400), and the
 * agent forwards only those: checked at the start, naming the field, instead of failing deep in a
 * tenant's n8n.
 */
export function invalidN8nWorkflowJson(json: unknown, field = 'workflowJson'): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return `${field} must be an object`;
  const w = json as Record<string, unknown>;
  if (typeof w.name !== 'string' || w.name.length === 0) return `${field}.name must be a non-empty string`;
  if (!Array.isArray(w.nodes)) return `${field}.nodes must be an array`;
  if (typeof w.connections !== 'object' || w.connections === null || Array.isArray(w.connections))
    return `${field}.connections must be an object`;
  if (typeof w.settings !== 'object' || w.settings === null || Array.isArray(w.settings))
    return `${field}.settings must be an object (n8n requires it; {} is enough)`;
  return undefined;
}

/** `workflowJson` reduced to what the agent forwards. */
export function forwardedWorkflow(workflowJson: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FORWARDED_WORKFLOW_FIELDS) if (workflowJson[f] !== undefined) out[f] = workflowJson[f];
  return out;
}

/**
 * Replaces template credential ids (`nodes[].credentials.<type>.id`) as the agent does for
 * DEPLOY_WORKFLOW's credential_map; used before UPDATE_WORKFLOW, where the agent does not.
 */
export function substituteCredentials(
  workflowJson: Record<string, unknown>,
  credentialMap: Record<string, string> | undefined,
): Record<string, unknown> {
  if (!credentialMap || Object.keys(credentialMap).length === 0) return workflowJson;
  const nodes = Array.isArray(workflowJson.nodes) ? workflowJson.nodes : undefined;
  if (!nodes) return workflowJson;
  return {
    ...workflowJson,
    nodes: nodes.map((node: unknown) => {
      if (typeof node !== 'object' || node === null) return node;
      const creds = (node as { credentials?: unknown }).credentials;
      if (typeof creds !== 'object' || creds === null) return node;
      const mapped: Record<string, unknown> = {};
      for (const [type, ref] of Object.entries(creds as Record<string, unknown>)) {
        const id = (ref as { id?: unknown } | null)?.id;
        mapped[type] =
          typeof id === 'string' && credentialMap[id] !== undefined
            ? { ...(ref as object), id: credentialMap[id] }
            : ref;
      }
      return { ...node, credentials: mapped };
    }),
  };
}

/** JSON equality that ignores object key order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameJson(v, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) =>
      Object.prototype.hasOwnProperty.call(b, k) &&
      sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

/**
 * Which forwarded fields of what was sent (credential ids already substituted) differ in what n8n
 * reads back. n8n may add settings of its own defaults, so `settings` is compared on the keys that
 * were sent.
 */
export function workflowDifferences(
  sent: Record<string, unknown>,
  readBack: Record<string, unknown>,
): string[] {
  const diffs: string[] = [];
  for (const f of FORWARDED_WORKFLOW_FIELDS) {
    const want = sent[f];
    if (want === undefined) continue;
    const got = readBack[f];
    if (f === 'settings' && typeof want === 'object' && want !== null && typeof got === 'object' && got) {
      for (const [k, v] of Object.entries(want as Record<string, unknown>))
        if (!sameJson(v, (got as Record<string, unknown>)[k])) diffs.push(`settings.${k}`);
      continue;
    }
    if (!sameJson(want, got)) diffs.push(f);
  }
  return diffs;
}
