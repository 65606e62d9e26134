import {Command, Flags} from '@oclif/core'

import {type BackendOptions, initRepository, openRepository, resolveLocation, resolvePassword, type RepositoryLocation} from '../backup/open.js'
import type {Repository} from '../backup/repository.js'
import type {ColdReadOptions} from '../backup/types.js'
import type {LifeboatConfig} from '../config/schema.js'
import {awsFlags} from './aws-flags.js'
import {BaseCommand} from './base-command.js'
import {askSecret, type PromptPolicy} from './prompt.js'

/** Flags shared by every `backup` command: where the repository is and how to get its password. */
export const repoFlags = {
  repo: Flags.string({
    char: 'r',
    description: 'Repository: a folder, or the name of a repository in the config (env LIFEBOAT_REPOSITORY, RESTIC_REPOSITORY; default $XDG_DATA_HOME/lifeboat/repo).',
    helpGroup: 'REPOSITORY',
  }),
  'password-file': Flags.string({description: 'File whose first line is the password (env LIFEBOAT_PASSWORD_FILE).', helpGroup: 'REPOSITORY'}),
  'password-command': Flags.string({description: 'Command that prints the password (run without a shell).', helpGroup: 'REPOSITORY'}),
  ...awsFlags,
  's3-path-style': Flags.boolean({description: 'S3: path-style requests (https://host/bucket/key); default on for s3:https://HOST locations.', helpGroup: 'S3', allowNo: true}),
  's3-connections': Flags.integer({description: 'S3: parallel connections (default 5).', min: 1, max: 128, helpGroup: 'S3'}),
  's3-storage-class': Flags.string({description: 'S3: storage class for data packs, e.g. STANDARD_IA (metadata and tree packs stay STANDARD).', helpGroup: 'S3'}),
  's3-sse': Flags.string({description: 'S3: server-side encryption.', options: ['aws:kms', 'AES256'], helpGroup: 'S3'}),
  's3-kms-key': Flags.string({description: 'S3: KMS key ID or ARN for --s3-sse aws:kms.', helpGroup: 'S3'}),
  cacert: Flags.string({description: 'S3: extra CA certificate (PEM) to trust for the endpoint (NODE_EXTRA_CA_CERTS works too).', helpGroup: 'S3'}),
}

/** Flags of the commands that read packs (restore, check --read-data): what to do about packs in cold storage. */
export const coldFlags = {
  'cold-tier': Flags.string({
    description: 'S3: retrieval tier for packs in Glacier / Deep Archive (Expedited: minutes, not for Deep Archive; Standard: hours; Bulk: cheapest).',
    options: ['Expedited', 'Standard', 'Bulk'],
    default: 'Standard',
    helpGroup: 'S3',
  }),
  wait: Flags.boolean({description: 'S3: wait until packs in cold storage are restored and readable (else exit 1, saying when to run again).', helpGroup: 'S3'}),
}

/** The cold-storage options of a command with coldFlags; progress of a wait goes to stderr. */
export function coldOptionsFrom(f: {'cold-tier'?: string; wait?: boolean}, log: (msg: string) => void): ColdReadOptions {
  let last = ''
  return {
    tier: (f['cold-tier'] ?? 'Standard') as ColdReadOptions['tier'],
    wait: Boolean(f.wait),
    argv: process.argv.slice(2),
    onProgress: (p) => {
      const line = `cold storage: ${p.ready}/${p.total} packs readable, ${p.pending} being restored`
      if (line !== last) log(line)
      last = line
    },
  }
}

type RepoFlagValues = {
  profile?: string
  region?: string
  's3-path-style'?: boolean
  's3-connections'?: number
  's3-storage-class'?: string
  's3-sse'?: string
  's3-kms-key'?: string
  cacert?: string
}

/** S3 settings: flags over the config's aws section. */
export function backendOptionsFrom(f: RepoFlagValues, config: LifeboatConfig): BackendOptions {
  const c = config.aws?.s3 ?? {}
  return {
    s3: {
      profile: f.profile ?? config.aws?.profile,
      region: f.region ?? config.aws?.region,
      pathStyle: f['s3-path-style'] ?? c.pathStyle,
      connections: f['s3-connections'] ?? c.connections,
      storageClass: f['s3-storage-class'] ?? c.storageClass,
      sse: (f['s3-sse'] ?? c.sse) as 'aws:kms' | 'AES256' | undefined,
      kmsKeyId: f['s3-kms-key'] ?? c.kmsKeyId,
      cacert: f.cacert ?? c.cacert,
    },
  }
}

/** Base of the backup commands: resolves the repository and its password the same way everywhere. */
export abstract class BackupCommand<T extends typeof Command> extends BaseCommand<T> {
  protected async location(): Promise<RepositoryLocation> {
    const {config} = await this.getConfig()
    return resolveLocation((this.flags as {repo?: string}).repo, config)
  }

  protected async backendOptions(): Promise<BackendOptions> {
    const {config} = await this.getConfig()
    return backendOptionsFrom(this.flags as RepoFlagValues, config)
  }

  protected passwordFn(loc: RepositoryLocation, confirm = false): () => Promise<string> {
    const f = this.flags as {'password-file'?: string; 'password-command'?: string}
    const policy = this.prompts
    return () =>
      resolvePassword({
        passwordFile: f['password-file'],
        passwordCommand: f['password-command'],
        entry: loc.entry,
        confirm,
        prompt: policy.interactive
          ? ({confirm: twice}) => askSecret(policy, {message: twice ? 'Password for the new repository' : `Password for ${loc.location}`, flag: '--password-file', confirm: twice})
          : undefined,
      })
  }

  protected async openRepo(): Promise<Repository> {
    const loc = await this.location()
    return openRepository({location: loc, password: this.passwordFn(loc), backend: await this.backendOptions()})
  }

  protected async initRepo(loc?: RepositoryLocation): Promise<Repository> {
    const l = loc ?? (await this.location())
    return initRepository({location: l, password: this.passwordFn(l, true), backend: await this.backendOptions()})
  }
}

/** A new password for `key add` / `key passwd`: from a file, else asked twice on a terminal. */
export async function newPassword(file: string | undefined, policy: PromptPolicy): Promise<string> {
  if (file) return resolvePassword({passwordFile: file, env: {}})
  return askSecret(policy, {message: 'New password', flag: '--new-password-file', confirm: true})
}
