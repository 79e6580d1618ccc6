/** Alert settings are validated with the rest of the configuration (server/alert-config.ts); re-exported here for the monitoring code. */
export * from '../alert-config';
