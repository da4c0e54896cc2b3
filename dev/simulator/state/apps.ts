import { newAppName, newId } from './ids.ts';
import { findApp, findUser, type SimStore } from './store.ts';
import type { SimApp, SimUser } from './types.ts';

/** Who owns and collaborates on an app the simulator creates. */
export interface AppSpec {
  name?: string;
  /** Owner email; default `owner@example.com`. */
  owner?: string;
  /** Collaborator emails; default `['collaborator@example.com']`. */
  collaborators?: string[];
  /** Short region name; default `us`. */
  region?: string;
}

/** Returns the user with this email (or id), creating an account for an unknown email. */
export function ensureUser(store: SimStore, emailOrId: string, now: number): SimUser {
  const existing = findUser(store, emailOrId);
  if (existing) return existing;
  const user: SimUser = { id: newId(), email: emailOrId, createdAt: now };
  store.users.set(user.id, user);
  return user;
}

/** Returns the named app, creating it (with owner, collaborators and a first release) when missing. */
export function ensureApp(store: SimStore, spec: AppSpec, now: number): SimApp {
  if (spec.name) {
    const existing = findApp(store, spec.name);
    if (existing) return existing;
  }
  const owner = ensureUser(store, spec.owner ?? 'owner@example.com', now);
  const collaborators = (spec.collaborators ?? ['collaborator@example.com']).map((email) =>
    ensureUser(store, email, now),
  );
  const app: SimApp = {
    id: newId(),
    name: spec.name ?? newAppName(),
    ownerId: owner.id,
    collaboratorIds: [owner.id, ...collaborators.map((u) => u.id).filter((id) => id !== owner.id)],
    region: spec.region ?? 'us',
    configVars: {},
    releases: [],
    createdAt: now,
    updatedAt: now,
  };
  store.apps.set(app.id, app);
  // Real apps start at v1 too, so release counts in tests read like Heroku's.
  addRelease(app, 'Initial release', now);
  return app;
}

/** Appends a release; every config change on Heroku creates one and restarts the app's dynos. */
export function addRelease(app: SimApp, description: string, now: number): void {
  app.releases.push({ id: newId(), version: app.releases.length + 1, description, createdAt: now });
  app.updatedAt = now;
}

/** True when the user may act on the app (owner or collaborator). */
export function isCollaborator(app: SimApp, userId: string): boolean {
  return app.collaboratorIds.includes(userId);
}
