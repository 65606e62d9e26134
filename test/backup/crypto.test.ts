import {expect} from 'chai'

import {clampR, CRYPTO_OVERHEAD, newMasterKey, open, poly1305Aes, seal, sealInto, verify, type MasterKey} from '../../src/backup/crypto.js'
import {CryptoError, MacMismatchError} from '../../src/backup/errors.js'

const hex = (s: string) => Buffer.from(s, 'hex')

// Poly1305-AES vectors from D. J. Bernstein's paper, as used in restic's crypto tests.
const polyVectors = [
  {msg: 'f3f6', r: '851fc40c3467ac0be05cc20404f3f700', k: 'ec074c835580741701425b623235add6', nonce: 'fb447350c4e868c52ac3275cf9d4327e', mac: 'f4c633c3044fc145f84f335cb81953de'},
  {msg: '', r: 'a0f3080000f46400d0c7e9076c834403', k: '75deaa25c09f208e1dc4ce6b5cad3fbf', nonce: '61ee09218d29b0aaed7e154a2c5509cc', mac: 'dd3fab2251f11ac759f0887129cc2ee7'},
  {
    msg: '663cea190ffb83d89593f3f476b6bc24d7e679107ea26adb8caf6652d0656136',
    r: '48443d0bb0d21109c89a100b5ce2c208',
    k: '6acb5f61a7176dd320c5c1eb2edcdc74',
    nonce: 'ae212a553997295 95dea458bc621ff0e'.replace(' ', ''),
    mac: '0ee1c16bb73f0f4fd19881753c01cdbe',
  },
  {
    msg: 'ab0812724a7f1e342742cbed374d94d136c6b8795d45b3819830f2c04491faf0990c62e48b8018b2c3e4a0fa3134cb67fa83e158c994d961c4cb21095c1bf9',
    r: '12976a08c4426d0ce8a82407c4f48207',
    k: 'e1a5668a4d5b66a5f68cc5424ed5982d',
    nonce: '9ae831e743978d3a23527c7128149e3a',
    mac: '5154ad0d2cb26e01274fc51148491f1b',
  },
]

describe('backup/crypto', () => {
  it('computes the Poly1305-AES test vectors', () => {
    for (const v of polyVectors) {
      expect(poly1305Aes(hex(v.msg), hex(v.nonce), hex(v.k), hex(v.r)).toString('hex')).to.equal(v.mac)
    }
  })

  it('decrypts restic\'s known ciphertext vector', () => {
    const key: MasterKey = {
      encrypt: hex('303e8687b1d7db18421bdc6bb8588ccadac4d59ee87b8ff70c44e635790cafef'),
      macK: hex('ef4d8824cb80b2bcc5fbff8a9b12a42c'),
      macR: hex('cc8d4b948ee0ebfe1d415de921d10353'),
    }
    const ct = hex('69fb41c62d12def4593bd71757138606338f621aeaeb39da0fe4f99233f8037a54ea63338a813bcf3f75d8c3cc75dddf8750')
    expect(open(key, ct).toString()).to.equal('Dies ist ein Test!')
  })

  it('round-trips seal/open for empty, small and large messages', () => {
    const key = newMasterKey()
    for (const n of [0, 1, 15, 16, 17, 1000, 1 << 20]) {
      const msg = Buffer.alloc(n, 0x5a)
      const sealed = seal(key, msg)
      expect(sealed.length).to.equal(n + CRYPTO_OVERHEAD)
      expect(verify(key, sealed)).to.equal(true)
      expect(open(key, sealed).equals(msg)).to.equal(true)
    }
  })

  it('uses a fresh non-zero nonce each time', () => {
    const key = newMasterKey()
    const a = seal(key, Buffer.from('same'))
    const b = seal(key, Buffer.from('same'))
    expect(a.subarray(0, 16).equals(b.subarray(0, 16))).to.equal(false)
    expect(a.subarray(0, 16).equals(Buffer.alloc(16))).to.equal(false)
  })

  it('seals into a preallocated buffer at an offset', () => {
    const key = newMasterKey()
    const msg = Buffer.from('hello pack')
    const out = Buffer.alloc(100)
    const n = sealInto(key, msg, out, 7)
    expect(n).to.equal(msg.length + 32)
    expect(open(key, out.subarray(7, 7 + n)).toString()).to.equal('hello pack')
  })

  it('rejects a flipped byte anywhere (nonce, ciphertext, MAC) with MacMismatchError', () => {
    const key = newMasterKey()
    const sealed = seal(key, Buffer.from('important data'))
    for (const i of [0, 15, 16, 20, sealed.length - 8, sealed.length - 1]) {
      const bad = Buffer.from(sealed)
      bad[i] ^= 0x01
      expect(() => open(key, bad)).to.throw(MacMismatchError)
    }
  })

  it('rejects the wrong key and a too-short ciphertext', () => {
    const sealed = seal(newMasterKey(), Buffer.from('x'))
    expect(() => open(newMasterKey(), sealed)).to.throw(MacMismatchError)
    expect(() => open(newMasterKey(), Buffer.alloc(31))).to.throw(CryptoError)
  })

  it('clamps r as the format requires', () => {
    const r = clampR(Buffer.alloc(16, 0xff))
    expect(r.toString('hex')).to.equal('ffffff0ffcffff0ffcffff0ffcffff0f')
    // A key stored unclamped (restic ≥ 0.17) must still verify: clamping happens when computing the MAC.
    const key = newMasterKey()
    const sealed = seal(key, Buffer.from('abc'))
    const unclamped = {...key, macR: Buffer.from(key.macR)}
    unclamped.macR[3] |= 0xf0
    unclamped.macR[4] |= 0x03
    expect(open(unclamped, sealed).toString()).to.equal('abc')
  })
})
