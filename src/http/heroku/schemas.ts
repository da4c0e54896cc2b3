import { z } from 'zod';

// Heroku may add fields at any time: unknown keys are accepted (loose), never rejected.

/** Body of POST /heroku/resources (Add-on Partner API v3). */
export const provisionBody = z
  .object({
    uuid: z.guid({ error: 'uuid must be a UUID' }),
    name: z.string().min(1).max(255).optional(),
    plan: z.string({ error: 'plan is required' }).min(1, { error: 'plan is required' }),
    region: z.string({ error: 'region is required' }).min(1, { error: 'region is required' }),
    callback_url: z.url({ error: 'callback_url must be a URL' }).nullish(),
    oauth_grant: z
      .object({
        code: z.string().min(1),
        expires_at: z.string().nullish(),
        type: z.string().nullish(),
      })
      .loose()
      .nullish(),
    // Customers' `-- --key value` flags; booleans arrive as "true", but be forgiving about JSON types.
    options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).nullish(),
    // Sent when the manifest requires `log_input`: where our lines join the app's log stream.
    log_input_url: z.url({ protocol: /^https?$/, error: 'log_input_url must be an http(s) URL' }).nullish(),
  })
  .loose();

/** Body of PUT /heroku/resources/:id. */
export const planChangeBody = z
  .object({
    plan: z.string({ error: 'plan is required' }).min(1, { error: 'plan is required' }),
  })
  .loose();

/** The resource id in the path: the uuid we returned as our id. */
export const resourceIdParam = z.guid({ error: 'the resource id must be a UUID' });
