import { Badge } from '../ui/badge';

export function SeverityBadge({ severity }: { severity: string }) {
  return <Badge tone={severity === 'critical' ? 'red' : 'amber'}>{severity}</Badge>;
}

export function AlertStateBadge({ state }: { state: string }) {
  return <Badge tone={state === 'open' ? 'red' : state === 'acknowledged' ? 'blue' : 'green'}>{state}</Badge>;
}
