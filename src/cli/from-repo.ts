import {Flags} from '@oclif/core'

import {resolveFromLocation, resolveFromPassword, type RepositoryLocation} from '../backup/open.js'
import type {LifeboatConfig} from '../config/schema.js'
import {askSecret, type PromptPolicy} from './prompt.js'

/** Flags naming the source repository of `backup copy` and `backup init --copy-chunker-params`. */
export const fromRepoFlags = {
  'from-repo': Flags.string({
    description: 'Source repository to read from: a folder, or the name of a repository in the config (env LIFEBOAT_FROM_REPOSITORY, RESTIC_FROM_REPOSITORY).',
    helpGroup: 'SOURCE REPOSITORY',
  }),
  'from-password-file': Flags.string({
    description: "File whose first line is the source repository's password (env LIFEBOAT_FROM_PASSWORD_FILE, RESTIC_FROM_PASSWORD_FILE).",
    helpGroup: 'SOURCE REPOSITORY',
  }),
  'from-password-command': Flags.string({
    description: "Command that prints the source repository's password (run without a shell).",
    helpGroup: 'SOURCE REPOSITORY',
  }),
}

export interface FromRepoFlagValues {
  'from-repo'?: string
  'from-password-file'?: string
  'from-password-command'?: string
}

/** Where the source repository is and how to get its password (a prompt only when the policy allows one). */
export function fromRepository(
  flags: FromRepoFlagValues,
  config: LifeboatConfig,
  policy: PromptPolicy,
): {location: RepositoryLocation; password: () => Promise<string>} {
  const location = resolveFromLocation(flags['from-repo'], config)
  return {
    location,
    password: () =>
      resolveFromPassword({
        passwordFile: flags['from-password-file'],
        passwordCommand: flags['from-password-command'],
        entry: location.entry,
        prompt: policy.interactive
          ? () => askSecret(policy, {message: `Password for the source repository ${location.location}`, flag: '--from-password-file'})
          : undefined,
      }),
  }
}
