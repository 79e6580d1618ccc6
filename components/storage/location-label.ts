/** How the console names a location's kind: "local", "s3 · eu-west-1" (a region equal to the type, like local's default "local", is not repeated). */
export function locationKind(l: { type: string; region: string }): string {
  return l.region && l.region !== l.type ? `${l.type} · ${l.region}` : l.type;
}

