import { userInfo } from 'node:os';

/** Who a CLI command acts as in the audit log and in `created_by`: `cli:<OS user>` (`cli:unknown` without one). */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown';
  }
}
