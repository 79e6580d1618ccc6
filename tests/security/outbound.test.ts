/**
 * The outbound network policy (issue 10, item 4): storage SDKs, Slack, webhooks and SMTP connect only to
 * addresses outside `outbound.denied_networks` (and inside `outbound.allowed_networks` when set), refuse before
 * any connection, follow no redirect and report status codes, not what the remote answered.
 *
 * Only loopback addresses are used: 127.0.0.2 plays the denied destination (a TCP listener there counts the
 * connections it gets, which must stay 0), 127.0.0.3 the allowed one. Never contact another address here.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client';
import type { OutboundPolicyConfig, StorageLocationConfig } from '../../server/config';
import { OutboundPolicy } from '../../server/engine/net/outbound-policy';
import { StorageError } from '../../server/engine/storage/backend';
import { createBackend, type BackendOptions } from '../../server/engine/storage/factory';
import { probeLocation } from '../../server/engine/storage/probe';
import { alertSettings } from '../../server/monitoring/alert-settings';
import { AlertService } from '../../server/monitoring/alert-service';
import { deliver, type AlertMessage } from '../../server/monitoring/channels';

const DENIED = '127.0.0.2';
const ALLOWED = '127.0.0.3';
const DENY_ONE: OutboundPolicyConfig = { denied_networks: [`${DENIED}/32`] };
const OPTS = (outbound: Partial<OutboundPolicyConfig>): BackendOptions => ({ timeoutMs: 5_000, retries: 2, backoffMs: 10, outbound });

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

/** A TCP listener that counts connections and drops them: the policy must refuse before any reaches it. */
async function tarpit(host: string): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const server = createTcpServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { port: (server.address() as AddressInfo).port, connections: () => n };
}

/** An HTTP server recording what it was sent; `answer` decides the reply. */
async function httpServer(host: string, answer: (req: IncomingMessage, res: ServerResponse) => void = (_q, res) => res.writeHead(200).end('ok')) {
  const bodies: string[] = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, bodies };
}

const MSG: AlertMessage = { id: 'a1', rule: 'test', subject_key: 'test', severity: 'warning', state: 'open', event: 'test', message: 'hello', link: 'https://console.test/alerts', at: '2024-01-01T00:00:00Z' };

function alertConfig(channels: Record<string, unknown>) {
  return alertSettings({ alerts: { ...channels, delivery_attempts: 2, delivery_backoff_ms: 5 }, alert_thresholds: {} });
}
const webhook = (url: string) => alertConfig({ webhook: { enabled: true, url } });
const slack = (url: string) => alertConfig({ slack: { enabled: true, webhook_url: `${url}/services/T0/B0/SECRETPATH` } });

async function send(settings: ReturnType<typeof alertConfig>, outbound: Partial<OutboundPolicyConfig>) {
  const [r] = await deliver(settings, MSG, () => undefined, OutboundPolicy.for(outbound));
  return r!;
}

