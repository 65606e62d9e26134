import {Flags} from '@oclif/core'

/** The shared --profile / --region flags for every AWS-using command (see src/aws/clients.ts). */
export const awsFlags = {
  profile: Flags.string({description: 'AWS profile from ~/.aws/config (default: the SDK chain, AWS_PROFILE).', helpGroup: 'AWS'}),
  region: Flags.string({description: 'AWS region (default: config aws.region, then AWS_REGION / the profile).', helpGroup: 'AWS'}),
}
