/**
 * Next.js App Router route handler (Vercel): POST /api/droplets/:dropletId/wake
 * body {workspaceId, reason?}. Starts (or joins) the droplet's wake and answers at once with the
 * workflow id; the dashboard polls the `status` query or waits for the droplet's state.
 * Environment on Vercel: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY (Temporal Cloud),
 * TEMPORAL_TASK_QUEUE, PAYLOAD_CODEC_KEYS.
 */
import { GenesisInputError, getGenesisClient, type WakeDropletInput } from 'genesis-control-plane/client';

export const runtime = 'nodejs'; // the Temporal client needs Node, not the edge runtime

export async function POST(
  request: Request,
  context: { params: Promise<{ dropletId: string }> },
): Promise<Response> {
  const { dropletId } = await context.params;
  let body: { workspaceId?: unknown; reason?: unknown };
  try {
    body = (await request.json()) as typeof body;
  } catch {
    return Response.json({ error: 'body must be JSON' }, { status: 400 });
  }
  try {
    const genesis = await getGenesisClient();
    const started = await genesis.wake({
      workspaceId: String(body.workspaceId ?? ''),
      dropletId: Number(dropletId),
      reason: (body.reason ?? 'user_login') as WakeDropletInput['reason'],
    });
    return Response.json(started, { status: started.joined ? 200 : 202 });
  } catch (err) {
    if (err instanceof GenesisInputError) return Response.json({ error: err.message }, { status: 400 });
    return Response.json({ error: 'could not reach the control plane' }, { status: 503 });
  }
}
