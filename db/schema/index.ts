export * from './audit';
export * from './backups';
export * from './keys';
export * from './storage';
export * from './users';
export * from './auth';
export * from './settings';
export * from './operations';
