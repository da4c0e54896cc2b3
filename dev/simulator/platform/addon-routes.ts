import express, { Router } from 'express';
import { markDeprovisioned, markProvisioned } from '../addon-lifecycle.ts';
import { canonicalConfigName, configVarProblems } from '../config-rules.ts';
import type { SimContext } from '../context.ts';
import { principal } from '../http/authenticate.ts';
import { invalidParams } from '../http/errors.ts';
import { writeAddonConfig } from '../state/addon-config.ts';
import { loadAddon, requireAddonRead, requirePartner, requireProtectedScope, isPartnerOf } from './access.ts';
import { addonConfigJson, addonJson } from './serialize.ts';

/** `/addons/...`: the add-on endpoints a partner token may use (contract §4.2). Mount behind authenticate. */
export function addonRoutes(ctx: SimContext): Router {
  const router = Router();

  router.get('/addons', (_req, res) => {
    const p = principal(res);
    const visible = [...ctx.store.addons.values()].filter((addon) => {
      if (addon.state === 'deprovisioned') return false;
      if (p.authorization.kind === 'partner') return isPartnerOf(p, addon);
      try {
        requireAddonRead(ctx, p, addon);
        return true;
      } catch {
        return false;
      }
    });
    res.json(visible.map((addon) => addonJson(ctx, addon)));
  });

  router.get('/addons/:addon', (req, res) => {
    const addon = loadAddon(ctx, req.params.addon);
    requireAddonRead(ctx, principal(res), addon);
    res.json(addonJson(ctx, addon));
  });

  router.get('/addons/:addon/config', (req, res) => {
    const addon = loadAddon(ctx, req.params.addon);
    const p = principal(res);
    requireAddonRead(ctx, p, addon);
    requireProtectedScope(p);
    res.json(addonConfigJson(addon));
  });

  router.patch('/addons/:addon/config', express.json(), (req, res) => {
    const addon = loadAddon(ctx, req.params.addon);
    requirePartner(principal(res), addon);
    const changes = parseConfigPatch(ctx, req.body);
    // While provisioning the vars land on the app without a release; the app restarts once, at actions/provision.
    writeAddonConfig(ctx.store, addon, changes, ctx.options.addon.configVarsPrefix, {
      release: addon.state === 'provisioned',
      description: `Update ${ctx.options.addon.configVarsPrefix} by ${ctx.options.addon.id}`,
      now: ctx.now(),
    });
    res.json(addonConfigJson(addon));
  });

  router.post('/addons/:addon/actions/provision', (req, res) => {
    const addon = loadAddon(ctx, req.params.addon);
    requirePartner(principal(res), addon);
    markProvisioned(ctx, addon, `Attach ${addon.name} add-on`);
    res.json(addonJson(ctx, addon));
  });

  router.post('/addons/:addon/actions/deprovision', (req, res) => {
    const addon = loadAddon(ctx, req.params.addon);
    requirePartner(principal(res), addon);
    const failed = addon.state === 'provisioning';
    markDeprovisioned(
      ctx,
      addon,
      failed ? { failure: 'the provider marked the add-on deprovisioned while provisioning' } : {},
    );
    res.json(addonJson(ctx, addon));
  });

  return router;
}

/** Validates `{config: [{name, value}]}`; names may be bare (`URL`) or prefixed; null removes a var. */
function parseConfigPatch(ctx: SimContext, body: unknown): Record<string, string | null> {
  const manifest = ctx.options.addon;
  const list = (body as { config?: unknown } | undefined)?.config;
  if (!Array.isArray(list)) throw invalidParams('Body must be {"config": [{"name": ..., "value": ...}]}.');
  const changes: Record<string, string | null> = {};
  const problems: string[] = [];
  for (const entry of list as unknown[]) {
    const { name, value } = (entry ?? {}) as { name?: unknown; value?: unknown };
    if (typeof name !== 'string' || name === '') {
      problems.push('every entry needs a string name');
      continue;
    }
    const canonical = canonicalConfigName(name, manifest.configVarsPrefix);
    if (value === null) {
      if (!manifest.configVars.includes(canonical))
        problems.push(`${canonical} is not declared in the manifest's config_vars`);
      changes[canonical] = null;
      continue;
    }
    problems.push(...configVarProblems(canonical, value, manifest));
    changes[canonical] = value as string;
  }
  if (problems.length > 0) throw invalidParams(`Invalid config: ${problems.join('; ')}.`);
  return changes;
}
