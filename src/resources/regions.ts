/**
 * Heroku regions we store archives in. Heroku sends `amazon-web-services::<aws region>`; the manifest
 * lists the short names. Archives stay in the customer's region, so an unsupported one is refused
 * rather than silently stored elsewhere.
 */
const SUPPORTED: Readonly<Record<string, string>> = {
  'amazon-web-services::us-east-1': 'us',
  'amazon-web-services::eu-west-1': 'eu',
  us: 'us',
  eu: 'eu',
};

/** The short region name for a Heroku region string, or undefined when we do not serve it. */
export function supportedRegion(region: string): string | undefined {
  return SUPPORTED[region];
}

/** Customer-facing list for refusals. */
export const SUPPORTED_REGIONS_TEXT = 'the Common Runtime US (us) and Europe (eu) regions';
