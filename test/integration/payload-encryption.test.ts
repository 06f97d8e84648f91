/**
 * No secret in Temporal's history: a credential injection and a workflow update run through a
 * worker and a client that use the AES-256-GCM payload codec. Read through a client WITHOUT the
 * codec, the serialized histories contain no credential blob, credential name, secret or workflow
 * JSON; with the codec's keys the same history decodes back to the original inputs.
 */
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { CredentialInjectionInput, WorkflowUpdateInput } from '../../src/domain/changes';
import { encryptCredential } from '../../src/sidecar/credential-blob';
import { startCredentialInjection, startWorkflowUpdate } from '../../src/temporal/change-starts';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../../src/temporal/payload-codec';
import { createFleetHarness, type FleetHarness } from '../helpers/fleet-harness';
import { connectTestTemporal, startTestWorker, testConfig, type TestTemporal } from '../helpers/temporal';

jest.setTimeout(90_000);

const WS = 'ws-enc0';
const ID = 9_600;
const SECRET = `sk-live-${randomBytes(8).toString('hex')}`;
const SMTP_PASSWORD = `smtp-${randomBytes(8).toString('hex')}`;

/** Walks the decoded proto objects (no toJSON), visiting every object. */
function walk(v: unknown, visit: (o: Record<string, unknown>) => void, seen = new Set<unknown>()): void {
  if (!v || typeof v !== 'object' || seen.has(v) || v instanceof Uint8Array) return;
  seen.add(v);
  visit(v as Record<string, unknown>);
  for (const child of Object.values(v as Record<string, unknown>)) walk(child, visit, seen);
}

/** The history as protobuf bytes, and as text in which every byte array appears as base64 and UTF-8. */
function serialized(history: temporal.api.history.v1.IHistory): { bytes: Buffer; text: string } {
  const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
  const parts: string[] = [];
  walk(history, (o) => {
    for (const val of Object.values(o)) {
      if (val instanceof Uint8Array)
        parts.push(Buffer.from(val).toString('base64'), Buffer.from(val).toString('utf8'));
      else if (typeof val === 'string') parts.push(val);
    }
  });
  return { bytes, text: parts.join('\n') };
}

describe('payload encryption of change workflows', () => {
  let h: FleetHarness;
  let enc: TestTemporal;
  let worker: { stop(): Promise<void> };
  const keyB64 = randomBytes(32).toString('base64');
  const config = testConfig({ PAYLOAD_CODEC_KEYS: `k1:${keyB64}` });
  const codec = new AesGcmPayloadCodec(config.codec.keys!);

  beforeAll(async () => {
    h = await createFleetHarness('payload-encryption');
    await h.fleet.addDroplets(h.db.pool, [{ dropletId: ID, workspaceId: WS }]);
    enc = await connectTestTemporal(config);
    worker = await startTestWorker(enc, { taskQueue: h.taskQueue, deps: h.deps, config });
  });

  afterAll(async () => {
    await worker?.stop();
    await enc?.close();
    await h?.close();
  });

  it('keeps blobs, names, secrets and workflow JSON out of the plaintext history', async () => {
    const credInput: CredentialInjectionInput = {
      workspaceId: WS,
      dropletId: ID,
      credentials: [
        {
          type: 'openAiApi',
          name: 'Tenant OpenAI key',
          encryptedData: encryptCredential('simulator-master-key', WS, { apiKey: SECRET }),
        },
        {
          type: 'smtp',
          name: 'Tenant mailbox',
          encryptedData: encryptCredential('simulator-master-key', WS, { password: SMTP_PASSWORD }),
        },
      ],
    };
    const cred = await startCredentialInjection(enc.client, h.taskQueue, credInput);
    const credResult = await cred.handle.result();
    expect(credResult.succeeded).toHaveLength(2);

    const wfInput: WorkflowUpdateInput = {
      workspaceId: WS,
      dropletId: ID,
      workflowName: 'outreach',
      workflowJson: {
        name: 'Confidential outreach flow',
        nodes: [
          {
            name: 'Call CRM',
            type: 'n8n-nodes-base.httpRequest',
            parameters: { url: 'https://crm.internal/api/leads-export' },
          },
        ],
        connections: {},
        settings: {}, // n8n's public API refuses a workflow without settings (400)
      },
      version: '7',
      credentialMap: { openAiApi: credResult.succeeded[0]!.credentialId! },
    };
    const wf = await startWorkflowUpdate(enc.client, h.taskQueue, wfInput);
    await wf.handle.result();

    const forbidden = [
      ...credInput.credentials.flatMap((c) => [c.encryptedData, c.name]),
      SECRET,
      SMTP_PASSWORD,
      JSON.stringify(wfInput.workflowJson),
      'Confidential outreach flow',
      'crm.internal/api/leads-export',
      'Call CRM',
    ];
    let events = 0;
    let payloads = 0;
    let searchAttributePayloads = 0;
    for (const id of [cred.workflowId, wf.workflowId]) {
      // Read through the client WITHOUT the codec: what Temporal stores.
      const history = await h.temporal.client.workflow.getHandle(id).fetchHistory();
      events += history.events?.length ?? 0;
      const { bytes, text } = serialized(history);
      expect(text.length).toBeGreaterThan(1_000);
      for (const s of forbidden) {
        expect(bytes.includes(Buffer.from(s, 'utf8'))).toBe(false);
        expect(text.includes(s)).toBe(false);
        expect(text.includes(Buffer.from(s, 'utf8').toString('base64'))).toBe(false);
      }
      // Every payload in the history is encrypted.
      const all: Payload[] = [];
      walk(history, (o) => {
        if (o.data instanceof Uint8Array && o.metadata && typeof o.metadata === 'object')
          all.push(o as Payload);
      });
      payloads += all.length;
      // Only the search attributes (Operation, WorkspaceId, DropletId, Reason) stay readable: the Web
      // UI lists by them. Every other payload is encrypted.
      const plain = all.filter((p) => Buffer.from(p.metadata!.encoding!).toString() !== ENCRYPTED_ENCODING);
      searchAttributePayloads += plain.length;
      for (const p of plain)
        expect(['ws-enc0', '9600', '7', 'credential_injection', 'workflow_update']).toContain(
          defaultPayloadConverter.fromPayload(p),
        );
    }
    expect(payloads - searchAttributePayloads).toBeGreaterThan(10);
    expect(searchAttributePayloads).toBe(7);

    // With the codec the same history decodes: the start event's input is the original input.
    const decodeInput = async (id: string) => {
      const history = await h.temporal.client.workflow.getHandle(id).fetchHistory();
      const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
      const [p] = await codec.decode(started.input!.payloads as Payload[]);
      return defaultPayloadConverter.fromPayload(p!);
    };
    expect(await decodeInput(cred.workflowId)).toEqual(credInput);
    expect(await decodeInput(wf.workflowId)).toEqual(wfInput);
    console.log(
      `payload encryption: ${events} events, ${payloads - searchAttributePayloads} encrypted payloads, ${searchAttributePayloads} search attributes, ${forbidden.length} secrets absent`,
    );
  });
});
