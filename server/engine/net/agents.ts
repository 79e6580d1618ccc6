/**
 * http/https agents that open sockets only to addresses the outbound policy allows. Every HTTP client of the
 * product is given one of these (the AWS SDK through NodeHttpHandler, Azure through its pipeline's `agent`,
 * Slack and webhooks directly); GCS, whose HTTP layer takes no agent, gets contextual ones (see below).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { OutboundPolicy } from './outbound-policy';

type PolicySource = () => OutboundPolicy;
type Created = Duplex | null | undefined;
type OnCreate = (err: Error | null, stream: Duplex) => void;

/**
 * Checks a literal IP host (net skips `lookup` for those) and gives every other host the policy's checking
 * lookup. A refusal goes to the agent's callback, so the request fails before any socket exists.
 */
function guarded(policy: OutboundPolicy, options: http.ClientRequestArgs, callback: OnCreate | undefined, create: (o: http.ClientRequestArgs, cb?: OnCreate) => Created): Created {
  const host = (options.host ?? options.hostname ?? 'localhost').replace(/^\[(.*)\]$/, '$1');
  const refused = isIP(host) ? policy.refusal(host) : null;
  if (refused) {
    if (!callback) throw refused;
    callback(refused, undefined as unknown as Duplex);
    return undefined;
  }
  return create({ ...options, lookup: policy.lookup }, callback);
}

export class GuardedHttpAgent extends http.Agent {
  constructor(
    private readonly policyOf: PolicySource,
    opts?: http.AgentOptions,
  ) {
    super(opts);
  }
  override createConnection(options: http.ClientRequestArgs, callback?: OnCreate): Created {
    return guarded(this.policyOf(), options, callback, (o, cb) => super.createConnection(o, cb));
  }
  /** Pooled sockets are keyed by policy too, so a socket checked under one policy never serves another. */
  override getName(options?: http.ClientRequestArgs): string {
    return `${super.getName(options)}|${this.policyOf().id}`;
  }
}

export class GuardedHttpsAgent extends https.Agent {
  constructor(
    private readonly policyOf: PolicySource,
    opts?: https.AgentOptions,
  ) {
    super(opts);
  }
  override createConnection(options: https.RequestOptions, callback?: OnCreate): Created {
    return guarded(this.policyOf(), options, callback, (o, cb) => super.createConnection(o, cb));
  }
  override getName(options?: https.RequestOptions): string {
    return `${super.getName(options)}|${this.policyOf().id}`;
  }
}

export interface GuardedAgents {
  http: GuardedHttpAgent;
  https: GuardedHttpsAgent;
}

/**
 * A fresh pair of agents for one client. Not shared between clients: the AWS SDK destroys its agents when its
 * client is destroyed, which would cut the requests of every other client using them.
 */
export function guardedAgents(policy: OutboundPolicy, opts: { keepAlive: boolean }): GuardedAgents {
  return { http: new GuardedHttpAgent(() => policy, opts), https: new GuardedHttpsAgent(() => policy, opts) };
}

/** The agent for one URL's protocol. */
export function agentFor(agents: GuardedAgents, url: string | URL): GuardedHttpAgent | GuardedHttpsAgent {
  return new URL(url).protocol === 'http:' ? agents.http : agents.https;
}

// ---- contextual agents (GCS) -------------------------------------------------------------------------

/**
 * @google-cloud/storage sends its requests through teeny-request, which takes its agent only from a
 * module-level pool, never from the caller. That pool is given agents that read the policy from the async
 * context: a GCS backend runs each call inside `withOutboundPolicy`. Outside any context the default rules
 * (DEFAULT_DENIED_NETWORKS) apply, so a lost context fails towards the defaults, not towards no policy.
 */
const context = new AsyncLocalStorage<OutboundPolicy>();
const contextual: PolicySource = () => context.getStore() ?? OutboundPolicy.for();

export function withOutboundPolicy<T>(policy: OutboundPolicy, fn: () => T): T {
  return context.run(policy, fn);
}

let installed = false;

/** Puts contextual agents into teeny-request's pool (its keys: http, https, and ":forever" for keep-alive). */
export function installContextualAgents(pool: Map<string, unknown>): void {
  if (installed) return;
  installed = true;
  pool.set('http', new GuardedHttpAgent(contextual));
  pool.set('https', new GuardedHttpsAgent(contextual));
  pool.set('http:forever', new GuardedHttpAgent(contextual, { keepAlive: true }));
  pool.set('https:forever', new GuardedHttpsAgent(contextual, { keepAlive: true }));
}
