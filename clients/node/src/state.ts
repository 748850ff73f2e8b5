// Shared state (protocol/API.md, "Shared state"): versioned entries in namespaces the config
// names. A version grows with every write of a key, also across a delete, so `ifVersion` is a
// compare-and-set safe against ABA; versions fit JavaScript's numbers.
import { Arg, Link } from './link';
import { asFields, asInt, intField, textField } from './replies';

/** `ttlMs` null: it does not expire. */
export interface StateEntry {
  value: string;
  version: number;
  ttlMs: number | null;
}

export interface StateSetOptions {
  ttlMs?: number;
  /** Write only if there is no entry (else Conflict). */
  ifAbsent?: boolean;
  /** Write only if the entry is at this version, 0: no entry (else Conflict, whose `version`
   *  is the winner's). */
  ifVersion?: number;
}

export function stateEntryFrom(reply: unknown): StateEntry | null {
  if (reply === null) return null;
  const fields = asFields(reply);
  const ttlMs = intField(fields, 'ttl_ms');
  return { value: textField(fields, 'value'), version: intField(fields, 'version'), ttlMs: ttlMs < 0 ? null : ttlMs };
}

export class StateCalls {
  constructor(private readonly link: Link) {}

  /** STATE GET: null when there is no entry. */
  get(namespace: string, key: string): Promise<StateEntry | null> {
    return this.link.call('STATE', 'GET', namespace, key).then(stateEntryFrom);
  }

  /** STATE SET; answers the new version. */
  async set(namespace: string, key: string, value: string | Buffer,
            options: StateSetOptions = {}): Promise<number> {
    if (options.ifAbsent && options.ifVersion !== undefined) {
      throw new TypeError('ifAbsent and ifVersion exclude each other');
    }
    const args: Arg[] = ['SET', namespace, key, value];
    if (options.ttlMs !== undefined) args.push('TTL', options.ttlMs);
    if (options.ifAbsent) args.push('IFABSENT');
    if (options.ifVersion !== undefined) args.push('IFVERSION', options.ifVersion);
    return asInt(await this.link.call('STATE', ...args));
  }

  /** STATE DEL: true when an entry was deleted; with `ifVersion` only that version. */
  async delete(namespace: string, key: string, options: { ifVersion?: number } = {}): Promise<boolean> {
    const args: Arg[] = ['DEL', namespace, key];
    if (options.ifVersion !== undefined) args.push('IFVERSION', options.ifVersion);
    return asInt(await this.link.call('STATE', ...args)) === 1;
  }
}
