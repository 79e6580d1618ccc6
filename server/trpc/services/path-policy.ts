/**
 * The path policy for the procedures: the live installation's (engine config, catalog, loaded locations),
 * or the one a test passes as `services.pathPolicy`. Without either, paths are refused (fail closed).
 */
import { EngineError } from '../../engine/errors';
import { type Installation, PathPolicy, type PathPolicyView, type PolicyRole } from '../../engine/path-policy';
import type { Services } from './types';

export type PolicyServices = Services & { pathPolicy?: () => Promise<PathPolicy> };

function isInstallation(e: unknown): e is Installation {
  return typeof e === 'object' && e !== null && 'config' in e && 'catalog' in e;
}

export async function pathPolicyFor(services: PolicyServices): Promise<PathPolicy> {
  if (services.pathPolicy) return services.pathPolicy();
  const engine = await services.engine();
  if (!isInstallation(engine)) throw new EngineError('FORBIDDEN', 'This server has no path policy loaded, so it accepts no server paths; upload a file instead.');
  return PathPolicy.forInstallation(engine, (e) => engine.audit(e));
}

/** For auth.me: what the forms show; the most limited view when no policy can be loaded. */
export async function pathPolicyView(services: PolicyServices, role: PolicyRole): Promise<PathPolicyView> {
  try {
    return (await pathPolicyFor(services)).view(role);
  } catch {
    return { backupRoots: [], restoreRoots: [], mayOverwrite: false };
  }
}
