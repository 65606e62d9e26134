import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import {execFileSync, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {parseConfigText} from '../../src/config/parse.js'
import {ConfigError} from '../../src/errors.js'
import {ROOT, isolateEnv} from '../helpers/env.js'

describe('config', () => {
  let env: ReturnType<typeof isolateEnv>
  beforeEach(() => {
    env = isolateEnv()
  })
  afterEach(() => env.restore())

  it('validate names file:line:column, the field path and the expected shape, exit 2', async () => {
    const file = path.join(env.dir, 'bad.yaml')
    fs.writeFileSync(file, ['repositories:', '  home:', '    location: /srv/repo', '    compresion: max', 'aws:', '  region: "Frankfurt"', ''].join('\n'))
    const {stderr, error} = await runCommand(['config', 'validate', file], {root: ROOT})
    expect(error?.oclif?.exit).to.equal(2)
    expect(stderr).to.contain(`${file}:4:5: repositories.home.compresion: unknown field "compresion"`)
    expect(stderr).to.contain(`${file}:6:11: aws.region:`)
    expect(stderr).to.contain('an AWS region such as eu-west-1')
  })

  it('a YAML syntax error carries its position', () => {
    try {
      parseConfigText('aws:\n  region: [unclosed\n', '/x/c.yaml')
      expect.fail('should throw')
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError)
      expect((error as ConfigError).where).to.match(/^\/x\/c\.yaml:\d+:\d+$/)
    }
  })

  it('a missing required field is named with its parent position', () => {
    try {
      parseConfigText('repositories:\n  home:\n    passwordFile: /p\n', 'c.yaml')
      expect.fail('should throw')
    } catch (error) {
      const issues = (error as ConfigError).issues
      expect(issues[0].path).to.equal('repositories.home.location')
      expect(issues[0].message).to.contain('required')
      expect(issues[0].line).to.equal(2) // the "home:" key that lacks it
    }
  })

  it('show redacts secrets and applies LIFEBOAT_* env over the file', async () => {
    const file = path.join(env.dir, 'config', 'lifeboat', 'config.yaml')
    fs.mkdirSync(path.dirname(file), {recursive: true})
    fs.writeFileSync(
      file,
      'aws:\n  region: eu-west-1\nrepositories:\n  default:\n    location: /srv/r\n    password: hunter2-secret\nnotifications:\n  sinks:\n    - name: hook\n      type: webhook\n      url: https://example.org/h\n      secret: s3cr3t-value\n',
    )
    process.env.LIFEBOAT_AWS_REGION = 'us-east-2'
    const {stdout} = await runCommand(['config', 'show', '--json'], {root: ROOT})
    delete process.env.LIFEBOAT_AWS_REGION
    expect(stdout).not.to.contain('hunter2-secret')
    expect(stdout).not.to.contain('s3cr3t-value')
    const out = JSON.parse(stdout)
    expect(out.result.config.repositories.default.password).to.equal('***')
    expect(out.result.config.aws.region).to.equal('us-east-2')
  })

  it('init without a terminal and without --repo exits 2 naming the flag, writing nothing', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'config', 'init'], {
      env: {...process.env},
      input: '',
      encoding: 'utf8',
    })
    expect(r.status).to.equal(2)
    expect(r.stderr).to.contain('--repo')
    expect(r.stderr).to.match(/not prompting because (stdin is not a terminal|CI is set)/)
    expect(fs.existsSync(path.join(env.dir, 'config', 'lifeboat', 'config.yaml'))).to.equal(false)
  })

  it('init with flags writes a file that validates, and refuses to overwrite it', async () => {
    const out = path.join(env.dir, 'lb.yaml')
    const first = await runCommand(['config', 'init', '--repo', '/srv/backup', '--region', 'eu-central-1', '--output', out, '--no-input'], {root: ROOT})
    expect(first.error).to.equal(undefined)
    const parsed = parseConfigText(fs.readFileSync(out, 'utf8'), out)
    expect(parsed.repositories?.default.location).to.equal('/srv/backup')
    expect(parsed.aws?.region).to.equal('eu-central-1')
    expect(fs.statSync(out).mode & 0o777).to.equal(0o600)
    const again = await runCommand(['config', 'init', '--repo', '/elsewhere', '--output', out, '--no-input'], {root: ROOT})
    expect(again.error?.oclif?.exit).to.equal(2)
    expect(fs.readFileSync(out, 'utf8')).to.contain('/srv/backup')
  })

  it('init in a real terminal asks the questions and writes the answers', function () {
    this.timeout(60_000)
    const out = path.join(env.dir, 'wizard.yaml')
    const spec = path.join(env.dir, 'spec.json')
    fs.writeFileSync(
      spec,
      JSON.stringify({
        argv: [process.execPath, path.join(ROOT, 'bin', 'run.js'), 'config', 'init', '--output', out],
        env: {XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME, XDG_DATA_HOME: process.env.XDG_DATA_HOME},
        timeout: 40,
        steps: [
          {expect: 'Backup repository location', send: '\u0015/mnt/raid/repo\r'},
          {expect: 'Password file', send: '/etc/lifeboat/pw\r'},
          {expect: 'AWS region', send: 'eu-north-1\r'},
          {expect: 'AWS profile', send: '\r'},
          {expect: 'RAID engine', send: '\u001B[B\r'},
        ],
      }),
    )
    let transcript: string
    try {
      transcript = execFileSync('python3', [path.join(ROOT, 'test', 'helpers', 'pty-driver.py'), spec], {encoding: 'utf8'})
    } catch (error: any) {
      throw new Error(`wizard failed (exit ${error.status}):\n${error.stdout}`)
    }
    expect(transcript).to.contain(`wrote ${out}`)
    const parsed = parseConfigText(fs.readFileSync(out, 'utf8'), out)
    expect(parsed.repositories?.default).to.deep.equal({location: '/mnt/raid/repo', passwordFile: '/etc/lifeboat/pw'})
    expect(parsed.aws).to.deep.equal({region: 'eu-north-1'})
    expect(parsed.raid).to.deep.equal({engine: 'md'})
  })
})
