/**
 * The outbound network policy (`outbound.denied_networks`, `outbound.allowed_networks`): every connection the
 * product opens on its own (storage SDKs, Slack, webhooks, SMTP) goes to an address checked against it.
 *
 * The check sits where the socket is made, not before the request: a `lookup` that resolves, checks every
 * address and hands the connection only checked ones, so a name cannot resolve to an allowed address for the
 * check and to a denied one for the connection (DNS rebinding). Literal IP hosts skip `lookup` in node's net
 * module, so the agents check them in `createConnection` too.
 */
import dns, { type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { DEFAULT_DENIED_NETWORKS, type OutboundPolicyConfig } from '../../config';

/** The code of a refused connection, kept by the SDKs when they wrap the error (Azure keeps only code and message). */
export const OUTBOUND_DENIED = 'EOUTBOUND_DENIED';

export class OutboundDeniedError extends Error {
  readonly code = OUTBOUND_DENIED;
  constructor(
    readonly address: string,
    readonly host: string,
    readonly setting: 'outbound.denied_networks' | 'outbound.allowed_networks',
    rule: string | null,
  ) {
    const target = host && host !== address ? `${host} (${address})` : address;
    const why =
      setting === 'outbound.denied_networks'
        ? `${address} is in outbound.denied_networks (${rule}); if this destination is intended, remove that network from outbound.denied_networks`
        : `${address} is not in outbound.allowed_networks; add its network to outbound.allowed_networks if this destination is intended`;
    super(`outbound connection to ${target} refused: ${why}`);
    this.name = 'OutboundDeniedError';
  }
}

/** The refusal in an error or its causes (matched by code too, for SDKs that re-create errors). */
export function findOutboundDenial(err: unknown): { message: string } | null {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    const o = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (e instanceof OutboundDeniedError) return { message: e.message };
    if (o.code === OUTBOUND_DENIED && typeof o.message === 'string') {
      // node-fetch (GCS) prefixes "request to <url> failed, reason: "; keep only the policy's own sentence.
      const at = o.message.indexOf('outbound connection to ');
      return { message: at >= 0 ? o.message.slice(at) : o.message };
    }
    e = o.cause;
  }
  return null;
}

interface Rule {
  cidr: string;
  list: BlockList;
}

function rule(cidr: string): Rule {
  const [addr, bits] = cidr.split('/') as [string, string | undefined];
  const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
  const list = new BlockList();
  if (bits === undefined) list.addAddress(addr, family);
  else list.addSubnet(addr, Number(bits), family);
  return { cidr, list };
}

const familyOf = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

const UNSPECIFIED_V6 = new BlockList();
UNSPECIFIED_V6.addAddress('::', 'ipv6');

export class OutboundPolicy {
  /** Identifies the rules, so pooled sockets are never shared between two policies. */
  readonly id: string;
  private readonly denied: Rule[];
  private readonly allowed: Rule[] | null;

  constructor(cfg: Partial<OutboundPolicyConfig> = {}) {
    const denied = cfg.denied_networks ?? DEFAULT_DENIED_NETWORKS;
    this.denied = denied.map(rule);
    this.allowed = cfg.allowed_networks ? cfg.allowed_networks.map(rule) : null;
    this.id = JSON.stringify([denied, cfg.allowed_networks ?? null]);
  }

  /** One policy per distinct configuration, so backends and channels with the same rules share agents. */
  static for(cfg?: Partial<OutboundPolicyConfig>): OutboundPolicy {
    const candidate = new OutboundPolicy(cfg);
    let p = cache.get(candidate.id);
    if (!p) cache.set(candidate.id, (p = candidate));
    return p;
  }

  /** The refusal for an address, or null when it may be contacted. BlockList matches IPv4-mapped IPv6 both ways. */
  refusal(address: string, host = address): OutboundDeniedError | null {
    // "::" reaches this host like 0.0.0.0 does; judge it as 0.0.0.0 too, so denying 0.0.0.0/8 covers both.
    const forms: [string, 'ipv4' | 'ipv6'][] = [[address, familyOf(address)]];
    if (familyOf(address) === 'ipv6' && UNSPECIFIED_V6.check(address, 'ipv6')) forms.push(['0.0.0.0', 'ipv4']);
    for (const [a, f] of forms) {
      const hit = this.denied.find((r) => r.list.check(a, f));
      if (hit) return new OutboundDeniedError(address, host, 'outbound.denied_networks', hit.cidr);
    }
    if (this.allowed && !this.allowed.some((r) => r.list.check(address, familyOf(address)))) {
      return new OutboundDeniedError(address, host, 'outbound.allowed_networks', null);
    }
    return null;
  }

  /** Throws when the address may not be contacted. */
  check(address: string, host = address): void {
    const refused = this.refusal(address, host);
    if (refused) throw refused;
  }

  /** Every address of a host, all of them checked (one denied address refuses the host). */
  async resolve(host: string): Promise<LookupAddress[]> {
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    if (isIP(bare)) {
      this.check(bare, host);
      return [{ address: bare, family: isIP(bare) }];
    }
    const addresses = await dns.promises.lookup(bare, { all: true, verbatim: true });
    for (const a of addresses) this.check(a.address, host);
    return addresses;
  }

  /**
   * A drop-in for dns.lookup (net.connect's `lookup` option): resolves, refuses the host when any address is
   * denied, and returns only checked addresses — the socket connects to what was checked.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const opts = typeof options === 'number' ? { family: options } : (options ?? {});
    this.resolve(hostname).then(
      (all) => {
        const wanted = opts.family === 4 || opts.family === 6 ? all.filter((a) => a.family === opts.family) : all;
        if (wanted.length === 0) {
          const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
          callback(err, '', 0);
        } else if ((opts as { all?: boolean }).all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, wanted);
        } else {
          callback(null, wanted[0]!.address, wanted[0]!.family);
        }
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

const cache = new Map<string, OutboundPolicy>();