const base = (name: string, type: StorageLocationConfig['type']): StorageLocationConfig => ({ name, type, priority: 10, region: 'test', enabled: true });
const s3At = (url: string): StorageLocationConfig => ({ ...base('s3-x', 's3'), bucket_name: 'bkt', region: 'us-east-1', endpoint: url, force_path_style: true, access_key_id: 'AKIATEST', secret_access_key: 'not-a-secret-1' });
const gcsAt = (url: string): StorageLocationConfig => ({ ...base('gcs-x', 'gcs'), bucket_name: 'bkt', project: 'p', api_endpoint: url });
const azureAt = (url: string): StorageLocationConfig => ({
  ...base('azure-x', 'azure'),
  container_name: 'ctr',
  connection_string: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('k'.repeat(32)).toString('base64')};BlobEndpoint=${url}/devstoreaccount1;`,
});

async function refusal(p: Promise<unknown>): Promise<StorageError> {
  const err = await p.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  return err as StorageError;
}

describe('outbound policy: webhooks and Slack', () => {
  for (const [name, settings] of [
    ['webhook', webhook],
    ['slack', slack],
  ] as const) {
    it(`${name}: a denied address is refused before any connection; the same receiver elsewhere gets the alert`, async () => {
      const pit = await tarpit(DENIED);
      const refused = await send(settings(`http://${DENIED}:${pit.port}`), DENY_ONE);
      expect(refused.ok).toBe(false);
      expect(refused.error).toContain('outbound.denied_networks');
      expect(refused.error).toContain(DENIED);
      expect(refused.attempts).toBe(1); // a refusal is not retried
      expect(pit.connections()).toBe(0);

      const ok = await httpServer(ALLOWED);
      expect(await send(settings(ok.url), DENY_ONE)).toMatchObject({ ok: true });
      expect(ok.bodies).toHaveLength(1);
    });

    it(`${name}: a redirect is not followed, and the answer's body is not reported`, async () => {
      const pit = await tarpit(DENIED);
      const redirecting = await httpServer(ALLOWED, (_q, res) => res.writeHead(302, { location: `http://${DENIED}:${pit.port}/` }).end('go there'));
      const r = await send(settings(redirecting.url), DENY_ONE);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/answered 302 \(a redirect\); redirects are not followed/);
      expect(r.error).not.toContain('SECRETPATH');
      expect(pit.connections()).toBe(0);

      const failing = await httpServer(ALLOWED, (_q, res) => res.writeHead(500).end('INJECTED TEXT FROM THE RECEIVER'));
      const f = await send(settings(failing.url), DENY_ONE);
      expect(f.error).toContain('answered 500');
      expect(f.error).not.toContain('INJECTED');
    });
  }

  it('an IPv4-mapped IPv6 literal of a denied address is refused', async () => {
    const pit = await tarpit(DENIED);
    const r = await send(webhook(`http://[::ffff:${DENIED}]:${pit.port}/hook`), DENY_ONE);
    expect(r.error).toContain('outbound.denied_networks');
    expect(pit.connections()).toBe(0);
  });

  it('a host name that resolves to a denied address is refused', async () => {
    const pit = await tarpit('127.0.0.1');
    const r = await send(webhook(`http://localhost:${pit.port}/hook`), { denied_networks: ['127.0.0.0/8', '::1/128'] });
    expect(r.error).toMatch(/outbound connection to localhost \((127\.0\.0\.1|::1)\) refused: .* is in outbound\.denied_networks/);
    expect(pit.connections()).toBe(0);
  });

  it('a host name that resolves to an allowed address is delivered to the checked address', async () => {
    const ok = await httpServer('127.0.0.1');
    expect(await send(webhook(ok.url.replace('127.0.0.1', 'localhost')), DENY_ONE)).toMatchObject({ ok: true });
    expect(ok.bodies).toHaveLength(1);
  });

  it('allowed_networks restricts deliveries to the listed networks', async () => {
    const outbound = { denied_networks: [], allowed_networks: [`${ALLOWED}/32`] };
    const pit = await tarpit(DENIED);
    const r = await send(webhook(`http://${DENIED}:${pit.port}/hook`), outbound);
    expect(r.error).toContain(`${DENIED} is not in outbound.allowed_networks`);
    expect(pit.connections()).toBe(0);
    const ok = await httpServer(ALLOWED);
    expect(await send(webhook(ok.url), outbound)).toMatchObject({ ok: true });
  });

  it('SMTP to a denied address is refused, by address and by host name', async () => {
    const pit = await tarpit(DENIED);
    const email = (host: string, port: number) => alertConfig({ email: { enabled: true, smtp_server: host, smtp_port: port, from: 'b@x.test', recipients: ['ops@x.test'] } });
    const byAddress = await send(email(DENIED, pit.port), DENY_ONE);
    expect(byAddress.error).toContain(`${DENIED} is in outbound.denied_networks`);
    const local = await tarpit('127.0.0.1');
    const byName = await send(email('localhost', local.port), { denied_networks: ['127.0.0.0/8', '::1/128'] });
    expect(byName.error).toContain('outbound.denied_networks');
    expect(pit.connections() + local.connections()).toBe(0);
  });

  it("the alert service applies the configuration's outbound policy", async () => {
    const pit = await tarpit(DENIED);
    const logs: string[] = [];
    // No catalog: reading console settings fails and the file's settings apply, which is all this needs.
    const svc = new AlertService(
      {} as Db,
      { alerts: { webhook: { enabled: true, url: `http://${DENIED}:${pit.port}/hook` }, delivery_attempts: 1 }, alert_thresholds: {}, public_url: 'https://console.test', master_key_source: { kind: 'env', value: 'ab'.repeat(32) }, outbound: DENY_ONE },
      { log: (l) => logs.push(l), keys: async () => [Buffer.alloc(32)] },
    );
    const [r] = await svc.sendTest('admin@x.test');
    expect(r?.error).toContain('outbound.denied_networks');
    expect(pit.connections()).toBe(0);
  });
});

