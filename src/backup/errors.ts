/**
 * Typed errors of the repository-format core. They extend the project's LifeboatError so the CLI maps
 * them to exit codes and a stable `code` in the JSON envelope.
 */
import {ExitCode, LifeboatError, type LifeboatErrorOptions} from '../errors.js'

type Opts = Omit<LifeboatErrorOptions, 'code'>

/** Authentication or decryption failed, or a ciphertext is malformed. */
export class CryptoError extends LifeboatError {
  constructor(message: string, opts: Opts & {code?: string} = {}) {
    super(message, {code: 'CRYPTO', ...opts})
  }
}

/** The Poly1305 MAC does not match: the data was modified, damaged, or the key is wrong. */
export class MacMismatchError extends CryptoError {
  constructor(message = 'ciphertext verification failed (MAC mismatch): the data is damaged or the key is wrong', opts: Opts = {}) {
    super(message, {code: 'MAC_MISMATCH', ...opts})
  }
}

/** No key file of the repository can be opened with the given password. */
export class WrongPasswordError extends LifeboatError {
  constructor(where?: string, opts: Opts = {}) {
    super('wrong password or no key found', {
      code: 'WRONG_PASSWORD',
      exitCode: ExitCode.FAILURE,
      where,
      hint: 'check RESTIC_PASSWORD / RESTIC_PASSWORD_FILE / LIFEBOAT_PASSWORD, or the password file',
      ...opts,
    })
  }
}

/** The location holds no repository (no config file). */
export class NoRepositoryError extends LifeboatError {
  constructor(where: string, opts: Opts = {}) {
    super(`no repository found at ${where} (there is no config file)`, {
      code: 'NO_REPOSITORY',
      where,
      hint: 'check the repository location, or create one with `lifeboat backup init`',
      ...opts,
    })
  }
}

/** A repository already exists where one is being created. */
export class RepositoryExistsError extends LifeboatError {
  constructor(where: string, opts: Opts = {}) {
    super(`a repository already exists at ${where}`, {code: 'REPOSITORY_EXISTS', where, ...opts})
  }
}

/** A file is missing from the backend. */
export class NotFoundError extends LifeboatError {
  constructor(what: string, where?: string, opts: Opts = {}) {
    super(`${what} not found${where ? ` in ${where}` : ''}`, {code: 'NOT_FOUND', where, ...opts})
  }
}

/** A repository file has an invalid structure (pack header, index, unpacked file, config). */
export class FormatError extends LifeboatError {
  constructor(message: string, opts: Opts = {}) {
    super(message, {code: 'INVALID_FORMAT', ...opts})
  }
}

/** A blob's plaintext does not hash to its ID. */
export class BlobCorruptError extends LifeboatError {
  constructor(message: string, opts: Opts = {}) {
    super(message, {code: 'BLOB_CORRUPT', ...opts})
  }
}

/** Another process holds a conflicting lock. */
export class LockConflictError extends LifeboatError {
  constructor(message: string, opts: Opts = {}) {
    super(message, {
      code: 'LOCKED',
      hint: 'wait for the other process to finish; if it is gone, run `lifeboat backup unlock`',
      ...opts,
    })
  }
}

/** A snapshot prefix matched none, or more than one, snapshot. */
export class SnapshotNotFoundError extends LifeboatError {
  constructor(message: string, opts: Opts = {}) {
    super(message, {code: 'SNAPSHOT_NOT_FOUND', ...opts})
  }
}

export class AmbiguousIdError extends LifeboatError {
  constructor(message: string, opts: Opts = {}) {
    super(message, {code: 'AMBIGUOUS_ID', exitCode: ExitCode.USAGE, ...opts})
  }
}

/** Refused: removing the key the repository is open with. */
export class KeyInUseError extends LifeboatError {
  constructor(message: string, opts: Opts = {}) {
    super(message, {
      code: 'KEY_IN_USE',
      exitCode: ExitCode.USAGE,
      hint: 'open the repository with another password to remove this key, or use `lifeboat backup key passwd`',
      ...opts,
    })
  }
}
