/** Short region names (manifest `api.regions`, app regions) → the full names Heroku sends in provision requests. */
const REGIONS: Record<string, string> = {
  us: 'amazon-web-services::us-east-1',
  virginia: 'amazon-web-services::us-east-1',
  eu: 'amazon-web-services::eu-west-1',
  dublin: 'amazon-web-services::eu-west-1',
  oregon: 'amazon-web-services::us-west-2',
  frankfurt: 'amazon-web-services::eu-central-1',
  tokyo: 'amazon-web-services::ap-northeast-1',
  sydney: 'amazon-web-services::ap-southeast-2',
};

/** `us` → `amazon-web-services::us-east-1`; a full `provider::region` passes through. */
export function fullRegion(region: string): string {
  if (region.includes('::')) return region;
  const full = REGIONS[region];
  if (!full)
    throw new Error(
      `simulator: unknown region ${region} (use one of ${Object.keys(REGIONS).join(', ')} or provider::region)`,
    );
  return full;
}

/** The short name for an app's region (`amazon-web-services::eu-west-1` → `eu`). */
export function shortRegion(region: string): string {
  if (!region.includes('::')) return region;
  return Object.entries(REGIONS).find(([, full]) => full === region)?.[0] ?? region;
}