describe('outbound policy: storage locations', () => {
  const at = { s3: s3At, gcs: gcsAt, azure: azureAt } as const;
  for (const type of ['s3', 'gcs', 'azure'] as const) {
    it(`${type}: an endpoint at a denied address is refused before any connection, permanently`, async () => {
      const pit = await tarpit(DENIED);
      const backend = await createBackend(at[type](`http://${DENIED}:${pit.port}`), OPTS(DENY_ONE));
      cleanups.push(() => backend.close());
      const err = await refusal(backend.init());
      expect(err.kind).toBe('permanent');
      expect(err.message).toContain(`${DENIED} is in outbound.denied_networks (${DENIED}/32)`);
      await refusal(backend.put('k', Buffer.from('x')));
      const probe = await probeLocation(at[type](`http://${DENIED}:${pit.port}`), OPTS(DENY_ONE));
      expect(probe.ok).toBe(false);
      expect(probe.error).toContain('outbound.denied_networks');
      expect(pit.connections()).toBe(0);
    });
  }

  it('s3: a host name resolving to a denied address is refused', async () => {
    const pit = await tarpit('127.0.0.1');
    const backend = await createBackend(s3At(`http://localhost:${pit.port}`), OPTS({ denied_networks: ['127.0.0.0/8', '::1/128'] }));
    cleanups.push(() => backend.close());
    expect((await refusal(backend.init())).message).toContain('outbound.denied_networks');
    expect(pit.connections()).toBe(0);
  });

  it('gcs: allowed_networks is applied to the SDK (refused outside, served inside)', async () => {
    const pit = await tarpit(DENIED);
    const outbound = { denied_networks: [], allowed_networks: [`${ALLOWED}/32`] };
    const denied = await createBackend(gcsAt(`http://${DENIED}:${pit.port}`), OPTS(outbound));
    expect((await refusal(denied.ping())).message).toContain(`${DENIED} is not in outbound.allowed_networks`);
    expect(pit.connections()).toBe(0);
    const server = await httpServer(ALLOWED, (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'storage#bucket', name: 'bkt' })));
    const allowed = await createBackend(gcsAt(server.url), OPTS(outbound));
    await allowed.ping();
  });

  it('a probe reports the status code, not the text the endpoint answered', async () => {
    const server = await httpServer(ALLOWED, (_q, res) =>
      res.writeHead(400, { 'content-type': 'application/xml' }).end('<?xml version="1.0"?><Error><Code>InvalidRequest</Code><Message>CALL 555-EVIL FOR SUPPORT</Message></Error>'),
    );
    const probe = await probeLocation(s3At(server.url), OPTS(DENY_ONE));
    expect(probe.ok).toBe(false);
    expect(probe.error).toContain('HTTP 400');
    expect(probe.error).not.toContain('555-EVIL');
  });
});

describe('outbound policy: matching', () => {
  it('the default rules cover link-local, cloud metadata and "this network", in every notation', () => {
    const p = OutboundPolicy.for();
    for (const a of ['169.254.169.254', '::ffff:169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '0.0.0.0', '::', 'fe80::1']) {
      expect(p.refusal(a)?.message, a).toContain('outbound.denied_networks');
    }
    for (const a of ['127.0.0.1', '10.0.0.1', '8.8.8.8', '::1']) expect(p.refusal(a), a).toBeNull();
  });
});
