import type { Role } from '../../db/schema';
import type { Services } from './services/types';

export interface SessionUser {
  id: string;
  email: string;
  name: string | null;
  role: Role;
}

export interface Context {
  user: SessionUser | null;
  services: Services;
}
