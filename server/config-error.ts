/** A setting that cannot be used: the message names the key, the allowed range and where the value came from. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
