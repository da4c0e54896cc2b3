import type { AppDeps } from './deps.ts';
import { notifyDepsFrom } from '../notifications/notify-config.ts';
import type { NotificationsDeps } from '../notifications/notifications.service.ts';

const built = new WeakMap<AppDeps, NotificationsDeps>();

/** The notification service's deps for this app, built once (one mailer per process). */
export function notificationsDeps(deps: AppDeps): NotificationsDeps {
  let made = built.get(deps);
  if (!made) {
    made = {
      pool: deps.pool,
      boss: deps.boss,
      secrets: deps.secrets,
      notify: deps.notify ?? notifyDepsFrom(deps.config),
    };
    built.set(deps, made);
  }
  return made;
}
