import {
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  PutBucketLifecycleConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {type AwsClientStub, mockClient} from 'aws-sdk-client-mock'
import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import S3LifecycleApply from '../../src/commands/s3/lifecycle/apply.js'
import S3LifecyclePlan from '../../src/commands/s3/lifecycle/plan.js'
import S3LifecycleRemove from '../../src/commands/s3/lifecycle/remove.js'
import S3LifecycleShow from '../../src/commands/s3/lifecycle/show.js'
import {commandTestHooks, runCmd, s3Error} from './helpers.js'

let s3: AwsClientStub<S3Client>

/** A bucket's lifecycle configuration as S3 keeps it: Get answers what the last Put stored, or NoSuchLifecycleConfiguration. */
class FakeBucket {
  rules?: LifecycleRule[]
  minSize?: string
  puts: any[] = []
  deletes = 0
  /** How the server stores a Put (default: as sent). */
  store: (rules: LifecycleRule[]) => LifecycleRule[] = (r) => r
  /** Gets that still answer the old configuration after a write (S3 propagates with a delay). */
  staleReads = 0
  /** Stale reads after each write. */
  staleAfterPut = 0
  private old?: LifecycleRule[]

  install(): void {
    s3.on(GetBucketLifecycleConfigurationCommand).callsFake(() => {
      const rules = this.staleReads > 0 ? (this.staleReads--, this.old) : this.rules
      if (!rules) throw s3Error('NoSuchLifecycleConfiguration', 404, 'The lifecycle configuration does not exist')
      return {Rules: structuredClone(rules), TransitionDefaultMinimumObjectSize: this.minSize ?? 'all_storage_classes_128K'}
    })
    s3.on(PutBucketLifecycleConfigurationCommand).callsFake((input) => {
      this.puts.push(structuredClone(input))
      this.old = this.rules
      this.staleReads = this.staleAfterPut
      this.rules = this.store(structuredClone(input.LifecycleConfiguration.Rules))
      if (input.TransitionDefaultMinimumObjectSize) this.minSize = input.TransitionDefaultMinimumObjectSize
      return {TransitionDefaultMinimumObjectSize: this.minSize ?? 'all_storage_classes_128K'}
    })
    s3.on(DeleteBucketLifecycleCommand).callsFake(() => {
      this.deletes++
      this.old = this.rules
      this.rules = undefined
      return {}
    })
  }
}

/** Which objects a rule's filter selects, with S3's semantics (prefix AND every tag AND sizes). */
function ruleMatches(rule: LifecycleRule, key: string, tags: Record<string, string>): boolean {
  const f = rule.Filter ?? {}
  const prefix = f.And?.Prefix ?? f.Prefix ?? ''
  const wantTags = [...(f.Tag ? [f.Tag] : []), ...(f.And?.Tags ?? [])]
  return key.startsWith(prefix) && wantTags.every((t) => tags[t.Key!] === t.Value)
}

const PRESET = ['--bucket', 'my-backups', '--preset', 'backup-repo', '--prefix', 'hosts/pi', '--cold-after', '30', '--cold-class', 'DEEP_ARCHIVE']

describe('s3 lifecycle', () => {
  // Mocked only while this file's tests run: other files (the S3 backend, over real HTTP) need the real client.
  before(() => {
    s3 = mockClient(S3Client)
  })
  after(() => s3.restore())

  let bucket: FakeBucket
  const hooks = commandTestHooks(() => {
    s3.reset()
    bucket = new FakeBucket()
    bucket.install()
  })

  it('backup-repo preset: writes exactly the data-pack transition (prefix AND tag) and the multipart abort, then verifies', async () => {
    const r = await runCmd(S3LifecycleApply, [...PRESET, '--yes', '--json'])
    expect(r.code, r.stdout + r.stderr).to.equal(0)
    expect(bucket.puts).to.have.length(1)
    expect(bucket.puts[0]).to.deep.equal({
      Bucket: 'my-backups',
      LifecycleConfiguration: {
        Rules: [
          {
            ID: 'lifeboat-cold-data hosts/pi',
            Status: 'Enabled',
            Filter: {And: {Prefix: 'hosts/pi/data/', Tags: [{Key: 'lifeboat-pack', Value: 'data'}]}},
            Transitions: [{Days: 30, StorageClass: 'DEEP_ARCHIVE'}],
          },
          {ID: 'lifeboat-abort-uploads hosts/pi', Status: 'Enabled', Filter: {Prefix: 'hosts/pi/'}, AbortIncompleteMultipartUpload: {DaysAfterInitiation: 7}},
        ],
      },
    })
    // read back after the write
    expect(s3.commandCalls(GetBucketLifecycleConfigurationCommand)).to.have.length(2)
    expect(r.json.result.applied).to.deep.equal({written: 'put', verified: true, verifyReads: 1})
    expect(r.json.result.changes.map((c: any) => [c.action, c.id])).to.deep.equal([
      ['add', 'lifeboat-cold-data hosts/pi'],
      ['add', 'lifeboat-abort-uploads hosts/pi'],
    ])

    // Only data packs of this repository ever move to cold storage.
    const cold = bucket.puts[0].LifecycleConfiguration.Rules[0] as LifecycleRule
    const objects: Array<[string, Record<string, string>, boolean]> = [
      ['hosts/pi/config', {}, false],
      ['hosts/pi/keys/5f1b', {}, false],
      ['hosts/pi/index/9a0c', {}, false],
      ['hosts/pi/snapshots/77de', {}, false],
      ['hosts/pi/locks/0e4f', {}, false],
      ['hosts/pi/data/3c/3c81aa', {'lifeboat-pack': 'tree'}, false],
      ['hosts/pi/data/3c/3c81ab', {'lifeboat-pack': 'data'}, true],
      ['hosts/other/data/3c/3c81ab', {'lifeboat-pack': 'data'}, false],
      ['hosts/pi/data/3c/untagged', {}, false],
    ]
    for (const [key, tags, moves] of objects) expect(ruleMatches(cold, key, tags), key).to.equal(moves)
  })

  it('apply is idempotent: a second run with the same rules writes nothing', async () => {
    expect((await runCmd(S3LifecycleApply, [...PRESET, '--yes'])).code).to.equal(0)
    const again = await runCmd(S3LifecycleApply, [...PRESET, '--yes'])
    expect(again.code).to.equal(0)
    expect(again.stdout).to.contain('no changes: the bucket already has these rules')
    expect(bucket.puts).to.have.length(1)
    expect(s3.commandCalls(DeleteBucketLifecycleCommand)).to.have.length(0)
  })

  it('plan shows rules added, changed field by field, kept and (with --replace) removed, and writes nothing', async () => {
    bucket.rules = [
      {ID: 'logs-expire', Status: 'Enabled', Filter: {Prefix: 'logs/'}, Expiration: {Days: 90}},
      {
        ID: 'lifeboat-cold-data hosts/pi',
        Status: 'Enabled',
        Filter: {And: {Prefix: 'hosts/pi/data/', Tags: [{Key: 'lifeboat-pack', Value: 'data'}]}},
        Transitions: [{Days: 30, StorageClass: 'GLACIER'}],
      },
    ]
    const args = ['--bucket', 'my-backups', '--preset', 'backup-repo', '--prefix', 'hosts/pi', '--cold-after', '120', '--cold-class', 'DEEP_ARCHIVE']
    const r = await runCmd(S3LifecyclePlan, args)
    expect(r.code, r.stderr).to.equal(0)
    const out = r.stdout
    expect(out).to.match(/= keep\s+logs-expire/)
    expect(out).to.match(/~ change\s+lifeboat-cold-data hosts\/pi\n\s+~ transitions\[0\]\.days: 30 → 120\n\s+~ transitions\[0\]\.storageClass: GLACIER → DEEP_ARCHIVE\n/)
    expect(out).to.match(/\+ add\s+lifeboat-abort-uploads hosts\/pi\n\s+\+ enabled: true\n\s+\+ prefix: hosts\/pi\/\n/)
    expect(out).to.contain('+ abortIncompleteMultipartUploadDays: 7')
    expect(out).to.contain('1 to add, 1 to change, 0 to remove, 1 unchanged')

    const replaced = await runCmd(S3LifecyclePlan, [...args, '--replace', '--json'])
    const changes = replaced.json.result.changes
    expect(changes.find((c: any) => c.id === 'logs-expire')).to.deep.include({action: 'remove'})
    expect(changes.find((c: any) => c.id === 'logs-expire').fields).to.deep.include({path: 'expiration.days', from: 90})
    expect(bucket.puts).to.have.length(0)
  })

  it('apply keeps rules the file does not name exactly as the bucket returned them, and the minimum-size setting', async () => {
    const logs = {ID: 'logs-expire', Status: 'Enabled', Filter: {Prefix: 'logs/'}, Expiration: {Days: 90}, Transitions: [{Date: new Date('2030-01-01T00:00:00Z'), StorageClass: 'GLACIER'}]}
    bucket.rules = [logs as LifecycleRule]
    bucket.minSize = 'varies_by_storage_class'
    const r = await runCmd(S3LifecycleApply, [...PRESET, '--yes', '--json'])
    expect(r.code, r.stdout).to.equal(0)
    const put = bucket.puts[0]
    expect(put.LifecycleConfiguration.Rules[0]).to.deep.equal(logs)
    expect(put.LifecycleConfiguration.Rules).to.have.length(3)
    expect(put.TransitionDefaultMinimumObjectSize).to.equal('varies_by_storage_class')
  })

  it('--replace with no wanted rule left deletes the configuration instead of writing an empty one', async () => {
    bucket.rules = [{ID: 'old', Status: 'Enabled', Filter: {Prefix: 'x/'}, Expiration: {Days: 9}}]
    const file = path.join(hooks.dir(), 'empty.yaml')
    fs.writeFileSync(file, 'rules: []\n')
    const r = await runCmd(S3LifecycleApply, ['--bucket', 'my-backups', '-f', file, '--replace', '--yes', '--json'])
    expect(r.code, r.stdout).to.equal(0)
    expect(r.json.result.applied.written).to.equal('delete')
    expect(bucket.puts).to.have.length(0)
    expect(bucket.deletes).to.equal(1)
  })

  it('verify after apply: waits out a stale read, and fails (exit 1) when the bucket holds something else than written', async () => {
    bucket.staleAfterPut = 1
    const ok = await runCmd(S3LifecycleApply, [...PRESET, '--yes', '--json'])
    expect(ok.code).to.equal(0)
    expect(ok.json.result.applied.verifyReads).to.equal(2)
    expect(hooks.sleeps()).to.have.length(1)

    // A server that drops the tag condition from And filters would move tree packs and everything else too.
    s3.reset()
    bucket = new FakeBucket()
    bucket.store = (rules) =>
      rules.map((r) => (r.Filter?.And ? {...r, Filter: {Prefix: r.Filter.And.Prefix}} : r))
    bucket.install()
    const bad = await runCmd(S3LifecycleApply, [...PRESET, '--yes', '--json'])
    expect(bad.code).to.equal(1)
    expect(bad.json.error.code).to.equal('S3_VERIFY_FAILED')
    expect(bad.json.error.message).to.contain('rule "lifeboat-cold-data hosts/pi": tags.lifeboat-pack: expected "data", found (none)')
    expect(s3.commandCalls(GetBucketLifecycleConfigurationCommand)).to.have.length(1 + 5)
  })

  it('in a script without --yes, apply exits 2 naming --yes and writes nothing; --dry-run prints the plan only', async () => {
    const r = await runCmd(S3LifecycleApply, PRESET)
    expect(r.code).to.equal(2)
    expect(r.stderr).to.contain('pass --yes')
    expect(r.stdout).to.match(/\+ add\s+lifeboat-cold-data hosts\/pi\n\s+\+ enabled: true\n\s+\+ prefix: hosts\/pi\/data\/\n\s+\+ tags\.lifeboat-pack: data\n/)
    const dry = await runCmd(S3LifecycleApply, [...PRESET, '--dry-run', '--json'])
    expect(dry.code).to.equal(0)
    expect(dry.json.result).to.deep.include({dryRun: true, applied: null, changed: true})
    expect(dry.json.result.write.rules[0].Filter.And.Prefix).to.equal('hosts/pi/data/')
    expect(bucket.puts).to.have.length(0)
  })

  it('rules files: every broken rule is reported at file:line (exit 2) and nothing is read or written', async () => {
    const file = path.join(hooks.dir(), 'rules.yaml')
    const text = [
      'rules:', //                                   1
      '  - id: to-ia', //                            2
      '    prefix: logs/', //                        3
      '    transitions:', //                         4
      '      - days: 10', //                         5
      '        storageClass: STANDARD_IA', //        6
      '  - id: deep', //                             7
      '    transitions:', //                         8
      '      - days: 30', //                         9
      '        storageClass: GLACIER', //            10
      '      - days: 60', //                         11
      '        storageClass: DEEP_ARCHIVE', //       12
      '    expiration:', //                          13
      '      days: 45', //                           14
      '  - id: bad-class', //                        15
      '    transitions:', //                         16
      '      - days: 0', //                          17
      '        storageClass: glacier', //            18
      '  - id: abort-tags', //                       19
      '    tags: {"aws:x": v}', //                   20
      '    abortIncompleteMultipartUploadDays: 7', //21
      '  - id: to-ia', //                            22
      '    expiration: {days: 3}', //                23
    ].join('\n')
    fs.writeFileSync(file, text + '\n')
    const r = await runCmd(S3LifecycleApply, ['--bucket', 'my-backups', '-f', file, '--yes', '--json'])
    expect(r.code).to.equal(2)
    const e = r.json.error
    expect(e.code).to.equal('CONFIG_INVALID')
    expect(e.where).to.equal(`${file}:5:15`)
    const msg: string = e.message
    expect(msg).to.contain(`${file}:5:15: rules[0].transitions[0].days: AWS requires at least 30 days before a transition to STANDARD_IA`)
    expect(msg).to.contain(`${file}:11:15: rules[1].transitions[1].days: must be at least 90 days after the transition to GLACIER (day 30)`)
    expect(msg).to.contain(`${file}:14:13: rules[1].expiration.days: must be later than the last transition (DEEP_ARCHIVE after 60 days)`)
    expect(msg).to.match(new RegExp(`${file}:18:23: rules\\[2\\]\\.transitions\\[0\\]\\.storageClass: storage class "glacier" is not a transition target; use one of the exact AWS names: STANDARD_IA, .*DEEP_ARCHIVE`))
    expect(msg).to.contain(`${file}:20:21: rules[3].tags.aws:x: tag keys starting with "aws:" are reserved by AWS`)
    expect(msg).to.contain(`${file}:21:41: rules[3].abortIncompleteMultipartUploadDays: AWS does not allow abortIncompleteMultipartUploadDays in a rule filtered by tags`)
    expect(msg).to.contain(`${file}:22:9: rules[4].id: rule id "to-ia" is used twice (also rules[0])`)
    expect(s3.calls()).to.have.length(0)
  })

  it('a valid rules file: transitions, expiration, noncurrent versions map to the AWS shape', async () => {
    const file = path.join(hooks.dir(), 'good.yaml')
    fs.writeFileSync(
      file,
      `rules:
  - id: archive
    prefix: archive/
    tags: {team: ops, keep: "yes"}
    transitions:
      - {days: 150, storageClass: DEEP_ARCHIVE}
      - {days: 30, storageClass: STANDARD_IA}
      - {days: 60, storageClass: GLACIER}
    expiration: {days: 400}
    noncurrentVersionTransitions:
      - {days: 30, storageClass: GLACIER, newerNoncurrentVersions: 2}
    noncurrentVersionExpiration: {days: 365}
  - id: whole-bucket-abort
    abortIncompleteMultipartUploadDays: 3
`,
    )
    const r = await runCmd(S3LifecycleApply, ['--bucket', 'my-backups', '-f', file, '--yes', '--json'])
    expect(r.code, r.stdout).to.equal(0)
    expect(bucket.puts[0].LifecycleConfiguration.Rules).to.deep.equal([
      {
        ID: 'archive',
        Status: 'Enabled',
        Filter: {And: {Prefix: 'archive/', Tags: [{Key: 'keep', Value: 'yes'}, {Key: 'team', Value: 'ops'}]}},
        Transitions: [
          {Days: 30, StorageClass: 'STANDARD_IA'},
          {Days: 60, StorageClass: 'GLACIER'},
          {Days: 150, StorageClass: 'DEEP_ARCHIVE'},
        ],
        Expiration: {Days: 400},
        NoncurrentVersionTransitions: [{NoncurrentDays: 30, StorageClass: 'GLACIER', NewerNoncurrentVersions: 2}],
        NoncurrentVersionExpiration: {NoncurrentDays: 365},
      },
      {ID: 'whole-bucket-abort', Status: 'Enabled', Filter: {Prefix: ''}, AbortIncompleteMultipartUpload: {DaysAfterInitiation: 3}},
    ])
  })

  it('one rule by flags: same shape and the same checks as a file, errors naming the flag', async () => {
    const base = ['--bucket', 'my-logs', '--rule-id', 'logs', '--filter-prefix', 'logs/', '--tag', 'team=ops']
    const r = await runCmd(S3LifecycleApply, [...base, '--transition', '30:STANDARD_IA', '--transition', '120:GLACIER', '--expire-days', '400', '--yes', '--json'])
    expect(r.code, r.stdout).to.equal(0)
    expect(bucket.puts[0].LifecycleConfiguration.Rules).to.deep.equal([
      {
        ID: 'logs',
        Status: 'Enabled',
        Filter: {And: {Prefix: 'logs/', Tags: [{Key: 'team', Value: 'ops'}]}},
        Transitions: [
          {Days: 30, StorageClass: 'STANDARD_IA'},
          {Days: 120, StorageClass: 'GLACIER'},
        ],
        Expiration: {Days: 400},
      },
    ])
    const early = await runCmd(S3LifecyclePlan, [...base, '--transition', '30:STANDARD_IA', '--transition', '45:GLACIER'])
    expect(early.code).to.equal(2)
    expect(early.stderr).to.contain('--transition 45:GLACIER: must be at least 30 days after the transition to STANDARD_IA (day 30)')
    const abortWithTag = await runCmd(S3LifecyclePlan, [...base, '--abort-uploads-days', '7'])
    expect(abortWithTag.code).to.equal(2)
    expect(abortWithTag.stderr).to.contain('--abort-uploads-days: AWS does not allow abortIncompleteMultipartUploadDays in a rule filtered by tags')
    const noId = await runCmd(S3LifecyclePlan, ['--bucket', 'my-logs', '--transition', '30:GLACIER'])
    expect(noId.code).to.equal(2)
    expect(noId.stderr).to.contain('pass --rule-id ID')
    expect(bucket.puts).to.have.length(1)
  })

  it('show: none configured, then the rules in words; AccessDenied names the permission (exit 1)', async () => {
    const none = await runCmd(S3LifecycleShow, ['--bucket', 'my-backups', '--json'])
    expect(none.json.result).to.deep.include({bucket: 'my-backups', configured: false, rules: []})
    await runCmd(S3LifecycleApply, [...PRESET, '--yes'])
    const shown = await runCmd(S3LifecycleShow, ['--bucket', 'my-backups'])
    expect(shown.stdout).to.contain('objects: prefix hosts/pi/data/ and tag lifeboat-pack=data')
    expect(shown.stdout).to.contain('→ DEEP_ARCHIVE after 30 days')

    s3.on(GetBucketLifecycleConfigurationCommand).rejects(s3Error('AccessDenied', 403, 'Access Denied'))
    const denied = await runCmd(S3LifecycleShow, ['--bucket', 'my-backups'])
    expect(denied.code).to.equal(1)
    expect(denied.stderr).to.contain('GetBucketLifecycleConfiguration on bucket my-backups was denied: AccessDenied (HTTP 403)')
    expect(denied.stderr).to.contain('s3:GetLifecycleConfiguration on arn:aws:s3:::my-backups')
    expect(denied.stderr).not.to.match(/\n\s+at /)
  })

  it('remove: shows what goes, deletes after --yes and verifies; nothing to remove is not an error', async () => {
    const nothing = await runCmd(S3LifecycleRemove, ['--bucket', 'my-backups', '--yes'])
    expect(nothing.code).to.equal(0)
    expect(nothing.stdout).to.contain('nothing to remove')
    expect(bucket.deletes).to.equal(0)
    await runCmd(S3LifecycleApply, [...PRESET, '--yes'])
    const noYes = await runCmd(S3LifecycleRemove, ['--bucket', 'my-backups'])
    expect(noYes.code).to.equal(2)
    expect(bucket.deletes).to.equal(0)
    const r = await runCmd(S3LifecycleRemove, ['--bucket', 'my-backups', '--yes', '--json'])
    expect(r.code).to.equal(0)
    expect(r.json.result.removed).to.equal(true)
    expect(r.json.result.rules.map((x: any) => x.id)).to.deep.equal(['lifeboat-cold-data hosts/pi', 'lifeboat-abort-uploads hosts/pi'])
    expect(bucket.deletes).to.equal(1)
    expect(bucket.rules).to.equal(undefined)
  })

  it('usage errors: preset without --prefix, no rules at all, a bucket given as a URL (exit 2)', async () => {
    const a = await runCmd(S3LifecyclePlan, ['--bucket', 'my-backups', '--preset', 'backup-repo'])
    expect(a.code).to.equal(2)
    expect(a.stderr).to.contain('--prefix')
    const b = await runCmd(S3LifecyclePlan, ['--bucket', 'my-backups'])
    expect(b.code).to.equal(2)
    expect(b.stderr).to.contain('-f rules.yaml')
    const c = await runCmd(S3LifecyclePlan, ['--bucket', 's3://my-backups/x', '--preset', 'backup-repo', '--prefix', 'x'])
    expect(c.code).to.equal(2)
    expect(c.stderr).to.contain('--bucket my-backups')
    expect(s3.calls()).to.have.length(0)
  })
})
