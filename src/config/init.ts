import fs from 'node:fs/promises'
import path from 'node:path'
import {stringify} from 'yaml'

import {LifeboatError} from '../errors.js'
import {writeFileAtomic} from '../fsutil.js'
import {parseConfigText} from './parse.js'

export interface InitAnswers {
  repository: string
  passwordFile?: string
  awsRegion?: string
  awsProfile?: string
  raidEngine?: 'md' | 'btrfs'
}

/** The commented YAML of a new config file. It is validated against the schema before it is returned. */
export function renderConfig(a: InitAnswers, file = 'config.yaml'): string {
  const repo: Record<string, string> = {location: a.repository}
  if (a.passwordFile) repo.passwordFile = a.passwordFile
  const parts: string[] = [
    '# Lifeboat configuration. Precedence: command-line flags > LIFEBOAT_* environment > this file > defaults.',
    '# Secrets do not belong here: use passwordFile / passwordCommand, or LIFEBOAT_PASSWORD in the environment.',
    '',
    '# Backup repositories; `default` is used when --repo is not given.',
    stringify({defaultRepository: 'default', repositories: {default: repo}}).trimEnd(),
  ]
  if (a.raidEngine) parts.push('', '# Software RAID: which engine new arrays use.', stringify({raid: {engine: a.raidEngine}}).trimEnd())
  if (a.awsRegion || a.awsProfile) {
    const aws: Record<string, string> = {}
    if (a.awsProfile) aws.profile = a.awsProfile
    if (a.awsRegion) aws.region = a.awsRegion
    parts.push('', '# AWS: credentials come from the SDK chain (this profile, or AWS_PROFILE, env keys, …).', stringify({aws}).trimEnd())
  }
  const text = parts.join('\n') + '\n'
  parseConfigText(text, file) // never write a file that would not load
  return text
}

/** Writes the file atomically (temp + rename), mode 0600; refuses to overwrite unless `force`. */
export async function writeConfigFile(file: string, text: string, force: boolean): Promise<void> {
  if (!force) {
    const exists = await fs.stat(file).then(
      () => true,
      () => false,
    )
    if (exists) {
      throw new LifeboatError(`${file} already exists; nothing was written`, {
        code: 'CONFIG_EXISTS',
        exitCode: 2,
        where: file,
        hint: 'pass --force to replace it, or --output to write elsewhere',
      })
    }
  }
  await fs.mkdir(path.dirname(file), {recursive: true, mode: 0o700})
  await writeFileAtomic(file, text)
}
