import {Command, Flags} from '@oclif/core'

import {initRepository, openRepository, resolveLocation, resolvePassword, type RepositoryLocation} from '../backup/open.js'
import type {Repository} from '../backup/repository.js'
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
}

/** Base of the backup commands: resolves the repository and its password the same way everywhere. */
export abstract class BackupCommand<T extends typeof Command> extends BaseCommand<T> {
  protected async location(): Promise<RepositoryLocation> {
    const {config} = await this.getConfig()
    return resolveLocation((this.flags as {repo?: string}).repo, config)
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
    return openRepository({location: loc, password: this.passwordFn(loc)})
  }

  protected async initRepo(loc?: RepositoryLocation): Promise<Repository> {
    const l = loc ?? (await this.location())
    return initRepository({location: l, password: this.passwordFn(l, true)})
  }
}

/** A new password for `key add` / `key passwd`: from a file, else asked twice on a terminal. */
export async function newPassword(file: string | undefined, policy: PromptPolicy): Promise<string> {
  if (file) return resolvePassword({passwordFile: file, env: {}})
  return askSecret(policy, {message: 'New password', flag: '--new-password-file', confirm: true})
}
