import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {envelope, lifeboat} from '../helpers/cli.js'
import {removeTree, restic, tempDir, writePasswordFile, hasRestic} from './repo-helpers.js'

/** JSON lines of restic's --json output (diff prints one per line). */
function jsonLines(s: string): any[] {
  return s
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
}

describe('backup diff / find / stats against restic 0.14 @integration', function () {
  this.timeout(120_000)
  let dir: string
  let repo: string
  let src: string
  let pw: string
  let env: NodeJS.ProcessEnv
  let first: string
  let second: string
  const lb = async (...args: string[]) => {
    const r = await lifeboat([...args, '--json'], env)
    expect(r.code, r.stderr).to.equal(0)
    return envelope(r.stdout).result
  }
  const rs = async (...args: string[]) => (await restic(repo, pw, args)).stdout

  before(async function () {
    if (!hasRestic()) this.skip()
    dir = await tempDir('lb-dfs-')
    repo = path.join(dir, 'repo')
    src = path.join(dir, 'src')
    pw = await writePasswordFile(dir, 'diff-find-stats')
    env = {LIFEBOAT_PASSWORD: 'diff-find-stats', LIFEBOAT_REPOSITORY: repo, XDG_CONFIG_HOME: path.join(dir, 'c'), XDG_DATA_HOME: path.join(dir, 'd'), RESTIC_PASSWORD: '', RESTIC_REPOSITORY: ''}
    await rs('init')
    const w = (p: string, data: string | Buffer) => {
      fs.mkdirSync(path.dirname(path.join(src, p)), {recursive: true})
      fs.writeFileSync(path.join(src, p), data)
    }
    w('docs/a.txt', 'alpha\n')
    w('docs/b.tmp', 'temporary\n')
    w('docs/Readme.MD', 'read me\n')
    w('docs/deep/x/y.txt', 'deep\n')
    w('same/a.txt', 'alpha\n') // same content as docs/a.txt
    w('keep/big.bin', randomBytes(3 * 1024 * 1024)) // several chunks
    w('keep/text.log', 'log line\n'.repeat(50_000)) // compressible
    w('mode.sh', '#!/bin/sh\n')
    w('becomes-dir', 'file for now\n')
    w('gone/inner.txt', 'inner\n')
    fs.linkSync(path.join(src, 'mode.sh'), path.join(src, 'hardlink.sh'))
    fs.symlinkSync('docs/a.txt', path.join(src, 'link'))
    await rs('backup', src)
    // The changes: add, remove (file and dir), modify content, chmod, replace a file with a dir and a symlink with a file.
    w('added.txt', 'new\n')
    w('docs/new/sub.txt', 'sub\n')
    fs.rmSync(path.join(src, 'docs/b.tmp'))
    fs.rmSync(path.join(src, 'gone'), {recursive: true})
    w('docs/a.txt', 'alpha, changed\n')
    fs.chmodSync(path.join(src, 'mode.sh'), 0o755)
    fs.rmSync(path.join(src, 'becomes-dir'))
    w('becomes-dir/child.txt', 'child\n')
    fs.rmSync(path.join(src, 'link'))
    w('link', 'now a file\n')
    await rs('backup', src)
    const snaps = JSON.parse(await rs('snapshots', '--json')) as Array<{id: string; time: string}>
    snaps.sort((a, b) => Date.parse(a.time) - Date.parse(b.time))
    ;[first, second] = snaps.map((s) => s.id)
  })
  after(async () => {
    if (dir) await removeTree(dir)
  })

  describe('stats @integration', () => {
    for (const mode of ['restore-size', 'files-by-contents', 'blobs-per-file', 'raw-data']) {
      it(`--mode ${mode} matches restic stats, for all snapshots and for one`, async () => {
        // blobs-per-file over several snapshots depends on the order restic loads them (in parallel: any order),
        // since a content seen at two paths counts at the first; we go oldest first. So compare one at a time.
        for (const sel of mode === 'blobs-per-file' ? [[first.slice(0, 8)], ['latest']] : [[], [first.slice(0, 8)], ['latest']]) {
          const want = JSON.parse(await rs('stats', '--json', '--mode', mode, ...sel))
          const got = await lb('backup', 'stats', '--mode', mode, ...sel)
          expect(got.snapshots_count, `${mode} ${sel}`).to.equal(want.snapshots_count)
          expect(got.total_size, `${mode} ${sel}`).to.equal(want.total_size)
          expect(got.total_file_count, `${mode} ${sel}`).to.equal(want.total_file_count ?? 0)
          if (want.total_blob_count !== undefined) expect(got.total_blob_count, `${mode} ${sel}`).to.equal(want.total_blob_count)
        }
      })
    }

    it('restore-size is the default mode', async () => {
      const want = JSON.parse(await rs('stats', '--json'))
      const got = await lb('backup', 'stats')
      expect(got.mode).to.equal('restore-size')
      expect([got.total_size, got.total_file_count]).to.deep.equal([want.total_size, want.total_file_count])
    })

    it('raw-data reports compression and deduplication ratios that add up', async () => {
      const got = await lb('backup', 'stats', '--mode', 'raw-data')
      const restore = await lb('backup', 'stats', '--mode', 'restore-size')
      expect(got.restore_size).to.equal(restore.total_size)
      expect(got.total_uncompressed_size).to.be.greaterThan(got.total_size) // the log file compresses well
      expect(got.compression_ratio).to.be.greaterThan(1)
      expect(got.compression_space_saving).to.be.closeTo((1 - got.total_size / got.total_uncompressed_size) * 100, 1e-9)
      // Two snapshots of mostly the same files: the data is stored about once for two restores.
      expect(got.dedup_ratio).to.be.closeTo(got.restore_size / got.unique_data_size, 1e-9)
      expect(got.dedup_ratio).to.be.greaterThan(1.8)
      const human = await lifeboat(['backup', 'stats', '--mode', 'raw-data'], env)
      expect(human.stdout).to.match(/Compression Ratio:\s+\d+\.\d\dx/)
      expect(human.stdout).to.match(/Deduplication Ratio:\s+\d+\.\d\dx/)
    })
  })

  describe('diff @integration', () => {
    const key = (c: {path: string; modifier: string}) => `${c.modifier} ${c.path}`
    for (const metadata of [false, true]) {
      it(`lists the same changes and statistics as restic diff${metadata ? ' --metadata' : ''}`, async () => {
        const flag = metadata ? ['--metadata'] : []
        const lines = jsonLines(await rs('diff', '--json', ...flag, first.slice(0, 8), second.slice(0, 8)))
        const want = lines.filter((l) => l.message_type === 'change')
        const wantStats = lines.find((l) => l.message_type === 'statistics')
        const got = await lb('backup', 'diff', first.slice(0, 10), 'latest', ...flag)
        expect(got.changes.map(key)).to.deep.equal(want.map(key)) // same order, too
        expect(got.stats.added).to.deep.equal(wantStats.added)
        expect(got.stats.removed).to.deep.equal(wantStats.removed)
        expect(got.stats.changed_files).to.equal(wantStats.changed_files)
        expect(got.stats.source_snapshot).to.equal(first)
        expect(got.stats.target_snapshot).to.equal(second)
      })
    }

    it('names exactly the changes made between the snapshots', async () => {
      const got = await lb('backup', 'diff', first, second, '--metadata')
      const byPath = new Map<string, string>(got.changes.map((c: any) => [c.path.slice(src.length), c.modifier]))
      expect(byPath.get('/added.txt')).to.equal('+')
      expect(byPath.get('/docs/new/')).to.equal('+')
      expect(byPath.get('/docs/new/sub.txt')).to.equal('+')
      expect(byPath.get('/docs/b.tmp')).to.equal('-')
      expect(byPath.get('/gone/')).to.equal('-')
      expect(byPath.get('/gone/inner.txt')).to.equal('-')
      expect(byPath.get('/docs/a.txt')).to.equal('M')
      expect(byPath.get('/mode.sh')).to.equal('U')
      expect(byPath.get('/becomes-dir/')).to.match(/^T/)
      expect(byPath.get('/link')).to.match(/^T/)
      // Unchanged subtrees are skipped: nothing below keep/ or same/ is listed.
      expect([...byPath.keys()].some((p) => p.startsWith('/keep') || p.startsWith('/same'))).to.equal(false)
      // Without --metadata the chmod is not a change; a snapshot compared with itself has none.
      expect((await lb('backup', 'diff', first, second)).changes.map((c: any) => c.path)).not.to.include(path.join(src, 'mode.sh'))
      const same = await lb('backup', 'diff', second, second)
      expect(same.changes).to.deep.equal([])
      expect(same.stats.added.bytes + same.stats.removed.bytes).to.equal(0)
      const human = await lifeboat(['backup', 'diff', first, second], env)
      expect(human.stdout).to.match(/^M {4}\/.*\/docs\/a\.txt$/m)
      expect(human.stdout).to.match(/^Files: +2 new, +2 removed, +1 changed$/m)
    })
  })

  describe('find @integration', () => {
    const summary = (list: any[]) =>
      list
        .map((s) => `${s.snapshot}: ${s.matches.map((m: any) => `${m.path}:${m.type}:${m.size ?? 0}`).sort().join(' ')}`)
        .sort()
    for (const patterns of [['a.txt'], ['*.txt', '*.log'], ['docs'], ['docs/*.txt'], ['deep/**/y.txt'], ['*.md'], ['becomes-dir'], ['nothing-like-this']]) {
      it(`finds what restic find finds for ${patterns.join(' ')}`, async () => {
        const want = JSON.parse(await rs('find', '--json', ...patterns))
        const got = await lb('backup', 'find', ...patterns)
        expect(summary(got)).to.deep.equal(summary(want))
      })
    }

    it('--ignore-case, anchored patterns, --snapshot and the time window', async () => {
      const want = JSON.parse(await rs('find', '--json', '--ignore-case', '*.md'))
      const got = await lb('backup', 'find', '--ignore-case', '*.md')
      expect(summary(got)).to.deep.equal(summary(want))
      expect(got.flatMap((s: any) => s.matches.map((m: any) => m.path))).to.include(path.join(src, 'docs', 'Readme.MD'))
      const anchored = await lb('backup', 'find', `${src}/docs/*.txt`, '--snapshot', first.slice(0, 8))
      expect(anchored).to.have.length(1)
      expect(anchored[0].snapshot).to.equal(first)
      expect(anchored[0].matches.map((m: any) => m.path)).to.deep.equal([path.join(src, 'docs', 'a.txt')])
      expect(await lb('backup', 'find', '/docs/*.txt')).to.deep.equal([]) // anchored at the root: no match
      const m = anchored[0].matches[0]
      expect(m).to.include({type: 'file', size: 6})
      expect(Date.parse(m.mtime)).to.be.greaterThan(0)
      expect(await lb('backup', 'find', 'a.txt', '--newest', '2000-01-01')).to.deep.equal([])
      expect((await lb('backup', 'find', 'a.txt', '--oldest', '2000-01-01 00:00'))).to.have.length(2)
      const human = await lifeboat(['backup', 'find', 'added.txt'], env)
      expect(human.stdout).to.match(/Found 1 matching entry in snapshot [0-9a-f]{8}/)
      expect(human.stdout).to.contain(path.join(src, 'added.txt'))
    })
  })
})
