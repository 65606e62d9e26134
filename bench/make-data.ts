/**
 * Builds the benchmark data set (deterministic, ≈1.2 GiB, ~45,000 files): a source tree of small text files,
 * binaries copied from this machine's /usr, random data, and large files (one half-compressible).
 * usage: tsx bench/make-data.ts DIR
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

const dir = process.argv[2]
if (!dir) {
  console.error('usage: make-data.ts DIR')
  process.exit(2)
}
if (fs.existsSync(path.join(dir, '.complete'))) {
  console.log(`${dir}: already built`)
  process.exit(0)
}
fs.rmSync(dir, {recursive: true, force: true})
fs.mkdirSync(dir, {recursive: true})

// Deterministic pseudo-random bytes (AES-CTR keystream of a fixed key).
function prng(seed: string, n: number): Buffer {
  const key = crypto.createHash('sha256').update(seed).digest()
  const c = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  return c.update(Buffer.alloc(n))
}

const words = 'const let function return if else for while import export from class interface type async await new this null undefined true false string number boolean buffer stream chunk index pack blob tree snapshot repository'.split(' ')
let total = 0
let files = 0

// 1. Source tree: 40,000 text files in 400 folders, 1–20 KiB each.
const rnd = prng('source', 40_000 * 8)
for (let i = 0; i < 40_000; i++) {
  const folder = path.join(dir, 'src', `pkg${String(i % 400).padStart(3, '0')}`, `mod${i % 7}`)
  if (i < 2800) fs.mkdirSync(folder, {recursive: true})
  const size = 1024 + (rnd.readUInt32LE(i * 8) % (19 * 1024))
  const lines: string[] = []
  let len = 0
  let j = rnd.readUInt32LE(i * 8 + 4)
  while (len < size) {
    const line = `${'  '.repeat(j % 4)}${words[j % words.length]} ${words[(j >> 5) % words.length]}_${i}_${len} = ${words[(j >> 9) % words.length]}(${j % 1000});`
    lines.push(line)
    len += line.length + 1
    j = (j * 1_103_515_245 + 12_345) >>> 0
  }
  const text = lines.join('\n') + '\n'
  fs.writeFileSync(path.join(folder, `file${i}.ts`), text)
  total += text.length
  files++
}

// 2. Binaries: copied from /usr/lib and /usr/bin until ~200 MiB.
let bin = 0
const binDir = path.join(dir, 'bin')
fs.mkdirSync(binDir)
for (const src of ['/usr/lib/x86_64-linux-gnu', '/usr/bin', '/usr/lib']) {
  if (!fs.existsSync(src)) continue
  for (const name of fs.readdirSync(src).sort()) {
    if (bin > 200 * 1024 * 1024) break
    const p = path.join(src, name)
    let st: fs.Stats
    try {
      st = fs.statSync(p)
    } catch {
      continue
    }
    if (!st.isFile() || st.size > 30 * 1024 * 1024) continue
    const dst = path.join(binDir, `${path.basename(src)}-${name}`)
    if (fs.existsSync(dst)) continue
    try {
      fs.copyFileSync(p, dst)
    } catch {
      continue
    }
    bin += st.size
    total += st.size
    files++
  }
}

// 3. Random data: 4,000 files of 16–64 KiB, and three 100 MiB files.
const randDir = path.join(dir, 'random')
fs.mkdirSync(randDir)
const small = prng('random-small', 4000 * 64 * 1024)
for (let i = 0; i < 4000; i++) {
  const size = 16 * 1024 + ((i * 7919) % (48 * 1024))
  fs.writeFileSync(path.join(randDir, `r${i}.bin`), small.subarray(i * 65_536, i * 65_536 + size))
  total += size
  files++
}
for (let i = 0; i < 3; i++) {
  const fd = fs.openSync(path.join(randDir, `big${i}.bin`), 'w')
  for (let k = 0; k < 25; k++) fs.writeSync(fd, prng(`big-${i}-${k}`, 4 * 1024 * 1024))
  fs.closeSync(fd)
  total += 100 * 1024 * 1024
  files++
}

// 4. Large files: a 256 MiB half-compressible file (random blocks alternating with text blocks).
const largeDir = path.join(dir, 'large')
fs.mkdirSync(largeDir)
const text = Buffer.from(Array.from({length: 20_000}, (_, i) => `log line ${i} level=info msg="request served" status=200\n`).join(''))
const fd = fs.openSync(path.join(largeDir, 'disk.img'), 'w')
for (let k = 0; k < 64; k++) {
  const block = k % 2 === 0 ? prng(`large-${k}`, 4 * 1024 * 1024) : Buffer.concat(Array.from({length: Math.ceil((4 * 1024 * 1024) / text.length)}, () => text)).subarray(0, 4 * 1024 * 1024)
  fs.writeSync(fd, block)
}
fs.closeSync(fd)
total += 256 * 1024 * 1024
files++

fs.writeFileSync(path.join(dir, '.complete'), `${files} files, ${total} bytes\n`)
console.log(`${dir}: ${files} files, ${(total / 1024 / 1024).toFixed(0)} MiB`)
