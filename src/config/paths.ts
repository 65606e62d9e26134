import os from 'node:os'
import path from 'node:path'

/** XDG base directories (https://specifications.freedesktop.org/basedir-spec/), read at call time. */
export function xdgConfigHome(env: NodeJS.ProcessEnv = process.env): string {
  return nonEmpty(env.XDG_CONFIG_HOME) ?? path.join(homeDir(env), '.config')
}

export function xdgDataHome(env: NodeJS.ProcessEnv = process.env): string {
  return nonEmpty(env.XDG_DATA_HOME) ?? path.join(homeDir(env), '.local', 'share')
}

export function xdgStateHome(env: NodeJS.ProcessEnv = process.env): string {
  return nonEmpty(env.XDG_STATE_HOME) ?? path.join(homeDir(env), '.local', 'state')
}

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(xdgConfigHome(env), 'lifeboat', 'config.yaml')
}

/** The default local backup repository: `$XDG_DATA_HOME/lifeboat/repo`. */
export function defaultRepositoryPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(xdgDataHome(env), 'lifeboat', 'repo')
}

/** Expands a leading `~/`. */
export function expandHome(p: string, env: NodeJS.ProcessEnv = process.env): string {
  if (p === '~') return homeDir(env)
  if (p.startsWith('~/')) return path.join(homeDir(env), p.slice(2))
  return p
}

function homeDir(env: NodeJS.ProcessEnv): string {
  return nonEmpty(env.HOME) ?? os.homedir()
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v
}
