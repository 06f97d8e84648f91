/** Builders for heartbeat bodies as the fleet sends them. */
export function nativeHeartbeat(
  dropletId: number,
  workspaceId: string,
  overrides: Record<string, unknown> = {},
) {
  return {
    workspace_id: workspaceId,
    droplet_id: dropletId,
    timestamp: new Date().toISOString(),
    cpu_percent: 12.5,
    memory_percent: 40,
    disk_percent: 30,
    n8n_status: 'healthy',
    sidecar_version: '1.4.0',
    n8n_version: '1.70.2',
    uptime_seconds: 3600,
    ...overrides,
  };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json, headers: res.headers };
}
