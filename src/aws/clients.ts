import {fromIni, fromNodeProviderChain} from '@aws-sdk/credential-providers'

/**
 * The one place AWS SDK clients are made. Credentials come from the SDK's default chain (or --profile);
 * the region from --region, config, or the SDK's own settings. Endpoints are never set here: the SDK's
 * AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> settings (and config files) point it at compatible services.
 */
export interface AwsOptions {
  profile?: string
  region?: string
}

type ClientCtor<C> = new (config: any) => C

export function makeAwsClient<C>(Ctor: ClientCtor<C>, opts: AwsOptions = {}): C {
  const credentials = opts.profile ? fromIni({profile: opts.profile}) : fromNodeProviderChain()
  return new Ctor({region: opts.region, credentials, maxAttempts: 5})
}

/** Merges flags over config (flags win). */
export function resolveAws(flags: AwsOptions, config?: {profile?: string; region?: string}): AwsOptions {
  return {profile: flags.profile ?? config?.profile, region: flags.region ?? config?.region}
}
